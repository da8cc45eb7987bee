"""``potato`` is open: no built-in registers it, so any value passes unchanged (the seed's own example).

The seed notes: "Message type is not restricted to any type. It can text,
image, video, potato, etc. ... Value can be an object, a boolean, string,
number". The plugin guide's typed potato is an example (examples/potato),
never loaded by default; tests/test_seed_conformance.py sends every JSON kind
through the default config.
"""

from __future__ import annotations

import pytest
from builtin_helpers import nothing_received

ROOMS = {"known-only": {"message_types": "known"}}

VALUES = ["mashed", {"n": 2}, {"variety": "King Edward", "weight_grams": 180}, {"weight_grams": "heavy"},
          None, True, 0, -3.5, [], ["chips", {"salt": True}]]


def test_no_plugin_registers_potato(server) -> None:
    assert server.chat.plugins.types.get("potato") is None
    assert all("potato" not in info.types for info in server.chat.plugins.info.values())


@pytest.mark.parametrize("value", VALUES)
def test_any_potato_reaches_the_room_unchanged(room, value: object) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("potato", value)
    assert ack.ok and ack.value == value
    got = bob.receive(type="potato")
    assert got.from_id == ann.id and got.value == value
    assert ann.messages(type="text") == []  # nobody answers an open type


def test_a_missing_value_arrives_as_null(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.client.call("message", {"type": "potato"}, bob.id)["msg"] == "Message sent"
    assert bob.receive(type="potato").value is None


def test_a_room_that_admits_only_known_types_refuses_it(room_named) -> None:
    ann, bob = room_named("known-only").join("Ann"), room_named("known-only").join("Bob")
    assert ann.broadcast("potato", "mashed").code == "unknown_type"
    assert nothing_received(bob, "potato")
