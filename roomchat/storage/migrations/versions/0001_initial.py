"""The first schema: messages, rooms, purges, counters, kv, kv_fields.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table of roomchat.storage.schema."""
    op.create_table(
        "messages",
        sa.Column("room", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("sender", sa.BigInteger, nullable=False),
        sa.Column("target", sa.BigInteger, nullable=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("room", "seq", name="pk_messages"),
    )
    op.create_table(
        "rooms",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("gone_through", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name", name="pk_rooms"),
    )
    op.create_table(
        "purges",
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("through_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_purges"),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_counters"),
    )
    op.create_table(
        "kv",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_kv"),
    )
    op.create_table(
        "kv_fields",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", "field", name="pk_kv_fields"),
    )


def downgrade() -> None:
    """Drop them all (history and state are lost)."""
    for table in ("kv_fields", "kv", "counters", "purges", "rooms", "messages"):
        op.drop_table(table)
