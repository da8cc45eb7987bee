"""PROTOCOL.md, "Client to server": ``message`` and ``broadcast-message``, delivered.

Acks, the ``message`` event's payload, values of every JSON kind, userID forms,
open and known types, the size limit and the rate limit. Refusals in detail
(codes, ``error-response``, ordering of checks) are in test_protocol_errors.py.
Every test runs over WebSocket, long-polling, and polling upgraded to WebSocket.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from chatkit import ADA, PROBE_TYPE, SAM, STU, TESS, Joiner, is_sentence, sync, token_of

pytestmark = pytest.mark.usefixtures("transport")

SENT = "Message sent"
VALUES: list[Any] = [
    "plain text", "", 0, -7, 2**53 + 1, 3.25, True, False, None, [], {}, [1, "two", None, [3.5]],
    {"nested": {"deep": [{"x": 1}]}, "emoji": "😀", "rtl": "שלום", "nul": "a\u0000b"}, "x" * 5000,
]


def check_data(data: dict[str, Any], sender: int, type_: str, value: Any, to: int | None = None) -> None:
    """A ``message`` event's data: from, message {type, value}, the server's id and time,
    and ``to`` (the addressed user) on a direct message only (README)."""
    assert set(data) == {"from", "message", "id", "time"} | ({"to"} if to is not None else set())
    assert data.get("to") == to
    assert data["from"] == sender
    assert data["message"] == {"type": type_, "value": value}
    assert isinstance(data["id"], str) and data["id"]
    assert type(data["time"]) is int and abs(data["time"] / 1000 - time.time()) < 300


# -- direct messages -------------------------------------------------------------------


def test_a_direct_message_reaches_its_target_only(join: Joiner, room: str) -> None:
    ann, bob, cid = join(room, name="Ann"), join(room, name="Bob"), join(room, name="Cid")
    ack = ann.call("message", {"type": "x-note", "value": "hi Bob"}, bob.id)
    assert ack["msg"] == SENT
    check_data(ack["data"], ann.id, "x-note", "hi Bob", to=bob.id)
    payload = bob.wait_for("message")
    assert payload == {"msg": payload["msg"], "data": ack["data"]}
    assert isinstance(payload["msg"], str) and payload["msg"]
    sync(ann, cid)
    assert ann.messages() == [] and cid.messages() == []


def test_a_direct_message_without_ack_is_delivered_and_not_answered(join: Joiner, room: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    ann.emit("message", {"type": "x-note", "value": "no ack"}, bob.id)
    check_data(bob.wait_message(), ann.id, "x-note", "no ack", to=bob.id)
    sync(ann)
    assert [n for n, _ in ann.events] == ["initial-response", "user-connected"]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_values_of_every_json_kind_arrive_unchanged(join: Joiner, room: str, value: Any) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    ack = ann.send(bob.id, "x-any", value)
    assert ack["msg"] == SENT and ack["data"]["message"]["value"] == value
    check_data(bob.wait_message(), ann.id, "x-any", value, to=bob.id)


def test_a_missing_value_is_null_and_other_keys_are_dropped(join: Joiner, room: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    ann.call("message", {"type": "x-note"}, bob.id)
    check_data(bob.wait_message(), ann.id, "x-note", None, to=bob.id)
    extra = {"type": "x-note", "value": 1, "from": 0, "id": "forged", "time": 1, "role": "ADMIN", "to": 5}
    ack = ann.call("message", extra, bob.id)
    got = bob.wait_message(count=2)
    check_data(got, ann.id, "x-note", 1, to=bob.id)
    assert got["id"] != "forged" and got == ack["data"]


@pytest.mark.parametrize("as_string", [False, True])
def test_user_id_as_an_integer_or_a_string_of_digits(join: Joiner, room: str, as_string: bool) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    ack = ann.call("message", {"type": "x-note", "value": "id"}, str(bob.id) if as_string else bob.id)
    assert ack["msg"] == SENT
    assert bob.wait_message() == ack["data"]


def test_known_users_are_addressed_by_their_configured_id(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    tess = join(room, token=token_of(TESS))
    ack = ann.call("message", {"type": "x-note", "value": "hello"}, str(TESS))
    assert tess.wait_message() == ack["data"]
    back = tess.send(ann.id, "x-note", "hello back")
    assert ann.wait_message() == back["data"] and back["data"]["from"] == TESS


def test_message_ids_are_unique(join: Joiner, room: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    ids = {ann.send(bob.id, "x-note", i)["data"]["id"] for i in range(20)}
    ids |= {ann.broadcast("x-note", i)["data"]["id"] for i in range(20)}
    assert len(ids) == 40


def test_a_burst_arrives_whole_and_in_order(join: Joiner, room: str) -> None:
    """60 emits in a row. Over long-polling they travel in one or two POSTs, which the server
    takes whole, and come back in GETs of at most 16 packets, which is all python-engineio's
    polling client decodes (roomchat/engine.py)."""
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    for i in range(60):
        ann.emit("message", {"type": "x-seq", "value": i}, bob.id)
    bob.wait_message(count=60)
    assert [m["message"]["value"] for m in bob.messages()] == list(range(60))
    sync(ann)
    assert ann.received("error-response") == [] and ann.connected and bob.connected


# -- broadcast ---------------------------------------------------------------------------


def test_a_broadcast_reaches_everyone_but_the_sender(join: Joiner, room: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    tess = join(room, token=token_of(TESS))
    ack = ann.call("broadcast-message", {"type": "x-note", "value": {"hello": "all"}})
    assert ack["msg"] == SENT
    check_data(ack["data"], ann.id, "x-note", {"hello": "all"})
    assert bob.wait_message() == tess.wait_message() == ack["data"]
    sync(ann)
    assert ann.messages() == []


def test_a_broadcast_without_ack(join: Joiner, room: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    ann.emit("broadcast-message", {"type": "x-note", "value": "no ack"})
    check_data(bob.wait_message(), ann.id, "x-note", "no ack")
    sync(ann)
    assert [n for n, _ in ann.events] == ["initial-response", "user-connected"]


def test_a_broadcast_alone_in_a_room_is_sent_to_nobody(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    assert ann.broadcast("x-note", "anyone?")["msg"] == SENT
    sync(ann)
    assert ann.messages() == []


def test_a_broadcast_stays_in_its_room(join: Joiner, room: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    other = join(room + "-other", token=token_of(SAM))
    ann.broadcast("x-note", "only here")
    bob.wait_message()
    sync(ann, other)
    assert other.messages() == []


# -- extra arguments, ack last ---------------------------------------------------------------


def test_extra_arguments_are_ignored_and_the_ack_is_last(join: Joiner, room: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    ack = ann.call("message", {"type": "x-note", "value": 1}, bob.id, "extra", {"more": [1, 2]}, None)
    assert ack["msg"] == SENT and bob.wait_message() == ack["data"]
    ack = ann.call("broadcast-message", {"type": "x-note", "value": 2}, bob.id, "extra")
    assert ack["msg"] == SENT and bob.wait_message(count=2) == ack["data"]
    ann.emit("message", {"type": "x-note", "value": 3}, bob.id, "extra", 4)
    assert bob.wait_message(count=3)["message"]["value"] == 3
    sync(ann)
    assert ann.received("error-response") == []


# -- types -----------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["text", "potato", "x-unregistered", "Ünïcödé type", "a" * 200, " "])
def test_types_are_open_by_default(join: Joiner, room: str, type_: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    ack = ann.send(bob.id, type_, "v")
    if type_ in ("text", "potato"):  # built-in plugins may register these; they still pass
        assert ack["msg"] == SENT or ack["data"]["code"] == "validation_failed"
        return
    assert ack["msg"] == SENT
    check_data(bob.wait_message(), ann.id, type_, "v", to=bob.id)


def test_a_known_types_room_refuses_unknown_types(join: Joiner) -> None:
    ann, bob = join("known", name="Ann"), join("known", name="Bob")
    ack = ann.send(bob.id, "x-unregistered", "v")
    assert ack["data"] == {"code": "unknown_type"} and is_sentence(ack["msg"])
    ack = ann.broadcast("x-unregistered", "v")
    assert ack["data"] == {"code": "unknown_type"}
    ann.emit("broadcast-message", {"type": "x-unregistered", "value": "v"})
    assert ann.wait_for("error-response")["data"] == {"code": "unknown_type", "event": "broadcast-message"}
    ok = ann.send(bob.id, PROBE_TYPE, {"any": "value"})
    assert ok["msg"] == SENT
    assert bob.wait_message() == ok["data"]  # the refused ones reached nobody
    sync(ann, bob)
    assert len(bob.messages()) == 1


# -- size -----------------------------------------------------------------------------------


def wire_size(type_: str, value: Any) -> int:
    """A message's size as the server measures it: compact JSON, UTF-8 bytes."""
    return len(json.dumps({"type": type_, "value": value}, ensure_ascii=False, separators=(",", ":")).encode())


def padded(type_: str, size: int, fill: str = "x") -> str:
    """The longest string of ``fill`` that keeps the message within ``size`` bytes."""
    value = fill * ((size - wire_size(type_, "")) // len(fill.encode()))
    while wire_size(type_, value + fill) <= size:
        value += fill
    while wire_size(type_, value) > size:
        value = value[:-1]
    return value


@pytest.mark.parametrize("fill", ["x", "é", "😀"])
def test_the_room_size_limit_counts_json_bytes(join: Joiner, fill: str) -> None:
    """The "tiny" room allows 200 bytes: up to 200 pass, past 200 is too_large, however the bytes are made."""
    ann, bob = join("tiny", name="Ann"), join("tiny", name="Bob")
    fits = padded("x-note", 200, fill)
    assert wire_size("x-note", fits) == 200 or fill != "x"
    assert ann.send(bob.id, "x-note", fits)["msg"] == SENT
    over = fits + fill
    assert wire_size("x-note", over) > 200
    ack = ann.send(bob.id, "x-note", over)
    assert ack["data"] == {"code": "too_large"} and is_sentence(ack["msg"])
    assert ann.broadcast("x-note", over)["data"] == {"code": "too_large"}
    sync(ann, bob)
    assert [m["message"]["value"] for m in bob.messages()] == [fits]


def test_the_default_limit_is_64_kib(join: Joiner, room: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    fits = padded("x-big", 64 * 1024)
    assert ann.send(bob.id, "x-big", fits)["msg"] == SENT
    assert ann.send(bob.id, "x-big", fits + "x")["data"]["code"] == "too_large"
    assert ann.send(bob.id, "x-big", "y" * 200_000)["data"]["code"] == "too_large"
    assert bob.wait_message()["message"]["value"] == fits
    sync(ann, bob)
    assert len(bob.messages()) == 1


# -- rate ----------------------------------------------------------------------------------


def test_the_rate_limit_refuses_and_delivers_nothing(join: Joiner) -> None:
    """The "limited" room allows 3 messages per hour per user; the 4th is rate_limited."""
    ann, bob = join("limited", name="Ann"), join("limited", name="Bob")
    for i in range(3):
        assert ann.send(bob.id, "x-note", i)["msg"] == SENT
    ack = ann.send(bob.id, "x-note", "one too many")
    assert ack["data"] == {"code": "rate_limited"} and is_sentence(ack["msg"])
    assert ann.broadcast("x-note", "still too many")["data"] == {"code": "rate_limited"}
    ann.emit("message", {"type": "x-note", "value": "no ack"}, bob.id)
    assert ann.wait_for("error-response")["data"] == {"code": "rate_limited", "event": "message"}
    # Others are not limited by Ann's flood, and Ann's connection still works.
    assert bob.send(ann.id, "x-note", "bob is fine")["msg"] == SENT
    assert ann.wait_message()["message"]["value"] == "bob is fine"
    sync(ann, bob)
    assert [m["message"]["value"] for m in bob.messages()] == [0, 1, 2]
    assert ann.connected and bob.connected


def test_refused_emits_do_not_count_against_the_rate_limit(join: Joiner) -> None:
    ann, bob = join("limited", name="Ann"), join("limited", name="Bob")
    for _ in range(10):
        assert ann.call("message", {"no": "type"}, bob.id)["data"]["code"] == "invalid_message"
    for i in range(3):
        assert ann.send(bob.id, "x-note", i)["msg"] == SENT


def test_the_rate_limit_is_per_user_across_tabs_and_reconnects(join: Joiner, transport: str) -> None:
    # One known user per transport: the module's server keeps each user's bucket for the hour.
    user = {"websocket": TESS, "polling": ADA, "upgrade": STU}[transport]
    bob = join("limited", name="Bob")
    tab1 = join("limited", token=token_of(user))
    tab2 = join("limited", token=token_of(user))
    assert tab1.send(bob.id, "x-note", 1)["msg"] == SENT
    assert tab2.send(bob.id, "x-note", 2)["msg"] == SENT
    assert tab1.send(bob.id, "x-note", 3)["msg"] == SENT
    assert tab2.send(bob.id, "x-note", 4)["data"]["code"] == "rate_limited"
    # Leaving and coming back does not refill the bucket.
    tab1.close()
    tab2.close()
    bob.wait_for("user-disconnected", lambda p: p["data"]["ID"] == user)
    again = join("limited", token=token_of(user))
    assert again.send(bob.id, "x-note", 5)["data"]["code"] == "rate_limited"
