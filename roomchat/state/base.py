"""The interfaces every state backend implements."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..users import User


@dataclass(frozen=True, slots=True)
class Joined:
    """The result of adding a connection: whether it is the user's first, and the room's users."""

    first: bool
    members: list[User]


class Presence(ABC):
    """Who is in which room, with how many connections."""

    announces: bool = False
    """True when the backend itself sends ``user-connected`` / ``user-disconnected``
    (the Redis backend does, in one order across servers); joining.py then does not."""

    @abstractmethod
    async def join(self, room: str, user: User, sid: str) -> Joined:
        """Add one connection of ``user``; the member list is in order of joining.

        A user ID the room holds already as a different User (another name,
        role or kind) raises ``IdentityClash``: one ID, one identity.
        """

    @abstractmethod
    async def leave(self, room: str, user: User, sid: str) -> bool:
        """Remove one connection; True when it was the user's last in the room."""

    @abstractmethod
    async def members(self, room: str) -> list[User]:
        """The room's users in order of joining."""

    @abstractmethod
    async def member(self, room: str, user_id: int) -> User | None:
        """The user with this ID if it is in the room."""

    @abstractmethod
    async def count(self, room: str) -> int:
        """How many users (not connections) are in the room."""

    @abstractmethod
    async def sids(self, room: str, user_id: int) -> list[str]:
        """The user's connections in the room (on every server)."""


@dataclass(frozen=True, slots=True)
class NewGuest:
    """A guest ID just handed out, and the guest's number for the default name ``Guest <number>``."""

    id: int
    number: int


def wall_clock_us() -> int:
    """Microseconds since 1970 (the wall clock: comparable across processes and restarts)."""
    return time.time_ns() // 1000


def guest_id_floor(start: int, now_us: int | None = None) -> int:
    """The lowest guest ID to hand out now: ``start`` plus the microseconds since 1970.

    Guest IDs follow the clock, so a process started later hands out IDs above
    every ID an earlier one could have (it would have had to admit more than a
    guest per microsecond to get ahead of the clock), without storing anything.
    With ``auth.guest_id_start`` at most 10**15 they stay below 2**53, exact in
    JavaScript, until past the year 2200.
    """
    return start + (wall_clock_us() if now_us is None else now_us)


class GuestIds(ABC):
    """Allocates guest IDs that never repeat, across restarts too, and never collide with configured ones."""

    @abstractmethod
    async def allocate(self) -> NewGuest:
        """A fresh guest ID (at least ``guest_id_floor``, above every ID handed out before), and its number."""


class RateLimiter(ABC):
    """Token buckets: at most ``limit`` hits in any ``window`` seconds per key."""

    @abstractmethod
    async def hit(self, key: str, limit: int, window: float) -> bool:
        """Count one hit; False when the key is over its limit (the hit is not counted)."""


class KeyValueStore(ABC):
    """Small shared state for plugins and bots (poll tallies, say), namespaced by the caller.

    The operations map one to one onto Redis so the cluster backend can share
    them; values are JSON-compatible.
    """

    @abstractmethod
    async def get(self, key: str) -> Any:
        """The value at ``key``, or None."""

    @abstractmethod
    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """The values at ``keys``, in order (None where there is none), in one round trip."""

    @abstractmethod
    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` at ``key``, forgotten after ``ttl`` seconds if given."""

    @abstractmethod
    async def delete(self, key: str) -> bool:
        """Forget ``key``; True if it held a value."""

    @abstractmethod
    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        """Set one field of the hash at ``key``; with ``only_if_new``, not if it exists. True if set.

        With ``ttl``, the whole hash is forgotten ``ttl`` seconds after this call.
        """

    @abstractmethod
    async def hash_get_all(self, key: str) -> dict[str, Any]:
        """Every field of the hash at ``key``."""

    @abstractmethod
    async def incr(self, key: str, amount: int = 1) -> int:
        """Add to the integer at ``key`` (0 if missing) and return the result."""


class Leases(ABC):
    """Work that runs on one server of a cluster at a time (a configured bot), moving when its server dies."""

    @abstractmethod
    async def hold(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work()`` while this server holds lease ``name``; until cancelled.

        Waits for the lease, runs ``work`` while renewing it, cancels ``work`` if
        the lease is lost, and waits again. Cancelling ``hold`` cancels ``work``
        and releases the lease, so another server takes it over.
        """


@dataclass
class StateBackend:
    """The set of stores one server uses."""

    presence: Presence
    guest_ids: GuestIds
    rate_limiter: RateLimiter
    kv: KeyValueStore
    leases: Leases

    def check_available(self) -> None:
        """Raise a Refusal (``unavailable``) when the shared store cannot be reached, so joins are refused."""

    async def start(self) -> None:
        """Connect to whatever the backend needs."""

    async def close(self) -> None:
        """Release what ``start`` took."""
