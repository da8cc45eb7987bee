"""A client that knows only the seed notes works with the default config, over both transports.

The seed (events.txt): "Message type is not restricted to any type. It can
text, image, video, potato, etc. ... Value can be an object, a boolean,
string, number". So with config/roomchat.yaml, as `make run` serves it,
every JSON kind under ``potato`` or a type nobody registered reaches every
other member unchanged, in ``lobby`` and in a room created on first join;
and the built-in types take what such a client would plausibly send (a URL
string for an image, say), delivered as sent (docs/plugins.md, "What the
built-in types accept"). Clients are python-socketio, over WebSocket and over
long-polling; the server is ``roomchat serve`` in its own process.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roomchat.testing import ChatClient, RoomchatProcess

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "roomchat.yaml"
TRANSPORTS = ["websocket", "polling"]

EVERY_JSON_KIND: list[Any] = [
    None, True, False,
    0, -7, 2**53 - 1,
    3.25, -0.5, 1e300,
    "", "mashed", "ünïcödé ✓ 🥔 \u05e9\u05dc\u05d5\u05dd",
    [], [1, "two", None, 4.5, False],
    {}, {"n": 2}, {"variety": "King Edward", "weight_grams": "heavy"},
    {"a": [{"b": {"c": [True, None, 1.5, {"d": []}]}}], "e": {"f": {"g": {"h": "deep"}}}},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    """``roomchat serve`` with the default config, unchanged (its bots included; its database in a folder of its own)."""
    data = {"ROOMCHAT_DATA_DIR": str(tmp_path_factory.mktemp("data"))}
    with RoomchatProcess(DEFAULT_CONFIG, env=data) as process:
        yield process


def created_room() -> str:
    """A room name the default config does not list: created on first join (server.create_rooms)."""
    return f"seed-{uuid.uuid4().hex[:12]}"


def delivered(user: ChatClient, ack: dict[str, Any]) -> dict[str, Any]:
    """The ``message`` data ``user`` got for the accepted emit ``ack``."""
    assert ack["msg"] == "Message sent", ack
    return user.wait_message(lambda data: data["id"] == ack["data"]["id"])


def receivers(server: RoomchatProcess, room: str) -> list[ChatClient]:
    """Two members who only listen, one on each transport."""
    return [ChatClient(server.url, room=room, name=f"Listener {t}", transport=t) for t in TRANSPORTS]


def settle(sender: ChatClient, users: list[ChatClient]) -> None:
    """Wait until a marker broadcast from ``sender`` reached every user: everything sent before it has too."""
    ack = sender.broadcast("x-marker", "end")
    for user in users:
        delivered(user, ack)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("where", ["lobby", "created"])
@pytest.mark.parametrize("type_", ["potato", "x-nobody-registered-this"])
def test_every_json_kind_reaches_every_member_unchanged(server, transport: str, where: str, type_: str) -> None:
    room = "lobby" if where == "lobby" else created_room()
    listeners = receivers(server, room)
    with ChatClient(server.url, room=room, name="Seed", transport=transport) as sender:
        try:
            for value in EVERY_JSON_KIND:
                ack = sender.call("broadcast-message", {"type": type_, "value": value})
                assert ack["data"]["message"] == {"type": type_, "value": value}
                for listener in listeners:
                    got = delivered(listener, ack)
                    assert got["from"] == sender.id and got["message"] == {"type": type_, "value": value}
            # the seed's direct form, socket.emit('message', message, userID), from another user
            # (the room's rate limit, 20 messages per 10 s per user, is the sender's to spend)
            with ChatClient(server.url, room=room, name="Seed too", transport=transport) as other:
                for listener, value in zip(listeners, (EVERY_JSON_KIND[-1], None), strict=True):
                    ack = other.call("message", {"type": type_, "value": value}, listener.id)
                    got = delivered(listener, ack)
                    assert got["message"] == {"type": type_, "value": value} and got["to"] == listener.id
        finally:
            for listener in listeners:
                listener.close()


def test_a_missing_value_is_null(server) -> None:
    with ChatClient(server.url, room="lobby", name="Ann") as ann, ChatClient(server.url, room="lobby", name="Bob") as bob:
        ack = ann.call("message", {"type": "potato"}, bob.id)
        assert delivered(bob, ack)["message"] == {"type": "potato", "value": None}


def seed_shapes(message_id: str) -> list[tuple[str, Any]]:
    """What a client written from the seed alone would plausibly send under the built-in types' names."""
    return [
        ("text", "A simple message"),                       # the seed's own example
        ("text", "two lines,\nand a tab\there"),
        ("image", "https://example.org/cat.png"),
        ("image", {"url": "https://example.org/cat.png", "caption": "Our cat"}),
        ("image", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="),
        ("video", "https://example.org/clip.mp4"),
        ("video", {"url": "https://example.org/clip.webm", "title": "The talk"}),
        ("file", "https://example.org/notes.pdf"),
        ("file", {"url": "https://example.org/notes.pdf", "name": "notes.pdf", "type": "application/pdf"}),
        ("reaction", "👍"),
        ("reaction", {"emoji": "🎉", "message": message_id}),
        ("typing", True),
        ("typing", False),
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_builtin_types_take_what_a_seed_client_sends_as_sent(server, transport: str) -> None:
    listeners = receivers(server, "lobby")
    try:
        with ChatClient(server.url, room="lobby", name="Seed", transport=transport) as sender:
            first = sender.broadcast("text", "lunch?")
            for listener in listeners:
                delivered(listener, first)
            for type_, value in seed_shapes(first["data"]["id"]):
                ack = sender.call("broadcast-message", {"type": type_, "value": value})
                assert ack["data"]["message"] == {"type": type_, "value": value}, (type_, value, ack)
                for listener in listeners:
                    assert delivered(listener, ack)["message"] == {"type": type_, "value": value}
    finally:
        for listener in listeners:
            listener.close()


def test_a_seed_clients_poll_and_vote_work(server) -> None:
    room = created_room()
    with (ChatClient(server.url, room=room, name="Ann") as ann,
          ChatClient(server.url, room=room, name="Bob", transport="polling") as bob):
        sent = {"question": "Lunch?", "options": ["Pizza", "Soup"]}
        ack = ann.broadcast("poll", sent)
        poll = delivered(bob, ack)["message"]["value"]
        assert poll == {"id": ack["data"]["message"]["value"]["id"], **sent}  # as sent, with the id votes name
        vote = bob.broadcast("vote", {"poll": poll["id"], "option": "Soup"})
        assert vote["msg"] == "Message sent"
        results = ann.wait_message(lambda data: data["message"]["type"] == "poll-results")
        assert results["from"] == 0 and results["message"]["value"]["counts"] == [0, 1]


UNSAFE: list[tuple[str, Any, list[Any]]] = [
    ("image", "javascript:alert(1)", ["url"]),
    ("image", {"url": "JAVASCRIPT:alert(document.cookie)"}, ["url"]),
    ("video", "https://example.org/\u202e4pm.exe", ["url"]),
    ("file", "https://example.org/report\u202efdp.exe", ["url"]),
    ("file", {"url": "https://example.org/a.exe", "name": "photo\u202egpj.exe"}, ["name"]),
    ("file", {"url": "https://example.org/a.txt", "name": "notes\x1b[2J.txt"}, ["name"]),
    ("image", "https://example.org/a\x00.png", ["url"]),
]


@pytest.mark.parametrize(("type_", "value", "loc"), UNSAFE)
def test_unsafe_values_are_refused_and_reach_nobody(server, type_: str, value: Any, loc: list[Any]) -> None:
    with ChatClient(server.url, room="lobby", name="Ann") as ann, ChatClient(server.url, room="lobby", name="Bob") as bob:
        ack = ann.broadcast(type_, value)
        assert ack["data"]["code"] == "validation_failed"
        assert [e["loc"] for e in ack["data"]["errors"]] == [loc]
        settle(ann, [bob])
        assert [m for m in bob.messages() if m["message"]["type"] == type_] == []


def test_moderation_and_the_quiz_take_the_documented_short_forms(server) -> None:
    """In the default classroom: a teacher warns with a moderation message and asks the quiz bot 'status'."""
    with (ChatClient(server.url, room="classroom", token="demo-teacher-ada") as ada,
          ChatClient(server.url, room="classroom", token="demo-student-grace", transport="polling") as grace):
        ack = ada.broadcast("moderation", {"action": "warn", "user": grace.id, "reason": "say hello first"})
        assert ack["msg"] == "Message sent", ack
        notice = grace.wait_message(lambda data: data["message"]["type"] == "moderation")
        assert notice["from"] == 0 and notice["message"]["value"]["action"] == "warn"
        quiz_bot = next(u["ID"] for u in ada.users if u["name"] == "Quiz Master")
        assert ada.send(quiz_bot, "quiz", "status")["msg"] == "Message sent"
        ada.wait_message(lambda data: data["from"] == quiz_bot)
        assert grace.send(quiz_bot, "quiz-answer", "B")["msg"] == "Message sent"
        # the classroom admits only registered types: an open type is refused there, by name
        assert grace.broadcast("potato", "mashed")["data"]["code"] == "unknown_type"
