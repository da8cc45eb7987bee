"""Fixtures of the cluster tests (the helpers live in cluster_kit.py); every test here is marked ``redis``."""

from pathlib import Path

import pytest
from cluster_kit import cluster, redis_server, shared_cluster  # noqa: F401  (fixtures)
from pgkit import pg_database, pg_url  # noqa: F401  (fixtures: the cluster's shared PostgreSQL)

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``redis``, so ``-m "not redis"`` leaves them out."""
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.redis)
