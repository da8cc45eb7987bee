"""PostgreSQL going away under a running ``roomchat serve`` (tests/storage/test_outage.py covers the engine).

The server reaches PostgreSQL through a TCP relay of the test's (on loopback) that the test cuts and
restores. While it is cut: live messages keep flowing and every ack says ``Message sent``; the server
logs one ``history_store_down`` line; a join's history holds what is not committed yet, with
``complete: false``. When it is back: one ``history_store_up`` line saying how many were kept, and the
history has every message, in order.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from historykit import serve, texts
from pgkit import PG_HOST
from sqlalchemy import text
from test_outage import Relay
from test_server_data import until

from roomchat.storage.database import open_database
from roomchat.testing import ChatClient, RoomchatProcess


class ThreadedRelay:
    """test_outage's Relay on an event loop of its own, in a thread, for a server in another process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.relay = Relay()
        self.run(self.relay.start())

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def cut(self) -> None:
        self.run(self.relay.cut())

    def restore(self) -> None:
        self.run(self.relay.restore())

    def close(self) -> None:
        if self.relay._server is not None:
            self.run(self.relay.cut())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def relay() -> Iterator[ThreadedRelay]:
    relay = ThreadedRelay()
    yield relay
    relay.close()


def committed(url: str) -> list[str]:
    """The values of the messages the database holds (read by the test itself, not through the relay)."""
    async def read() -> list[str]:
        db = await open_database(url, migrate=False)
        try:
            async with db.transaction(readonly=True) as conn:
                return [row.value for row in await conn.execute(text("SELECT value FROM messages ORDER BY seq"))]
        finally:
            await db.close()

    return asyncio.run(read())


def lines(server: RoomchatProcess, name: str) -> list[str]:
    return [line for line in server.log().splitlines() if f"event={name} " in line]


def test_postgresql_down_under_a_running_server(tmp_path: Path, pg_url: str, relay: ThreadedRelay) -> None:
    database = pg_url.rsplit("/", 1)[1]
    user_host = PG_HOST.split("://", 1)[1].rsplit(":", 1)[0]  # postgres@127.0.0.1
    server = serve(tmp_path, f"postgresql://{user_host}:{relay.relay.port}/{database}")
    try:
        with (ChatClient(server.url, room="down", name="Ann") as ann,
              ChatClient(server.url, room="down", name="Bob") as bob):
            ann.broadcast("text", "before")
            until("the first commit", lambda: committed(pg_url) == ['"before"'])
            relay.cut()
            for i in range(5):
                ack = ann.broadcast("text", f"during {i}")
                assert ack["msg"] == "Message sent", ack  # live messages keep flowing
            bob.wait_message(lambda m: m["message"]["value"] == "during 4")
            until("the writer to notice", lambda: lines(server, "history_store_down"))
            with ChatClient(server.url, auth={"room": "down", "name": "Cy", "history": 10}) as cy:
                data = cy.first("history")["data"]
                # what is not committed yet is there; what the database holds cannot be read: incomplete
                assert texts(data["messages"]) == [f"during {i}" for i in range(5)] and data["complete"] is False
            until("the read's failure to be logged", lambda: lines(server, "history_read_failed"))
            ann.broadcast("text", "still down")
            relay.restore()
            up = until("the writer to catch up", lambda: lines(server, "history_store_up"))
            assert "kept=6" in up[0] and "not_kept=0" in up[0]
            assert len(lines(server, "history_store_down")) == 1  # one line for the whole outage
            expected = ["before", *(f"during {i}" for i in range(5)), "still down"]
            until("every message in history", lambda: texts(bob.call("get-history", {})["data"]["messages"])
                  == expected)
            assert bob.call("get-history", {})["data"]["complete"] is True
    finally:
        server.stop()
