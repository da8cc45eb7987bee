"""The machine's PostgreSQL for tests (127.0.0.1:5432, trust auth): a database of this pytest process.

``pg_database`` (session) creates ``roomchat_test_<random>`` on first use, migrates it, and drops it
at the end, so xdist workers never share one; ``pg_url`` empties it for one test. Imported as
fixtures by tests/storage/conftest.py and tests/cluster/conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from roomchat.storage.database import open_database
from roomchat.storage.schema import metadata

PG_HOST = os.environ.get("ROOMCHAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{PG_HOST}/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this pytest process (migrated), dropped at the end; its driver URL."""
    name = f"roomchat_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, ConnectionError) as exc:
        pytest.skip(f"no PostgreSQL at {PG_HOST}: {exc}")
    url = f"{PG_HOST.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"

    async def migrate() -> None:
        db = await open_database(url)
        await db.close()

    asyncio.run(migrate())
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _emptied(url: str) -> str:
    async def empty() -> None:
        from sqlalchemy import text

        db = await open_database(url, migrate=False)
        async with db.transaction() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)}"))
        await db.close()

    asyncio.run(empty())
    return url


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The PostgreSQL database, emptied: what the servers of a cluster share."""
    return _emptied(pg_database)
