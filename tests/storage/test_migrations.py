"""The schema: migrations bring an empty database to the tables of roomchat.storage.schema, on SQLite and on
PostgreSQL, run again harmlessly, and refuse a database a newer roomchat migrated.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from roomchat.storage.config import DEFAULT_URL, driver_url, sqlite_file
from roomchat.storage.database import VERSION_TABLE, Database, head_revision, open_database
from roomchat.storage.errors import StorageError, StorageUnavailable
from roomchat.storage.schema import metadata

pytestmark = pytest.mark.anyio


def _differences(sync_conn: object) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(sync_conn, opts={"version_table": VERSION_TABLE})
    return compare_metadata(context, metadata)


async def test_migrations_build_exactly_the_schema(db: Database) -> None:
    assert await db.revision() == head_revision()
    async with db.transaction(readonly=True) as conn:
        assert await conn.run_sync(_differences) == []


async def test_running_them_again_changes_nothing(db: Database) -> None:
    assert await db.upgrade() == (head_revision(), head_revision())


async def test_a_database_migrated_by_a_newer_roomchat_is_refused_clearly(db_url: str) -> None:
    db = await open_database(db_url)
    async with db.transaction() as conn:
        await conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'from-the-future'"))
    try:
        with pytest.raises(StorageError, match="from-the-future.*newer roomchat"):
            await open_database(db_url)
    finally:  # PostgreSQL's database is this pytest process's: leave it at this roomchat's revision
        async with db.transaction() as conn:
            await conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :head"), {"head": head_revision()})
        await db.close()


async def test_an_unreachable_database_is_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailable, match="127.0.0.1:1/"):
        await open_database("postgresql+asyncpg://postgres@127.0.0.1:1/none")


def test_the_default_is_an_sqlite_file_beside_the_config(tmp_path: object) -> None:
    url = driver_url(DEFAULT_URL, "/srv/chat")
    assert url == "sqlite+aiosqlite:////srv/chat/data/roomchat.sqlite3"
    assert str(sqlite_file(url)) == "/srv/chat/data/roomchat.sqlite3"
    assert driver_url("sqlite:////var/lib/rc.db", "/srv/chat") == "sqlite+aiosqlite:////var/lib/rc.db"
    assert driver_url("postgresql://u@h:5432/db") == "postgresql+asyncpg://u@h:5432/db"
    assert driver_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"


async def test_a_new_sqlite_file_and_its_folder_are_created(tmp_path: object) -> None:
    from pathlib import Path

    file = Path(str(tmp_path)) / "deep" / "er" / "chat.sqlite3"
    db = await open_database(f"sqlite+aiosqlite:///{file}")
    try:
        assert file.is_file() and await db.revision() == head_revision()
    finally:
        await db.close()
