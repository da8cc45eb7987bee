"""The data owners' side of history through a running server, on SQLite and PostgreSQL: retention applied
without a restart, ``roomchat purge`` while the server holds the user's messages uncommitted, and
``roomchat export`` of a room the server served.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from historykit import serve, texts

from roomchat.testing import ChatClient, RoomchatProcess

ROOMS = {
    "short": {"admit": ["users", "guests"], "rate_limit": None, "history": {"keep": 3, "max_age": None}},
    "brief": {"admit": ["users", "guests"], "rate_limit": None, "history": {"keep": None, "max_age": "1s"}},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    """None: the default SQLite file beside the config; else this test's (emptied) PostgreSQL database."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


@pytest.fixture
def server(tmp_path: Path, storage_url: str | None) -> Iterator[RoomchatProcess]:
    running = serve(tmp_path, storage_url, ROOMS, sweep_seconds=0.2)
    yield running
    running.stop()


def command(server: RoomchatProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roomchat", *args, "--config", str(server.config_path)],
                          check=False, capture_output=True, text=True, timeout=60, env=server.env)


def page(client: ChatClient, **asked: Any) -> dict[str, Any]:
    return client.call("get-history", asked)["data"]


def until(what: str, check: Any, timeout: float = 20.0) -> Any:
    """Wait until ``check()`` returns something true (a bound on waiting, not a timing claim); return it."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_retention_by_count_is_applied_without_a_restart(server: RoomchatProcess) -> None:
    with ChatClient(server.url, room="short", name="Ann") as ann:
        acks = [ann.broadcast("text", f"m{i}")["data"] for i in range(6)]
        until("the sweep", lambda: texts(page(ann)["messages"]) == ["m3", "m4", "m5"])
        assert page(ann)["complete"] is True  # nothing older remains: complete says so
        with ChatClient(server.url, auth={"room": "short", "name": "Bob", "since": acks[0]["id"]}) as bob:
            data = bob.first("history")["data"]
            assert texts(data["messages"]) == ["m3", "m4", "m5"] and data["complete"] is False  # m1, m2 are gone


def test_retention_by_age_is_applied_without_a_restart(server: RoomchatProcess) -> None:
    with ChatClient(server.url, room="brief", name="Ann") as ann:
        ann.broadcast("text", "soon gone")
        until("the sweep of messages older than a second", lambda: page(ann)["messages"] == [])


def test_purge_while_the_server_holds_the_users_messages(tmp_path: Path, storage_url: str | None) -> None:
    """``roomchat purge`` runs while the server still queues Ann's messages (a 5 s batch window): no reader
    sees them, and the server's next commit does not bring them back."""
    running = serve(tmp_path, storage_url, batch_window=5)
    try:
        with (ChatClient(running.url, room="purged", name="Ann") as ann,
              ChatClient(running.url, room="purged", name="Bob") as bob):
            ann.broadcast("text", "ann 1")
            bob.broadcast("text", "bob 1")
            ann.send(bob.id, "text", "ann to bob")
            bob.send(ann.id, "text", "bob to ann")
            done = command(running, "purge", "--user", str(ann.id))
            assert done.returncode == 0, done.stderr
            assert texts(page(bob)["messages"]) == ["bob 1"]
            bob.broadcast("text", "bob 2")
            after = ann.broadcast("text", "ann 2")["data"]  # a purge is not a ban: later messages are history
            assert texts(page(bob)["messages"]) == ["bob 1", "bob 2", "ann 2"]
        assert running.stop() in (0, -15)  # the shutdown commits the queue
        running = RoomchatProcess(running.config_path, port=running.port, env=running.env).start()
        with ChatClient(running.url, auth={"room": "purged", "name": "Cy", "history": 10}) as cy:
            assert texts(cy.first("history")["data"]["messages"]) == ["bob 1", "bob 2", "ann 2"]
            assert cy.first("history")["data"]["messages"][-1]["id"] == after["id"]
    finally:
        running.stop()


def test_export_of_a_room_the_server_served(server: RoomchatProcess, tmp_path: Path) -> None:
    with ChatClient(server.url, room="exported", name="Ann") as ann, \
            ChatClient(server.url, room="exported", name="Bob") as bob:
        sent = [ann.broadcast("text", "hello")["data"], ann.send(bob.id, "text", "just you")["data"]]
        out = tmp_path / "exported.jsonl"

        def exported() -> list[dict[str, Any]]:
            done = command(server, "export", "--room", "exported", "--out", str(out))
            assert done.returncode == 0, done.stderr
            lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
            return lines if len(lines) == 2 else []

        lines = until("the server's commit", exported)
    assert lines == [
        {"room": "exported", "id": sent[0]["id"], "from": ann.id, "to": None, "type": "text", "value": "hello",
         "time": sent[0]["time"]},
        {"room": "exported", "id": sent[1]["id"], "from": ann.id, "to": bob.id, "type": "text", "value": "just you",
         "time": sent[1]["time"]},
    ]
