"""Fixtures for the built-in message types: one real server per test module, a fresh room per test.

A test module may set ``ROOMS = {name: room config}`` for rooms with their own
plugin settings (``{"plugins": {"settings": {"text": {"max_length": 10}}}}``)
or their own ``plugins.enabled``; every other room name is created on first
join with the built-ins' defaults. ``room`` is a fresh such room for each
test; ``room_named("short")`` opens one of the module's ``ROOMS``. Users a
test joined are disconnected when it ends; the server stops after the module.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from roomchat.clock import FakeClock
from roomchat.testing import RoomchatThread
from roomchat.testing.pytest_plugin import RoomHarness

OPEN = {"admit": ["users", "guests"], "rate_limit": None}
"""Every test room: guests and known users (``join(role="TEACHER")``), no rate limit."""


def plugin_config(rooms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A server config with ``rooms`` (each open like ``OPEN``) and new rooms created on first join."""
    return {
        "server": {"create_rooms": True, "new_room": OPEN, "handler_timeout": 2.0},
        "rooms": {name: {**OPEN, **room} for name, room in rooms.items()},
    }


class Room(RoomHarness):
    """A room of the module's server; ``leave_all()`` disconnects its users, the server keeps running."""

    def leave_all(self) -> None:
        """Disconnect every user this room joined."""
        for user in self.users:
            user.leave()


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[RoomchatThread]:
    """A roomchat server (built-in plugins only) with the test module's ``ROOMS``.

    A module with ``FAKE_CLOCK = True`` gets a server on a ``FakeClock`` (``server.clock``).
    """
    clock = FakeClock() if getattr(request.module, "FAKE_CLOCK", False) else None
    thread = RoomchatThread(plugin_config(getattr(request.module, "ROOMS", {})), clock=clock)
    thread.start()
    yield thread
    thread.stop()


_numbers = itertools.count(1)


@pytest.fixture
def room_named(server: RoomchatThread) -> Iterator[Callable[[str], Room]]:
    """``room_named(name)``: a Room for one of the module's ``ROOMS`` (or any name)."""
    rooms: list[Room] = []

    def open_room(name: str) -> Room:
        room = Room(server, name)
        rooms.append(room)
        return room

    yield open_room
    for room in rooms:
        room.leave_all()


@pytest.fixture
def room(room_named: Callable[[str], Room], request: pytest.FixtureRequest) -> Room:
    """A room no other test uses, with the built-ins' default settings."""
    return room_named(f"p{next(_numbers)}-{request.node.name[:40]}")
