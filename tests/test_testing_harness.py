"""The pytest fixtures roomchat ships (roomchat.testing.pytest_plugin): a harness on a FakeClock."""

from __future__ import annotations

import pytest

from roomchat.clock import FakeClock


def test_a_harness_on_a_fake_clock_ends_a_mute_without_sleeping(roomchat_start) -> None:
    room = roomchat_start(clock=FakeClock())
    tess, ann = room.join("Tess", role="TEACHER"), room.join("Ann")
    assert tess.broadcast("moderation", {"action": "mute", "user": ann.id, "seconds": 60}).ok
    assert ann.broadcast("text", "hello?").code == "muted"
    room.advance(59)
    assert ann.broadcast("text", "hello?").code == "muted"
    room.advance(2)
    assert ann.broadcast("text", "hello!").ok


def test_advance_needs_a_fake_clock(roomchat_start) -> None:
    room = roomchat_start()
    with pytest.raises(RuntimeError, match="FakeClock"):
        room.advance(1)
