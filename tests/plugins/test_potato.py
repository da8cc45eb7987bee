"""The ``potato`` example plugin, tested the way docs/plugins.md tells plugin authors to.

These tests use the pytest fixtures that ship with roomchat (``roomchat_room``,
``roomchat_settings``): a real server per test with one room, real clients.
potato is a built-in, so it is already loaded; a third-party plugin would also
override ``roomchat_plugins`` to hand its module over.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def roomchat_settings():
    return {"potato": {"max_weight_grams": 1000}}


def test_a_potato_reaches_the_room_with_its_fries(roomchat_room) -> None:
    ann, bob = roomchat_room.join("Ann"), roomchat_room.join("Bob")
    ack = ann.broadcast("potato", {"variety": "King Edward", "weight_grams": 180})
    assert ack.ok
    got = bob.receive(type="potato")
    assert got.sender == ann.id
    assert got.value == {"variety": "King Edward", "weight_grams": 180, "fries": 22}


def test_the_room_thanks_the_sender_only(roomchat_room) -> None:
    ann, bob = roomchat_room.join("Ann"), roomchat_room.join("Bob")
    assert ann.broadcast("potato", {"variety": "Maris Piper", "weight_grams": 80}).ok
    reply = ann.receive(type="text")
    assert reply.from_room and reply.value == "Thanks for the Maris Piper! That makes 10 fries."
    bob.receive(type="potato")
    bob.sync()
    assert bob.messages(type="text") == []


@pytest.mark.parametrize(("value", "field"), [
    ({"variety": "", "weight_grams": 100}, "variety"),
    ({"variety": "Russet", "weight_grams": 0}, "weight_grams"),
    ({"variety": "Russet", "weight_grams": "100"}, "weight_grams"),  # strict: a string is not a number
    ({"variety": "Russet"}, "weight_grams"),
    ({"variety": "Russet", "weight_grams": 100, "peeled": True}, "peeled"),
])
def test_a_bad_potato_is_refused_field_by_field(roomchat_room, value, field) -> None:
    ann, bob = roomchat_room.join("Ann"), roomchat_room.join("Bob")
    ack = ann.broadcast("potato", value)
    assert ack.code == "validation_failed"
    assert [e["loc"] for e in ack.errors] == [[field]]
    bob.sync()
    assert bob.messages() == []
    assert ann.messages(type="text") == []  # no thanks for a refused potato


def test_the_room_setting_limits_the_weight(roomchat_room) -> None:
    ann = roomchat_room.join("Ann")
    assert ann.broadcast("potato", {"variety": "Russet", "weight_grams": 1000}).ok
    ack = ann.broadcast("potato", {"variety": "Russet", "weight_grams": 1001})
    assert ack.code == "validation_failed"
    assert ack.errors == [{"loc": ["weight_grams"], "msg": "potatoes in this room weigh at most 1000 g",
                           "type": "value_error"}]
