"""A room's announcements (``initial-response``, ``user-connected``, ``user-disconnected``), in order, off the lock.

Joins and leaves of a room change its presence one at a time, under the
room's lock (``core.joining.RoomLocks``); the announcements of those changes must
reach clients in the same order. They cannot be emitted under the lock: an
emit that reaches a connection whose pings timed out makes python-engineio
close that connection and run its disconnect handler right there, inside the
emit, and that handler needs the room's lock to record the leave (a deadlock
that froze the room, python-engineio's ping-timeout sweep, a cluster's
presence feed and shutdown).

So whoever changes a room's presence, under its lock, only *posts* what has
to be said (``Announcer.post``: synchronous, no emit), and one task per room
with something to say emits the posts in order, holding nothing. A
disconnect that one of those emits sets off takes the lock, posts its own
leave behind the others and returns: nothing waits for itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger("roomchat.joins")

Step = Callable[[], Awaitable[None]]
"""One announcement: emits it when awaited (called by the room's task, in posting order)."""


class Announcer:
    """Per room, a queue of announcements and the one task that emits them, in the order they were posted."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Step]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def post(self, room: str, step: Step) -> None:
        """Queue ``step`` behind the room's earlier announcements.

        Synchronous: call it under the room's lock, at the point the change
        it announces is made, so the order of posts is the order of changes.
        """
        queue = self._queues.get(room)
        if queue is None:
            queue = self._queues[room] = deque()
            self._tasks[room] = asyncio.get_running_loop().create_task(self._drain(room, queue),
                                                                       name=f"announce {room}")
        queue.append(step)

    def busy(self) -> int:
        """How many rooms have announcements waiting or being emitted."""
        return len(self._tasks)

    async def _drain(self, room: str, queue: deque[Step]) -> None:
        try:
            while queue:
                step = queue.popleft()
                try:
                    await step()
                except Exception:  # one failed announcement must not silence the room
                    log.exception("an announcement in room %r failed", room)
        finally:
            # No await between the last look at the queue and here: a post either
            # found this task running, or comes after and starts a new one.
            del self._queues[room]
            del self._tasks[room]

    async def idle(self) -> None:
        """Wait until every room's announcements have been emitted (those posted meanwhile too)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        """Drop whatever is still to be said (the server is stopping) and end every room's task."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
