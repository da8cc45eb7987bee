"""One owner for a bot's timers in one room: ``Timers``.

Every timer runs through the bot's clock (a ``FakeClock`` in tests), is
tracked until its callback ran, and is cancelled with the rest when the bot
stops or leaves the room. Timers may be grouped (``group="quiz"``) so that
one part of a bot can cancel its own. With the room's lock, a callback runs
one at a time with the room's handlers, and a timer cancelled while its
callback waited for the lock does not run at all: the callback never sees a
state it was not scheduled for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from ..clock import Callback, Clock, Timer, run_within

__all__ = ["Timers"]

log = logging.getLogger("roomchat.bots")

Runner = Callable[[str, Callback], Awaitable[None]]
"""How a callback is run: ``run(what, callback)`` (a bot's: isolated, logged, within its handler_timeout)."""


async def _run_logged(what: str, callback: Callback) -> None:
    try:
        await run_within(None, callback)
    except Exception:
        log.exception("%s failed", what)


class Timers:
    """The timers of one room: ``call_later``, ``cancel``, ``pending``, ``close``.

    ``lock`` (the room's) is held while a callback runs; ``run`` runs it
    (default: log what it raises); ``label`` names the callbacks in logs.
    """

    def __init__(self, clock: Clock, *, lock: asyncio.Lock | None = None, run: Runner | None = None,
                 label: str = "timer") -> None:
        self.clock = clock
        self.label = label
        self._lock = lock
        self._run = run or _run_logged
        self._timers: dict[Timer, str] = {}
        self._closed = False

    def call_later(self, seconds: float, callback: Callback, *, group: str = "") -> Timer:
        """Run ``callback`` (sync or async, no arguments) after ``seconds`` of the clock; ``timer.cancel()`` stops it.

        After ``close`` nothing is scheduled: the Timer comes back cancelled.
        """
        timer: Timer

        async def fire() -> None:
            async with self._locked():
                if timer.cancelled or self._timers.pop(timer, None) is None:
                    return  # cancelled, or closed, while it waited for the lock
                await self._run(self.label, callback)

        timer = self.clock.call_later(seconds, fire)
        if self._closed:
            timer.cancel()
        else:
            self._timers[timer] = group
        return timer

    def cancel(self, group: str | None = None) -> int:
        """Cancel every pending timer (of ``group`` only, when given); how many were cancelled."""
        chosen = [t for t, g in self._timers.items() if group is None or g == group]
        for timer in chosen:
            timer.cancel()
            del self._timers[timer]
        return len(chosen)

    def pending(self, group: str | None = None) -> int:
        """How many timers (of ``group``) are still to run."""
        return sum(1 for t, g in self._timers.items() if not t.cancelled and (group is None or g == group))

    def close(self) -> None:
        """Cancel every timer and schedule no more (the bot stopped or left the room)."""
        self._closed = True
        self.cancel()

    def _locked(self) -> AbstractAsyncContextManager[Any]:
        return self._lock if self._lock is not None else nullcontext()
