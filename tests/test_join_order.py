"""Plugins hear of a room's joins and leaves one call at a time, in the room's order, after the room was told.

Announcements go out after a room's lock is released (roomchat/announcing.py);
``roomchat_user_joined`` and ``roomchat_user_left`` follow in a queue of their
own per room, so a slow hook delays only the next hook of that room.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from roomchat import hookimpl
from roomchat.testing import ChatClient
from roomchat.testing.pytest_plugin import RoomHarness


class SlowGreeter:
    """Records when each hook call starts and ends; the join hook takes a while (a slow database, say)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    @hookimpl
    async def roomchat_user_joined(self, chat, room: str, user) -> None:
        self.calls.append(("joined", user.id))
        await asyncio.sleep(0.5)
        self.calls.append(("joined done", user.id))

    @hookimpl
    async def roomchat_user_left(self, chat, room: str, user) -> None:
        self.calls.append(("left", user.id))


def test_a_quick_leave_is_heard_after_the_slow_join_hook_finished(
        roomchat_start: Callable[..., RoomHarness]) -> None:
    plugin = SlowGreeter()
    room = roomchat_start(plugins={"slow-greeter": plugin})
    watcher = room.join("Wendy")
    guest = ChatClient(room.url, room="test", name="Quick")
    watcher.client.wait_for("user-connected", lambda p: p["data"]["ID"] == guest.id)
    guest.close()  # while its join hook is still running
    watcher.client.wait_for("user-disconnected", lambda p: p["data"]["ID"] == guest.id)
    room.wait_until(lambda: ("left", guest.id) in plugin.calls, "the leave hook")
    assert [c for c in plugin.calls if c[1] == guest.id] == [
        ("joined", guest.id), ("joined done", guest.id), ("left", guest.id)]
    # The room was not held up meanwhile: a newcomer got its list while a hook ran.
    late = ChatClient(room.url, room="test", name="Late")
    assert [u["name"] for u in late.users] == ["Wendy", "Late"]
    late.close()
