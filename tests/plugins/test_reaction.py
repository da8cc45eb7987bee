"""The built-in ``reaction`` type through a real server: an emoji, alone or on a delivered message's id."""

from __future__ import annotations

import pytest
from builtin_helpers import by_loc, nothing_received

ROOMS = {"thumbs": {"plugins": {"settings": {"reaction": {"allowed": ["👍", "👎", "❤️"]}}}}}


def test_a_reaction_to_a_delivered_message_reaches_the_room(room) -> None:
    ann, bob, cy = room.join("Ann"), room.join("Bob"), room.join("Cy")
    assert ann.broadcast("text", "lunch?").ok
    message_id = bob.receive(type="text").id
    assert message_id
    assert bob.broadcast("reaction", {"message": message_id, "emoji": "👍🏽"}).ok
    for user in (ann, cy):
        got = user.receive(type="reaction")
        assert got.from_id == bob.id and got.value == {"message": message_id, "emoji": "👍🏽"}


def test_a_reaction_can_go_to_one_user(room) -> None:
    ann, bob, cy = room.join("Ann"), room.join("Bob"), room.join("Cy")
    message_id = ann.send(bob, "text", "just for you").data["id"]
    assert bob.send(ann, "reaction", {"message": message_id, "emoji": "🙏"}).ok
    assert ann.receive(type="reaction").value["emoji"] == "🙏"
    assert nothing_received(cy, "reaction")


@pytest.mark.parametrize("value", [
    "👍",                                             # the emoji alone: a reaction on the room
    {"emoji": "🎉"},
    {"emoji": "👍", "message": 17},                   # a client's own numeric id
    {"emoji": "👍", "message": "c0ffee:42/x"},         # or any string id without spaces
    {"emoji": "👍", "message": "abc-1", "remove": True},  # other keys kept
])
def test_a_reaction_is_delivered_as_sent(room, value: object) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("reaction", value)
    assert ack.ok and ack.value == value
    assert bob.receive(type="reaction").value == value


@pytest.mark.parametrize("emoji", [
    "👍", "❤️", "❤", "🎉", "👩‍💻", "🧑🏽‍💻", "👨‍👩‍👧‍👦", "🇺🇦", "1️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🏌️‍♀️", "✔️", "🫠",
])
def test_single_emoji_of_every_shape_are_accepted(room, emoji: str) -> None:
    ack = room.join("Ann").broadcast("reaction", {"message": "abc-1", "emoji": emoji})
    assert ack.ok and ack.value["emoji"] == emoji


@pytest.mark.parametrize("emoji", [
    "🫩",           # face with bags under eyes: Unicode 16, the newest ICU knows
    "🫪",           # U+1FAEA, encoded after this ICU: Unicode keeps the emoji blocks' free code points pictographic
    "\U0001fc00",   # the block Unicode reserves for emoji to come
    "⎈",            # helm symbol: a pictograph the hand-written table left out
])
def test_emoji_are_what_unicode_says_newer_ones_included(room, emoji: str) -> None:
    """Extended_Pictographic from ICU, not a hand-written table of ranges."""
    ack = room.join("Ann").broadcast("reaction", {"message": "abc-1", "emoji": emoji})
    assert ack.ok and ack.value["emoji"] == emoji


@pytest.mark.parametrize("symbol", ["🄰", "➘", "✓", "❨", "🜁", "🠀"])
def test_symbols_that_are_not_pictographs_are_refused(room, symbol: str) -> None:
    """A squared letter, arrows, a check mark, a bracket, an alchemical symbol: the old table let them in."""
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("reaction", {"message": "abc-1", "emoji": symbol})
    assert ack.code == "validation_failed" and ack.errors[0]["type"] == "not_emoji"
    assert nothing_received(bob, "reaction")


@pytest.mark.parametrize("emoji", ["", "a", "1", ":+1:", "👍👍", "👍 ", "🇫", "\u200d👍", "👍\u200d", "🏽", "😀" * 20,
                                   "<script>", 128077, None])
def test_anything_but_one_emoji_is_refused(room, emoji: object) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("reaction", {"message": "abc-1", "emoji": emoji})
    assert ack.code == "validation_failed" and list(by_loc(ack.errors)) == [("emoji",)]
    assert nothing_received(bob, "reaction")


@pytest.mark.parametrize("message", ["", "a b", "x" * 129, "a\u202eb", "a\x00", -1, 1.5, True, [1], {"id": 1}])
def test_the_message_must_look_like_an_id(room, message: object) -> None:
    ack = room.join("Ann").broadcast("reaction", {"message": message, "emoji": "👍"})
    assert ack.code == "validation_failed" and list(by_loc(ack.errors)) == [("message",)]


@pytest.mark.parametrize("value", ["+1", "👍👍", None, 128077, [], {"message": "abc-1"}])
def test_a_value_without_one_emoji_is_refused(room, value: object) -> None:
    ack = room.join("Ann").broadcast("reaction", value)
    assert ack.code == "validation_failed"


def test_a_room_can_limit_the_emoji(room_named) -> None:
    room = room_named("thumbs")
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("reaction", {"message": "abc-1", "emoji": "❤️"}).ok
    assert ann.broadcast("reaction", "👍").ok
    ack = ann.broadcast("reaction", {"message": "abc-1", "emoji": "🎉"})
    assert ack.code == "validation_failed" and ack.errors[0]["type"] == "emoji_not_allowed"
    assert "👍" in ack.errors[0]["msg"]
    assert ann.broadcast("reaction", "🎉").errors[0]["type"] == "emoji_not_allowed"
    bob.sync()
    assert [m.value for m in bob.messages(type="reaction")] == [{"message": "abc-1", "emoji": "❤️"}, "👍"]
