"""Is the server still doing its work? What ``/healthz`` checks beyond "the process answers".

- ``LoopWatchdog``: how late the event loop runs a timer. A loop busy with
  synchronous work (a catastrophic regular expression, a plugin that
  blocks) serves nobody meanwhile; the watchdog remembers a lag over
  ``server.health.max_loop_lag`` for ``server.health.report_for`` seconds.
- ``overdue_connections``: connections whose pings timed out a whole ping
  cycle ago and that are still open. python-engineio's sweep closes a
  connection within ``ping_timeout`` of its timing out; one left open means
  the sweep, or the disconnect handling it runs, is stuck.

The cluster's presence feed has a check of its own (``cluster/node.py``).
These read the real time (``time``), never the server's ``Clock``: a test's
FakeClock does not make a stuck loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from .logs import event

log = logging.getLogger("roomchat.health")

OVERDUE_FLOOR = 5.0  # seconds: the least grace a timed-out connection gets before it counts as overdue


class LoopWatchdog:
    """A timer every ``interval`` seconds on the event loop, and how late it fires.

    ``problem()`` is a sentence while the loop is late by more than
    ``max_lag`` now, or was within the last ``report_for`` seconds; else None.
    """

    def __init__(self, max_lag: float, report_for: float, now: Callable[[], float] = time.monotonic) -> None:
        self.max_lag = max_lag
        self.report_for = report_for
        self.interval = min(0.25, max_lag / 4)
        self._now = now
        self._last_tick = now()
        self._worst: tuple[float, float] | None = None  # (lag, when it was measured) of the last lag over max_lag
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start timing the running loop."""
        if self._task is None:
            self._last_tick = self._now()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop watchdog")

    async def stop(self) -> None:
        """Stop timing."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            before = self._now()
            await asyncio.sleep(self.interval)
            self._tick(self._now() - before - self.interval)

    def _tick(self, lag: float) -> None:
        now = self._last_tick = self._now()
        if lag <= self.max_lag:
            return
        if self._worst is None or now - self._worst[1] > self.report_for:
            event(log, "loop_lag", logging.WARNING, seconds=round(lag, 3), limit=self.max_lag,
                  effect="every client waited; /healthz reports it for report_for seconds")
        self._worst = (lag, now)

    def problem(self) -> str | None:
        """Why the loop counts as stuck (a sentence), or None."""
        if self._task is None:
            return None
        now = self._now()
        late = now - self._last_tick - self.interval  # the timer should have fired by now, and has not
        if late > self.max_lag:
            return f"the event loop is stuck: it has not run its watchdog for {late:.1f} s (limit {self.max_lag:g} s)"
        if self._worst is not None and now - self._worst[1] <= self.report_for:
            lag, when = self._worst
            return (f"the event loop was stuck for {lag:.1f} s, {now - when:.0f} s ago "
                    f"(limit {self.max_lag:g} s; reported for {self.report_for:g} s)")
        return None


def overdue_connections(eio: Any, now: float | None = None) -> int:
    """How many of python-engineio's connections timed out (no answer to a ping) a whole ping cycle ago, still open.

    ``eio`` is the ``engineio.AsyncServer``; its sockets' ``last_ping`` is the
    time (``time.time()``) of a ping not answered yet.
    """
    now = time.time() if now is None else now
    grace = max(eio.ping_interval + eio.ping_timeout, OVERDUE_FLOOR)
    limit = eio.ping_timeout + grace
    return sum(1 for s in list(eio.sockets.values())
               if not s.closed and s.last_ping and now - s.last_ping > limit)


def overdue_problem(eio: Any) -> str | None:
    """A sentence for ``/healthz`` when connections that timed out are not being closed, else None."""
    count = overdue_connections(eio)
    if not count:
        return None
    return (f"{count} connection{'s' if count != 1 else ''} stopped answering pings a whole ping cycle ago and "
            "{} not been closed: the ping-timeout sweep is stuck".format("has" if count == 1 else "have"))
