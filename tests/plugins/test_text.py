"""The built-in ``text`` type through a real server: cleaning, refusals, the per-room length limit, enabling."""

from __future__ import annotations

import pytest
from builtin_helpers import by_loc, nothing_received

ROOMS = {
    "short": {"plugins": {"settings": {"text": {"max_length": 10}}}},
    "no-text": {"plugins": {"enabled": ["image"]}},
    "no-text-known": {"message_types": "known", "plugins": {"enabled": ["image"]}},
}


def test_a_text_is_delivered_with_control_characters_removed(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("text", "he\x00llo\x07\r\nworld\r\tand\x1b[31m\x7f\x9b red\u0085 ☕")
    assert ack.ok
    expected = "hello\nworld\n\tand[31m red ☕"
    assert ack.value == expected
    got = bob.receive(type="text")
    assert got.from_id == ann.id and got.value == expected


def test_a_direct_text_reaches_only_its_target(room) -> None:
    ann, bob, cy = room.join("Ann"), room.join("Bob"), room.join("Cy")
    assert ann.send(bob, "text", "psst").ok
    assert bob.receive(type="text").value == "psst"
    assert nothing_received(cy, "text")


@pytest.mark.parametrize("value", ["", "\x00\x01\x1f", " \n\t ", "\r\n"])
def test_a_text_with_nothing_visible_is_refused(room, value: str) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("text", value)
    assert ack.code == "validation_failed"
    assert [e["loc"] for e in ack.errors] == [[]]
    assert nothing_received(bob, "text")


@pytest.mark.parametrize("value", [None, 42, True, ["hi"], {"text": "hi"}])
def test_a_text_must_be_a_string(room, value: object) -> None:
    ann = room.join("Ann")
    ack = ann.broadcast("text", value)
    assert ack.code == "validation_failed"
    assert by_loc(ack.errors)[()]["type"] == "string_type"


def test_the_default_limit_is_4000_characters(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("text", "é" * 4000).ok
    assert bob.receive(type="text").value == "é" * 4000
    ack = ann.broadcast("text", "é" * 4001)
    assert ack.code == "validation_failed"
    assert ack.errors[0]["type"] == "string_too_long" and "4000" in ack.errors[0]["msg"]


def test_a_room_sets_its_own_limit_counted_after_cleaning(room_named) -> None:
    room = room_named("short")
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("text", "0123456789").ok
    assert ann.broadcast("text", "\x00\x00" + "abcdefghij").ok  # 10 once cleaned
    bob.receive(type="text", count=2)
    assert [m.value for m in bob.messages(type="text")] == ["0123456789", "abcdefghij"]
    ack = ann.broadcast("text", "01234567890")
    assert ack.code == "validation_failed" and "10 characters" in ack.errors[0]["msg"]


def test_a_room_without_the_plugin_passes_text_through_unchanged(room_named) -> None:
    room = room_named("no-text")
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("text", {"not": "a string\x00"}).ok  # an open room: unknown types pass as sent
    assert bob.receive(type="text").value == {"not": "a string\x00"}


def test_a_known_types_room_without_the_plugin_refuses_text(room_named) -> None:
    ann = room_named("no-text-known").join("Ann")
    assert ann.broadcast("text", "hi").code == "unknown_type"
    assert ann.broadcast("image", {"url": "https://example.org/a.png"}).ok
