"""State held in this process: the default, for a single server."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..clock import Clock
from ..users import IdentityClash, User
from .base import (
    GuestIds,
    Joined,
    KeyValueStore,
    Leases,
    NewGuest,
    Presence,
    RateLimiter,
    StateBackend,
    guest_id_floor,
    wall_clock_us,
)


class MemoryPresence(Presence):
    """Rooms as dicts of user ID to (user, connections), in order of joining."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[int, tuple[User, set[str]]]] = {}

    async def join(self, room: str, user: User, sid: str) -> Joined:
        members = self._rooms.setdefault(room, {})
        entry = members.get(user.id)
        if entry is None:
            members[user.id] = (user, {sid})
        elif entry[0] != user:
            raise IdentityClash(user.id)  # never merged into another's entry: it would get their messages
        else:
            entry[1].add(sid)
        return Joined(first=entry is None, members=[u for u, _ in members.values()])

    async def leave(self, room: str, user: User, sid: str) -> bool:
        members = self._rooms.get(room)
        entry = members.get(user.id) if members else None
        if entry is None or sid not in entry[1]:
            return False
        entry[1].discard(sid)
        if entry[1]:
            return False
        del members[user.id]  # type: ignore[union-attr]
        if not members:
            del self._rooms[room]
        return True

    async def members(self, room: str) -> list[User]:
        return [u for u, _ in self._rooms.get(room, {}).values()]

    async def member(self, room: str, user_id: int) -> User | None:
        entry = self._rooms.get(room, {}).get(user_id)
        return entry[0] if entry else None

    async def count(self, room: str) -> int:
        return len(self._rooms.get(room, ()))

    async def sids(self, room: str, user_id: int) -> list[str]:
        entry = self._rooms.get(room, {}).get(user_id)
        return sorted(entry[1]) if entry else []


class MemoryGuestIds(GuestIds):
    """Guest IDs that follow the wall clock (``guest_id_floor``), so they do not repeat after a restart either."""

    def __init__(self, start: int, now_us: Callable[[], int] = wall_clock_us) -> None:
        self._start = start
        self._now_us = now_us
        self._last = 0
        self._numbers = itertools.count(1)

    async def allocate(self) -> NewGuest:
        self._last = max(self._last + 1, guest_id_floor(self._start, self._now_us()))
        return NewGuest(self._last, next(self._numbers))


class MemoryRateLimiter(RateLimiter):
    """Token buckets in a dict: ``limit`` tokens, refilled at ``limit / window`` per second of ``now`` (the server's clock).

    A bucket outlives its user's connections (reconnecting does not refill it);
    buckets that have refilled completely are dropped now and then, so memory
    follows the users active within a window.
    """

    PRUNE_EVERY = 4096

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, tuple[float, float, float]] = {}  # key -> (tokens, last hit, window)
        self._now = now
        self._hits = 0

    async def hit(self, key: str, limit: int, window: float) -> bool:
        now = self._now()
        self._hits += 1
        if self._hits % self.PRUNE_EVERY == 0:
            self._prune(now)
        tokens, last, _ = self._buckets.get(key, (float(limit), now, window))
        tokens = min(float(limit), tokens + (now - last) * limit / window)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now, window)
            return False
        self._buckets[key] = (tokens - 1.0, now, window)
        return True

    def _prune(self, now: float) -> None:
        for key in [k for k, (_, last, window) in self._buckets.items() if now - last >= window]:
            del self._buckets[key]


class MemoryKeyValue(KeyValueStore):
    """A dict with expiry times, read through the given clock (``now``: the server's clock's ``monotonic``).

    An expired entry goes when it is read, or at the latest with the sweep
    that runs every ``SWEEP_EVERY`` writes (keys nobody reads again, such as
    a finished poll's, must not stay for the life of the process).
    """

    SWEEP_EVERY = 1024

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._now = now
        self._writes = 0

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % self.SWEEP_EVERY == 0:
            now = self._now()
            for key in [k for k, (_, expires) in self._data.items() if expires is not None and now >= expires]:
                del self._data[key]

    def _live(self, key: str) -> Any:
        entry = self._data.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and self._now() >= expires:
            del self._data[key]
            return None
        return value

    async def get(self, key: str) -> Any:
        return copy.deepcopy(self._live(key))

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        return [copy.deepcopy(self._live(key)) for key in keys]

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self._data[key] = (copy.deepcopy(value), self._now() + ttl if ttl is not None else None)
        self._wrote()

    async def delete(self, key: str) -> bool:
        held = self._live(key) is not None  # an expired entry goes here, and held nothing
        self._data.pop(key, None)
        return held

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        table = self._live(key)
        if table is None:
            table = {}
        expires = self._now() + ttl if ttl is not None else self._data.get(key, (None, None))[1]
        self._data[key] = (table, expires)
        self._wrote()
        if only_if_new and field in table:
            return False
        table[field] = copy.deepcopy(value)
        return True

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        return copy.deepcopy(self._live(key) or {})

    async def incr(self, key: str, amount: int = 1) -> int:
        value = int(self._live(key) or 0) + amount
        expires = self._data.get(key, (None, None))[1]
        self._data[key] = (value, expires)
        self._wrote()
        return value

    def entry(self, key: str) -> tuple[Any, float | None] | None:
        """The live value (a hash: its dict of fields) at ``key`` and when it expires on this store's clock, or None.

        Not a copy: the caller reads it at once (the durable mirror encodes it).
        """
        value = self._live(key)
        return None if value is None else (value, self._data[key][1])

    def seconds_left(self, expires: float | None) -> float | None:
        """Seconds from now until ``expires`` (a time on this store's clock), or None for no expiry."""
        return None if expires is None else max(0.0, expires - self._now())


class MemoryLeases(Leases):
    """One server is the whole cluster: every lease is ours at once."""

    async def hold(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        await work()


def memory_backend(guest_id_start: int, clock: Clock | None = None) -> StateBackend:
    """The in-process backend; rate limits and expiry read ``clock`` (the server's; a test's FakeClock moves them).

    Guest IDs follow the real wall clock whatever ``clock`` is: they must
    never repeat across restarts (roomchat/state/base.py, ``guest_id_floor``).
    """
    now = (clock or Clock()).monotonic
    return StateBackend(MemoryPresence(), MemoryGuestIds(guest_id_start), MemoryRateLimiter(now), MemoryKeyValue(now),
                        MemoryLeases())
