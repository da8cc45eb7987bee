"""The one schema of SQLite and PostgreSQL, as SQLAlchemy Core tables.

The migrations (``migrations/versions``) create exactly these tables; a test
compares them (tests/storage/test_migrations.py), so a change here needs a new
migration.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, MetaData, PrimaryKeyConstraint, Table, Text

metadata = MetaData()

messages = Table(
    "messages", metadata,
    Column("room", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),     # the message id as a number (roomchat.storage.ids)
    Column("sender", BigInteger, nullable=False),  # 0: the room itself
    Column("target", BigInteger, nullable=True),   # a direct message's addressee; NULL for a broadcast
    Column("type", Text, nullable=False),
    Column("value", Text, nullable=False),         # the value as delivered, as JSON
    Column("time", BigInteger, nullable=False),    # ms since 1970, as delivered
    PrimaryKeyConstraint("room", "seq", name="pk_messages"),
)

rooms = Table(
    "rooms", metadata,
    Column("name", Text, nullable=False),
    # The highest id of this room that retention removed or that was never kept: a `since` at or
    # below it cannot be answered completely.
    Column("gone_through", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("name", name="pk_rooms"),
)

purges = Table(
    "purges", metadata,
    Column("user_id", BigInteger, nullable=False),
    Column("through_seq", BigInteger, nullable=False),  # every message of the user up to this id is gone
    PrimaryKeyConstraint("user_id", name="pk_purges"),
)

counters = Table(
    "counters", metadata,
    Column("name", Text, nullable=False),  # guest_ids, guest_count, message_seq
    Column("value", BigInteger, nullable=False),
    PrimaryKeyConstraint("name", name="pk_counters"),
)

kv = Table(
    "kv", metadata,
    Column("key", Text, nullable=False),
    Column("kind", Text, nullable=False),               # "value" or "hash"
    Column("value", Text, nullable=True),               # JSON; NULL for a hash (its fields are in kv_fields)
    Column("expires_at", Float, nullable=True),         # seconds since 1970 on the server's clock; NULL: never
    PrimaryKeyConstraint("key", name="pk_kv"),
)

kv_fields = Table(
    "kv_fields", metadata,
    Column("key", Text, nullable=False),
    Column("field", Text, nullable=False),
    Column("value", Text, nullable=False),              # JSON
    PrimaryKeyConstraint("key", "field", name="pk_kv_fields"),
)
