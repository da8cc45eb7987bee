"""PROTOCOL.md refusals of ``message`` and ``broadcast-message``: codes, ack or ``error-response``, order.

With an ack callback the refusal is the ack ``{"msg": <sentence>, "data": {"code"}}``;
without one it is ``error-response`` with ``data.event`` naming the emit (this
also checks roomchat.transport.socketio.SocketServer's ack detection against the installed
python-socketio). A refused message reaches nobody and never disconnects anyone.
Every test runs over WebSocket, long-polling, and polling upgraded to WebSocket.
"""

from __future__ import annotations

from typing import Any

import pytest
from chatkit import Joiner, is_sentence, names, sync

from roomchat.testing import ChatClient

pytestmark = pytest.mark.usefixtures("transport")

BAD_MESSAGES: list[Any] = [
    None, 0, 1.5, True, "text", "", [], ["text"], [{"type": "text"}], {}, {"value": "no type"},
    {"type": ""}, {"type": None}, {"type": 5}, {"type": True}, {"type": ["text"]}, {"type": {"t": 1}},
]
BAD_TARGETS: list[Any] = [
    True, False, None, "3.0", " 3", "3 ", "", "-1", "+3", "1e3", "0x1F", "٣", "３", [3], {"ID": 3}, 3.0, 2.5, "abc",
]


def refusal_ack(ack: dict[str, Any], code: str) -> None:
    """A refused emit's ack: a readable sentence and exactly ``{"code": code}``."""
    assert set(ack) == {"msg", "data"}
    assert ack["data"] == {"code": code}, ack
    assert is_sentence(ack["msg"]), ack["msg"]


def nothing_delivered(sender: ChatClient, *others: ChatClient) -> None:
    """Nobody got a message, and the sender is still connected."""
    sync(sender, *others)
    for client in (sender, *others):
        assert client.messages() == [], client.messages()
        assert client.connected


@pytest.fixture
def trio(join: Joiner, room: str) -> tuple[ChatClient, ChatClient, ChatClient]:
    """Ann, Bob and Cid in a fresh room; Ann's user-connected events already in."""
    ann, bob, cid = join(room, name="Ann"), join(room, name="Bob"), join(room, name="Cid")
    sync(cid, ann, bob)
    return ann, bob, cid


# -- invalid_message -----------------------------------------------------------------------


@pytest.mark.parametrize("raw", BAD_MESSAGES, ids=repr)
def test_invalid_message_with_ack(trio: tuple[ChatClient, ...], raw: Any) -> None:
    ann, bob, cid = trio
    refusal_ack(ann.call("message", raw, bob.id), "invalid_message")
    refusal_ack(ann.call("broadcast-message", raw), "invalid_message")
    nothing_delivered(ann, bob, cid)


@pytest.mark.parametrize("raw", BAD_MESSAGES[:6], ids=repr)
def test_invalid_message_without_ack_is_an_error_response(trio: tuple[ChatClient, ...], raw: Any) -> None:
    ann, bob, cid = trio
    ann.emit("message", raw, bob.id)
    payload = ann.wait_for("error-response")
    assert payload["data"] == {"code": "invalid_message", "event": "message"}
    assert is_sentence(payload["msg"])
    ann.emit("broadcast-message", raw)
    assert ann.wait_for("error-response", count=2)["data"] == {"code": "invalid_message",
                                                                "event": "broadcast-message"}
    nothing_delivered(ann, bob, cid)


def test_no_arguments_at_all(trio: tuple[ChatClient, ...]) -> None:
    ann, bob, cid = trio
    refusal_ack(ann.sio.call("message", timeout=5), "invalid_message")
    refusal_ack(ann.sio.call("broadcast-message", timeout=5), "invalid_message")
    ann.sio.emit("message")
    assert ann.wait_for("error-response")["data"]["code"] == "invalid_message"
    nothing_delivered(ann, bob, cid)


def test_any_other_event_is_an_invalid_message(trio: tuple[ChatClient, ...]) -> None:
    """PROTOCOL.md: with an ack callback the server answers every emit."""
    ann, bob, cid = trio
    refusal_ack(ann.call("typing", {"type": "text"}), "invalid_message")
    refusal_ack(ann.sio.call("x" * 500, timeout=5), "invalid_message")
    ann.emit("chat message", "hello")
    payload = ann.wait_for("error-response")
    assert payload["data"] == {"code": "invalid_message", "event": "chat message"}
    assert is_sentence(payload["msg"])
    ann.emit("y" * 500)
    assert ann.wait_for("error-response", count=2)["data"]["event"] == "y" * 100  # echoed, but bounded
    nothing_delivered(ann, bob, cid)
    assert ann.call("broadcast-message", {"type": "text", "value": "still here"})["msg"] == "Message sent"


def test_binary_data_is_an_invalid_message(trio: tuple[ChatClient, ...]) -> None:
    ann, bob, cid = trio
    refusal_ack(ann.call("message", {"type": "x-bin", "value": b"\x00\x01binary"}, bob.id), "invalid_message")
    refusal_ack(ann.call("broadcast-message", {"type": "x-bin", "value": [b"\xff"]}), "invalid_message")
    refusal_ack(ann.call("broadcast-message", b"raw bytes"), "invalid_message")
    nothing_delivered(ann, bob, cid)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), {"deep": [float("nan")]}], ids=repr)
def test_non_json_numbers_are_an_invalid_message(trio: tuple[ChatClient, ...], value: Any) -> None:
    """Python's JSON reads NaN and Infinity; relayed, they would break every JavaScript recipient."""
    ann, bob, cid = trio
    refusal_ack(ann.call("message", {"type": "x-num", "value": value}, bob.id), "invalid_message")
    refusal_ack(ann.call("broadcast-message", {"type": "x-num", "value": value}), "invalid_message")
    nothing_delivered(ann, bob, cid)


@pytest.mark.parametrize("message", [
    {"type": "x-text", "value": "half \ud800 a pair"}, {"type": "x-\udfff", "value": 1},
    {"type": "x-text", "value": {"key \ud83d": "v"}},
], ids=["value", "type", "key"])
def test_lone_surrogates_are_an_invalid_message(trio: tuple[ChatClient, ...], message: dict[str, Any]) -> None:
    """JSON may escape half of a surrogate pair; no recipient could be sent it as UTF-8, so it is refused."""
    ann, bob, cid = trio
    refusal_ack(ann.call("message", message, bob.id), "invalid_message")
    refusal_ack(ann.call("broadcast-message", message), "invalid_message")
    nothing_delivered(ann, bob, cid)


# -- invalid_target and user_not_found ---------------------------------------------------------


@pytest.mark.parametrize("target", BAD_TARGETS, ids=repr)
def test_invalid_target(trio: tuple[ChatClient, ...], target: Any) -> None:
    ann, bob, cid = trio
    refusal_ack(ann.call("message", {"type": "x-note", "value": 1}, target), "invalid_target")
    nothing_delivered(ann, bob, cid)


def test_a_missing_target_is_invalid(trio: tuple[ChatClient, ...]) -> None:
    ann, bob, cid = trio
    refusal_ack(ann.call("message", {"type": "x-note", "value": 1}), "invalid_target")
    ann.emit("message", {"type": "x-note", "value": 1})
    assert ann.wait_for("error-response")["data"] == {"code": "invalid_target", "event": "message"}
    nothing_delivered(ann, bob, cid)


@pytest.mark.parametrize("target", [0, "0", "000", -1, -5, 999, "999", 2**70, str(10**40), 999_999_999])
def test_user_not_found(trio: tuple[ChatClient, ...], target: Any) -> None:
    ann, bob, cid = trio
    refusal_ack(ann.call("message", {"type": "x-note", "value": 1}, target), "user_not_found")
    ann.emit("message", {"type": "x-note", "value": 1}, target)
    assert ann.wait_for("error-response")["data"] == {"code": "user_not_found", "event": "message"}
    nothing_delivered(ann, bob, cid)


def test_a_user_of_another_room_is_not_found(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    elsewhere = join(room + "-elsewhere", name="Elsewhere")
    refusal_ack(ann.send(elsewhere.id, "x-note", "psst"), "user_not_found")
    nothing_delivered(ann, elsewhere)


def test_a_user_who_left_is_not_found(join: Joiner, room: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    bob_id = bob.id
    bob.close()
    ann.wait_for("user-disconnected")
    refusal_ack(ann.send(bob_id, "x-note", "gone?"), "user_not_found")


def test_leading_zeros_name_the_same_user(trio: tuple[ChatClient, ...]) -> None:
    ann, bob, _ = trio
    ack = ann.call("message", {"type": "x-note", "value": 1}, "00" + str(bob.id))
    assert ack["msg"] == "Message sent" and bob.wait_message() == ack["data"]


# -- the order of checks -------------------------------------------------------------------------


def test_the_message_is_checked_before_the_target(trio: tuple[ChatClient, ...]) -> None:
    ann, bob, cid = trio
    for target in (True, None, 0, 999, "x"):
        refusal_ack(ann.call("message", {"no": "type"}, target), "invalid_message")
        refusal_ack(ann.call("message", {"type": "x-big", "value": "y" * 70_000}, target), "too_large")
    nothing_delivered(ann, bob, cid)


def test_a_known_types_room_checks_the_type_before_the_target(join: Joiner) -> None:
    ann = join("known", name="Ann")
    refusal_ack(ann.call("message", {"type": "x-unregistered", "value": 1}, "nobody"), "unknown_type")
    refusal_ack(ann.call("message", {"type": "x-unregistered", "value": 1}, 0), "unknown_type")


def test_size_is_checked_before_rate(join: Joiner) -> None:
    """A too_large message does not use up the sender's rate ("limited": 3 per hour)."""
    ann, bob = join("limited", name="Ann"), join("limited", name="Bob")
    for _ in range(5):
        refusal_ack(ann.send(bob.id, "x-big", "y" * 70_000), "too_large")
    for i in range(3):
        assert ann.send(bob.id, "x-note", i)["msg"] == "Message sent"
    refusal_ack(ann.send(bob.id, "x-note", "fourth"), "rate_limited")


# -- ack or error-response, never both, never a disconnect ---------------------------------------


def test_an_ack_replaces_the_error_response(trio: tuple[ChatClient, ...]) -> None:
    ann, bob, _cid = trio
    ann.call("message", None, bob.id)
    ann.call("message", {"type": "x-note"}, 0)
    ann.call("broadcast-message", [])
    sync(ann)
    assert ann.received("error-response") == []
    assert names(ann.events) == ["initial-response", "user-connected", "user-connected"]


def test_an_error_response_goes_only_to_the_sender(trio: tuple[ChatClient, ...]) -> None:
    ann, bob, cid = trio
    ann.emit("message", {"type": "x-note"}, 0)
    ann.wait_for("error-response")
    sync(ann, bob, cid)
    assert bob.received("error-response") == [] and cid.received("error-response") == []


def test_refusals_do_not_disturb_anyone(trio: tuple[ChatClient, ...]) -> None:
    ann, bob, cid = trio
    for raw in BAD_MESSAGES:
        ann.emit("message", raw, bob.id)
        ann.emit("broadcast-message", raw)
    for target in BAD_TARGETS:
        ann.emit("message", {"type": "x-note", "value": "t"}, target)
    ann.wait_for("error-response", count=2 * len(BAD_MESSAGES) + len(BAD_TARGETS))
    nothing_delivered(ann, bob, cid)
    ack = ann.broadcast("x-note", "still fine")
    assert bob.wait_message() == cid.wait_message() == ack["data"]
