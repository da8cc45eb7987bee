"""Alembic's environment: roomchat runs migrations on a connection it opened (roomchat.storage.database).

``render_as_batch`` makes Alembic rebuild SQLite tables for the ALTERs SQLite lacks, so one
migration serves both databases.
"""

from alembic import context

from roomchat.storage.database import VERSION_TABLE
from roomchat.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  version_table=VERSION_TABLE, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
