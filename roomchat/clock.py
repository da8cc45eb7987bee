"""One clock for plugins, bots and the core, which tests can replace.

Everything that reads the time or schedules a timer goes through the
server's Clock (``ChatServer(clock=...)``: delivery times, rate limits,
key-value expiry, moderation, plugins' ``chat.clock``, bots' timers), so a
test can say ``await clock.advance(20)`` instead of sleeping 20 seconds.

What reads the real time on purpose: guest IDs (they follow the wall clock so
that none repeats across restarts), the event-loop watchdog (a FakeClock does
not make a stuck loop), python-engineio's pings and the fan-out's check of
them, a cluster's heartbeat, feed and Redis' own clock (other servers are
real), and bots' reconnection backoff.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

Callback = Callable[[], Awaitable[Any] | Any]


class Timer:
    """A scheduled callback; ``cancel()`` stops it if it has not run."""

    def __init__(self, when: float, callback: Callback) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self.done = False
        self._handle: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        """Do not run the callback."""
        self.cancelled = True
        if self._handle is not None:
            self._handle.cancel()


async def run_within(seconds: float | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call ``fn``; if it returns an awaitable, await it for at most ``seconds`` (None: no limit).

    Raises TimeoutError when the limit passes. Every plugin and bot handler is
    run through this. It uses ``asyncio.timeout`` rather than ``wait_for``: the
    awaitable runs in the caller's task (no task per call), and on Python 3.11
    ``wait_for`` can swallow a cancellation that arrives as the awaitable
    finishes (a bot then never stopped).
    """
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        async with asyncio.timeout(seconds):
            await result


async def _run(callback: Callback) -> None:
    await run_within(None, callback)


class Clock:
    """The real clock: ``time.time()`` and the event loop's timers."""

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds that only go forward (for durations)."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        await asyncio.sleep(seconds)

    def call_later(self, seconds: float, callback: Callback) -> Timer:
        """Run ``callback`` (sync or async) after ``seconds``."""
        timer = Timer(self.monotonic() + seconds, callback)
        loop = asyncio.get_running_loop()

        def fire() -> None:
            timer.done = True
            if not timer.cancelled:
                task = loop.create_task(_run(callback))
                _tasks.add(task)
                task.add_done_callback(_tasks.discard)

        timer._handle = loop.call_later(max(0.0, seconds), fire)
        return timer


_tasks: set[asyncio.Task[None]] = set()


class FakeClock(Clock):
    """A clock that moves only when told: ``await clock.advance(seconds)``.

    Timers due within the advanced span run in time order, each awaited, and
    ``sleep`` waits until the clock has been advanced past its end.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._start = start
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._start

    def call_later(self, seconds: float, callback: Callback) -> Timer:
        timer = Timer(self.monotonic() + max(0.0, seconds), callback)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        self.call_later(seconds, wake)
        await done

    async def advance(self, seconds: float) -> None:
        """Move time forward, running every timer that falls due on the way."""
        end = self.monotonic() + seconds
        while self._timers and self._timers[0][0] <= end:
            when, _, timer = heapq.heappop(self._timers)
            self._now = self._start + max(when, self.monotonic())
            if not timer.cancelled:
                timer.done = True
                await _run(timer.callback)
                await asyncio.sleep(0)  # let woken sleepers run
        self._now = self._start + end

    def pending(self) -> int:
        """How many timers are still to run."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)
