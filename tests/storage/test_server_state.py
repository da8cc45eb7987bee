"""State that outlives a restart of a real server, on SQLite and on PostgreSQL.

``roomchat serve`` is stopped (SIGTERM) and started again on the same config and
database: a teacher's ban, mute and lock mean the same afterwards, a poll keeps
its votes, the history is still there, and a guest ID given before is never
given again, even when the new server's guest IDs would start lower.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chatkit import STU, TESS, start_server, sync, token_of
from historykit import config_with, serve, texts

from roomchat.testing import ChatClient, JoinRefused, RoomchatProcess


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    """None: the default SQLite file beside the config; else this test's (emptied) PostgreSQL database."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


class Restartable:
    """A server that can be stopped and started again on the same config and database."""

    def __init__(self, tmp: Path, storage_url: str | None, **storage: Any) -> None:
        self.server = serve(tmp, storage_url, **storage)
        self.clients: list[ChatClient] = []

    @property
    def url(self) -> str:
        return self.server.url

    def join(self, room: str, **auth: Any) -> ChatClient:
        client = ChatClient(self.url, auth={"room": room, **auth})
        self.clients.append(client)
        return client

    def restart(self) -> None:
        for client in self.clients:
            client.close()
        self.clients = []
        assert self.server.stop() in (0, -15)  # uvicorn re-raises SIGTERM once it has shut down
        self.server = RoomchatProcess(self.server.config_path, port=self.server.port,
                                      env=self.server.env).start()

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()


@pytest.fixture
def running(tmp_path: Path, storage_url: str | None) -> Iterator[Restartable]:
    server = Restartable(tmp_path, storage_url)
    yield server
    server.close()


def moderate(client: ChatClient, action: str, user: int | None = None, **extra: Any) -> dict[str, Any]:
    value = {"action": action, **({"user": user} if user is not None else {}), **extra}
    ack = client.broadcast("moderation", value)
    assert ack["msg"] == "Message sent", ack
    return ack


def test_a_ban_a_mute_and_a_lock_outlive_a_restart(running: Restartable) -> None:
    tess = running.join("banned-room", token=token_of(TESS))
    stu = running.join("banned-room", token=token_of(STU))
    moderate(tess, "ban", STU, seconds=600, reason="spam")
    stu.wait_for("disconnect")
    tess_b = running.join("muted-room", token=token_of(TESS))
    running.join("muted-room", token=token_of(STU))
    moderate(tess_b, "mute", STU, seconds=600)
    tess_c = running.join("locked-room", token=token_of(TESS))
    moderate(tess_c, "lock", reason="exam")
    with pytest.raises(JoinRefused) as before:
        ChatClient(running.url, room="banned-room", token=token_of(STU))
    running.restart()

    with pytest.raises(JoinRefused) as after:
        ChatClient(running.url, room="banned-room", token=token_of(STU))
    assert after.value.code == "banned" and after.value.data["until"] == before.value.data["until"]
    muted = running.join("muted-room", token=token_of(STU))
    assert muted.broadcast("text", "hello?")["data"]["code"] == "muted"
    locked = running.join("locked-room", name="Lou")
    assert locked.broadcast("text", "hello?")["data"]["code"] == "forbidden"
    free = running.join("another-room", token=token_of(STU))  # sanctions are per room
    assert free.broadcast("text", "hello")["msg"] == "Message sent"


def test_a_poll_keeps_its_votes_across_a_restart(running: Restartable) -> None:
    ann, bob = running.join("polls", name="Ann"), running.join("polls", name="Bob")
    poll = ann.broadcast("poll", {"question": "Tea or coffee?", "options": ["tea", "coffee"]})["data"]
    assert bob.broadcast("vote", {"poll": poll["message"]["value"]["id"], "option": 1})["msg"] == "Message sent"
    running.restart()

    cy = running.join("polls", name="Cy")
    assert cy.broadcast("vote", {"poll": poll["message"]["value"]["id"], "option": 1})["msg"] == "Message sent"
    di = running.join("polls", name="Di")
    assert di.broadcast("vote", {"poll": poll["id"], "option": 0})["msg"] == "Message sent"  # by its message id
    results = di.wait_message(lambda d: d["message"]["type"] == "poll-results")["message"]["value"]
    assert results["counts"] == [1, 2] and results["total"] == 3


def test_history_and_ids_go_on_after_a_restart(running: Restartable) -> None:
    ann = running.join("kept", name="Ann")
    acks = [ann.broadcast("text", f"m{i}")["data"] for i in range(3)]
    running.restart()

    bob = running.join("kept", name="Bob", since=acks[0]["id"])
    assert texts(bob.first("history")["data"]["messages"]) == ["m1", "m2"]
    later = running.join("kept", name="Cy").broadcast("text", "after")["data"]
    assert later["id"] > acks[-1]["id"]
    sync(bob)
    assert texts(bob.messages()) == ["after"]


def test_guest_ids_are_never_given_again_when_the_next_server_would_start_lower(tmp_path: Path,
                                                                                storage_url: str | None) -> None:
    """The database remembers the highest guest ID: a server whose guest IDs start lower (a clock set
    back, a config changed) still never hands one out again."""
    config = config_with(storage_url)
    config["auth"]["guest_id_start"] = 10**14  # 100 million seconds of the clock's microseconds ahead
    high = start_server(config, tmp_path)
    with ChatClient(high.url, room="guests", name="First") as first:
        given = first.id
    high.stop()
    config["auth"]["guest_id_start"] = 1000  # by the clock alone, its guests would get IDs far below ``given``
    low = start_server(config, tmp_path)
    try:
        with ChatClient(low.url, room="guests", name="Second") as second:
            assert second.id > given
    finally:
        low.stop()
