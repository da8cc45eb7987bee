"""A database that is down or full: recording never fails the delivery path, the writer logs one line, keeps
what it can, catches up when the database is back, and says what it could not keep.

PostgreSQL goes down for real: the service reaches it through a TCP relay on loopback that the test cuts
(every connection closed, new ones refused) and restores. SQLite fills up for real: ``max_page_count``
caps the file, and SQLite answers "database or disk is full".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from roomchat.storage.config import HistoryConfig, StorageConfig
from roomchat.storage.database import Database, open_database
from roomchat.storage.history import History
from roomchat.storage.ids import format_id

pytestmark = pytest.mark.anyio
ANN, BOB = 31, 32
WAIT = 30.0  # a bound on waiting for the writer, not a timing claim


class Relay:
    """A TCP relay 127.0.0.1:<port> -> PostgreSQL that the test can cut and restore."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)

    async def cut(self) -> None:
        """The database is gone: close every connection, accept none."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def restore(self) -> None:
        """The database is back, at the same address."""
        await self.start()


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    relay = Relay()
    await relay.start()
    yield relay
    if relay._server is not None:
        relay._server.close()
    for writer in list(relay._writers):
        writer.transport.abort()


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == name]


async def until(condition: object, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.02)


def send(history: History, value: object) -> bool:
    return history.record("lobby", history.assign(), ANN, None, "text", value, 1_800_000_000_000)


async def test_postgresql_down_then_back(pg_url: str, relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="roomchat.storage")
    url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    db = await open_database(url)
    settings = StorageConfig(batch_window=0.01, queue_max=30)
    history = History(db, settings, lambda room: HistoryConfig())
    await history.start()
    try:
        assert send(history, "before")
        await until(lambda: history.writer.queued == 0, "the first commit")
        first = format_id(history.allocator.last)

        await relay.cut()
        kept = [send(history, i) for i in range(40)]  # delivery goes on; 30 fit in the queue
        assert kept == [True] * 30 + [False] * 10
        await until(lambda: events(caplog, "history_store_down"), "history_store_down")
        failed = history.writer.failed_attempts
        await until(lambda: history.writer.failed_attempts >= failed + 3, "three more failed attempts")
        assert len(events(caplog, "history_store_down")) == 1
        assert len(events(caplog, "history_not_kept")) == 1

        page = await history.since("lobby", BOB, first)  # the database cannot answer: what is pending does
        assert [m["message"]["value"] for m in page.messages] == list(range(30)) and page.complete is False
        assert len(events(caplog, "history_read_failed")) == 1

        await relay.restore()
        await until(lambda: history.writer.queued == 0, "the catch-up")
        up = events(caplog, "history_store_up")
        assert len(up) == 1 and up[0].fields["kept"] == 30 and up[0].fields["not_kept"] == 10  # type: ignore[attr-defined]
        assert send(history, "after")
        await until(lambda: history.writer.queued == 0, "the next commit")
        page = await history.since("lobby", BOB, first)
        assert [m["message"]["value"] for m in page.messages] == [*range(30), "after"]
        assert page.complete is False  # ten messages of this stretch were not kept, and a reader is told
        latest = format_id(history.allocator.last)
        assert (await history.since("lobby", BOB, latest)).complete is True
    finally:
        await history.stop(timeout=1)
        await db.close()


async def test_sqlite_full_then_room_again(tmp_path: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="roomchat.storage")
    db = await open_database(f"sqlite+aiosqlite:///{tmp_path}/full.sqlite3")
    history = History(db, StorageConfig(batch_window=0.01), lambda room: HistoryConfig(keep=None, max_age=None))
    await history.start()
    try:
        pages = await _scalar(db, "PRAGMA page_count")
        await _scalar(db, f"PRAGMA max_page_count = {pages}")  # not one page more
        for i in range(200):
            assert send(history, "x" * 500 + str(i))
        await until(lambda: events(caplog, "history_store_down"), "history_store_down")
        down = events(caplog, "history_store_down")[0]
        assert "is full" in down.fields["reason"]  # type: ignore[attr-defined]
        assert history.writer.queued == 200

        await _scalar(db, "PRAGMA max_page_count = 1000000")
        await until(lambda: history.writer.queued == 0, "the catch-up")
        assert events(caplog, "history_store_up")[0].fields["kept"] == 200  # type: ignore[attr-defined]
        assert len((await history.latest("lobby", BOB, 500)).messages) == 200
    finally:
        await history.stop(timeout=1)
        await db.close()


async def _scalar(db: Database, sql: str) -> object:
    async with db.transaction(readonly=True) as conn:
        return (await conn.execute(text(sql))).scalar()
