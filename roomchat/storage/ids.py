"""Message ids: unique, ordered, strings that sort as they are ordered.

An id is a sequence number written as 16 decimal digits (``0001764322879123456``
would be 19; today's are 16, and 16 suffice until the year 2286), so comparing
two ids as strings compares them as numbers. The sequence is

    next = max(last + 1, microseconds since 1970)

- **ordered**: each id is above the one before, on one server; in a cluster
  one Redis script hands them out for every server (``redislog``), in the order
  the messages are published, so a later message of a room has a later id
  wherever it was sent;
- **unique across restarts without a write per message**: a process started
  later begins at its clock, above every id an earlier one gave (it would have
  had to give more than a million ids a second to get ahead of the clock); the
  database's highest committed id is a second floor, for a clock set back;
- **unique across rooms**: one sequence serves every room, so an id names one
  message of the server (a reaction names the message it is on by id alone);
- **cheap**: an integer comparison and a clock read, no await on the delivery path.

Gaps are normal (a consumed message's id is never in history; a restart jumps
to the clock): clients must not read anything into them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

WIDTH = 16
LIMIT = 10**WIDTH  # ids stay 16 digits below this: past the year 2286


def wall_clock_us() -> int:
    """Microseconds since 1970 (the wall clock: comparable across processes and restarts)."""
    return time.time_ns() // 1000


def format_id(seq: int) -> str:
    """The id string of a sequence number: fixed width, so strings sort as numbers."""
    return f"{seq:0{WIDTH}d}"


def parse_id(text: object) -> int | None:
    """The sequence number of an id string; None for anything that is not one (a malformed ``since``)."""
    if not isinstance(text, str) or len(text) != WIDTH or not text.isascii() or not text.isdigit():
        return None
    return int(text)


class SequenceAllocator:
    """One server's ids: above ``floor`` (the database's highest) and above the clock, one more each time."""

    def __init__(self, floor: int = 0, now_us: Callable[[], int] = wall_clock_us) -> None:
        self._last = floor
        self._now_us = now_us

    @property
    def last(self) -> int:
        """The last sequence number handed out (or the floor)."""
        return self._last

    def raise_floor(self, floor: int) -> None:
        """Never hand out ``floor`` or below (the database's highest id, read after start-up)."""
        self._last = max(self._last, floor)

    def next(self) -> int:
        """A fresh sequence number, above every earlier one."""
        self._last = seq = max(self._last + 1, self._now_us())
        return seq
