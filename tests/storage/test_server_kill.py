"""What an ack promises, through a real server killed under load (docs/storage.md, "What an ack promises").

Three senders broadcast numbered messages with acks as fast as the server answers; ``roomchat serve``
logs each commit (``history_committed``, at debug); the test kills it with SIGKILL and reads the database:

- every message acked with an id up to the last commit the server reported is there;
- what is there is exactly what was delivered: each sender's messages are a prefix of what it sent, in
  order, and no acked message is missing below the highest id kept (no hole): a kill loses only the
  newest messages, those of the last batch window;
- a server started again on the same database serves that history and gives ids above it.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from chatkit import start_server
from historykit import config_with
from sqlalchemy import text
from test_server_data import until

from roomchat.storage.config import driver_url
from roomchat.storage.database import open_database
from roomchat.testing import ChatClient, RoomchatProcess

ROOM = "load"


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


class LoadSender(threading.Thread):
    """Broadcasts ``{"n": 0, 1, ...}`` with acks until its connection goes (the server is killed)."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__(daemon=True)
        self.client = ChatClient(url, room=ROOM, name=name, timeout=10)
        self.acked: list[dict[str, Any]] = []

    def run(self) -> None:
        for n in range(1_000_000):
            try:
                ack = self.client.broadcast("x-seq", {"n": n})
            except Exception:  # noqa: BLE001 - the server was killed mid-call
                return
            if ack.get("msg") != "Message sent":
                return
            self.acked.append(ack["data"])


async def kept(url: str) -> list[tuple[int, int, Any]]:
    """(id, sender, value) of every message of the room in the database, by id."""
    db = await open_database(url, migrate=False)
    try:
        async with db.transaction(readonly=True) as conn:
            rows = await conn.execute(text("SELECT seq, sender, value FROM messages WHERE room = :room ORDER BY seq"),
                                      {"room": ROOM})
            return [(row.seq, row.sender, json.loads(row.value)) for row in rows]
    finally:
        await db.close()


def reported_commits(server: RoomchatProcess) -> list[int]:
    return [int(found) for found in re.findall(r"event=history_committed .*through=(\d+)", server.log())]


def test_a_kill_9_under_load_loses_only_the_last_batch_window(tmp_path: Path, storage_url: str | None) -> None:
    config = config_with(storage_url)
    server = start_server(config, tmp_path, args=["--log-level", "debug"])
    url = driver_url(storage_url or "sqlite:///data/roomchat.sqlite3", tmp_path)
    senders = [LoadSender(server.url, f"S{i}") for i in range(3)]
    try:
        for sender in senders:
            sender.start()
        until("a few commits under load", lambda: len(reported_commits(server)) >= 8
              and all(len(s.acked) >= 50 for s in senders), timeout=60)
        server.kill()
        for sender in senders:
            sender.join(30)
    finally:
        for sender in senders:
            sender.client.close()
    last_commit = max(reported_commits(server))
    rows = asyncio.run(kept(url))
    assert rows, "nothing was kept"
    highest = rows[-1][0]
    kept_ids = {seq for seq, _, _ in rows}
    for sender in senders:
        ids = [int(a["id"]) for a in sender.acked]
        assert ids == sorted(ids)
        mine = [value["n"] for seq, who, value in rows if who == sender.client.id]
        assert mine == list(range(len(mine))), f"{sender.client.me['name']}: not a prefix of what it sent"
        assert len(mine) >= len([i for i in ids if i <= last_commit])  # every ack up to the last commit is kept
        assert all(i in kept_ids for i in ids if i <= highest), "an acked message is missing below the newest kept"
        by_id = {seq: value for seq, _, value in rows}
        for ack in sender.acked[:len(mine)]:  # kept exactly as delivered
            assert by_id[int(ack["id"])] == ack["message"]["value"]

    again = RoomchatProcess(server.config_path, port=server.port, env=server.env).start()
    try:
        with ChatClient(again.url, auth={"room": ROOM, "name": "After", "history": 5}) as after:
            messages = after.first("history")["data"]["messages"]
            assert [int(m["id"]) for m in messages] == [seq for seq, _, _ in rows[-5:]]
            assert int(after.broadcast("text", "next")["data"]["id"]) > highest
    finally:
        again.stop()
