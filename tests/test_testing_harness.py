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


def test_a_process_whose_free_port_another_server_took_starts_on_another(tmp_path) -> None:
    """Another test's server bound the port picked for this one first: that server must not be taken for ours.

    Seen under pytest-xdist: a test read /schema from another worker's server
    (it answered /healthz on the port while ours failed to bind it).
    """
    from roomchat.testing import RoomchatProcess
    from roomchat.testing.servers import holds_listening_port

    config = {"rooms": {"lobby": {"admit": ["guests"]}}}
    with RoomchatProcess(config) as first:
        second = RoomchatProcess(config)
        second.port, second.url = first.port, first.url  # the collision, made certain
        with second:
            assert second.port != first.port
            assert second.proc is not None and holds_listening_port(second.proc.pid, second.port) is True
            assert first.proc is not None and holds_listening_port(first.proc.pid, second.port) is False
            assert "event=not_listening" in second.log()


def test_a_restart_on_a_chosen_port_that_is_taken_says_so(tmp_path) -> None:
    from roomchat.testing import RoomchatProcess

    config = {"rooms": {"lobby": {"admit": ["guests"]}}}
    with RoomchatProcess(config) as first:
        with pytest.raises(RuntimeError, match="not_listening"):
            RoomchatProcess(first.config_path, port=first.port).start(timeout=10)
