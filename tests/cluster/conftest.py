"""Fixtures of the cluster tests (the helpers live in cluster_kit.py)."""

from cluster_kit import cluster, redis_server, shared_cluster  # noqa: F401  (fixtures)
