"""roomchat's storage engine: history, guest IDs and durable plugin state in SQLite or PostgreSQL.

docs/storage.md describes it for operators. The modules, bottom up:
``config`` (the ``storage`` and ``history`` settings; importable without SQLAlchemy), ``errors``,
``schema`` and ``migrations`` (one schema for both databases, Alembic), ``database`` (the engine,
start-up migrations, error translation), ``ids`` (message ids), ``records`` (a delivered message as
kept), ``store`` (the history's SQL), ``writer`` (group commit off the delivery path), ``history``
(the service one server uses: record, read, retention, purge, export), ``redislog`` (a cluster's
ids and recent-messages tail in Redis), ``guests`` (guest IDs never reused), ``kv`` (the durable
key-value store).

This package imports nothing heavy on import: ``roomchat.config`` reads ``storage.config``.
"""
