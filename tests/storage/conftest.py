"""Fixtures of the storage tests: real SQLite files, the real PostgreSQL, a real Redis. No mocks.

- ``db_url`` runs a test once on SQLite (a fresh file in the test's tmp_path)
  and once on PostgreSQL (127.0.0.1:5432: a database of this pytest process,
  ``roomchat_test_<random>``, created on first use, emptied before each test,
  dropped at the end), so xdist workers never share one;
- ``redis_url`` is a redis-server of this pytest process on a free port (the
  one at 127.0.0.1:6379 when the binary is missing), and ``redis_prefix`` a key
  prefix of the test's own; its keys are deleted after the test.

The async tests run on asyncio through anyio's pytest plugin (``pytestmark = pytest.mark.anyio``).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pgkit import _emptied, pg_database, pg_url  # noqa: F401  (fixtures)

from roomchat.storage.database import Database, open_database
from roomchat.testing import free_port

HERE = Path(__file__).parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A driver URL of an empty, migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'roomchat.sqlite3'}"
    return _emptied(request.getfixturevalue("pg_database"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """The opened, migrated database of ``db_url``."""
    database = await open_database(db_url)
    yield database
    await database.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server of this pytest process (no persistence), or the machine's at 6379."""
    if shutil.which("redis-server") is None:
        yield "redis://127.0.0.1:6379/0"
        return
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.skip("redis-server did not start")
            time.sleep(0.05)
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    import redis

    prefix = f"rctest-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()
