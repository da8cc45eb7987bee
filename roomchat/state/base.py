"""The interfaces every state backend implements."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

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
    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` at ``key``, forgotten after ``ttl`` seconds if given."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Forget ``key``."""

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


SanctionKind = Literal["mute", "ban", "lock"]


@dataclass(frozen=True, slots=True)
class Sanction:
    """A mute or a ban of one user in one room, or a room's lock (stored under user 0).

    ``until``: when it ends, in seconds since the epoch of the server's clock
    (None: until undone); ``by``: the ID of who imposed it; ``scope`` (locks):
    ``all``, ``broadcast`` or ``direct``; ``by_admin``: an admin imposed it
    (only those bind a teacher).
    """

    until: float | None
    by: int
    reason: str = ""
    scope: str = ""
    by_admin: bool = False

    def active(self, now: float) -> bool:
        """Whether it is still in force at ``now`` (read from the server's clock)."""
        return self.until is None or now < self.until

    def as_json(self) -> dict[str, Any]:
        """A JSON object (what a Redis backend stores)."""
        return {"until": self.until, "by": self.by, "reason": self.reason, "scope": self.scope,
                "by_admin": self.by_admin}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sanction:
        """``as_json``'s inverse."""
        return cls(data.get("until"), int(data.get("by", 0)), data.get("reason", ""), data.get("scope", ""),
                   bool(data.get("by_admin", False)))


class ModerationStore(ABC):
    """Mutes and bans per room and user, and room locks: one key each, with a TTL.

    A Redis backend keeps each as a key ``mod:{kind}:{room}:{user_id}``
    holding ``Sanction.as_json()``, with ``EXPIRE`` set from ``ttl`` (plus a
    little, so the server's clock, not Redis, decides the exact end), and
    answers ``restrictions`` with one ``MGET``. Whether a sanction is still
    in force is decided by the caller: ``sanction.active(server.clock.now())``.
    """

    @abstractmethod
    async def put(self, kind: SanctionKind, room: str, user_id: int, sanction: Sanction, ttl: float | None) -> None:
        """Store a sanction (replacing the one of the same kind), kept at least ``ttl`` seconds (None: forever)."""

    @abstractmethod
    async def get(self, kind: SanctionKind, room: str, user_id: int) -> Sanction | None:
        """The stored sanction, if any (possibly expired: check ``active``)."""

    @abstractmethod
    async def remove(self, kind: SanctionKind, room: str, user_id: int) -> bool:
        """Forget a sanction; True if there was one."""

    @abstractmethod
    async def restrictions(self, room: str, user_id: int) -> tuple[Sanction | None, Sanction | None]:
        """The user's mute and the room's lock in one read: the check every message makes."""

    def may_restrict(self, room: str) -> bool:
        """A synchronous hint: False only when surely no mute or lock exists in ``room``.

        Lets every message of an unrestricted room skip the read. A shared
        backend that cannot know without a round trip keeps the default, True.
        """
        return True


class Leases(ABC):
    """Work that runs on one server of a cluster at a time (a configured bot), moving when its server dies."""

    @abstractmethod
    async def hold(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work()`` while this server holds lease ``name``; until cancelled.

        Waits for the lease, runs ``work`` while renewing it, cancels ``work`` if
        the lease is lost, and waits again. Cancelling ``hold`` cancels ``work``
        and releases the lease, so another server takes it over.
        """


def _memory_leases() -> Leases:
    from .memory import MemoryLeases

    return MemoryLeases()


def _memory_moderation() -> ModerationStore:
    from .memory import MemoryModeration

    return MemoryModeration()


@dataclass
class StateBackend:
    """The set of stores one server uses."""

    presence: Presence
    guest_ids: GuestIds
    rate_limiter: RateLimiter
    kv: KeyValueStore
    moderation: ModerationStore = field(default_factory=_memory_moderation)
    leases: Leases = field(default_factory=_memory_leases)

    def bind(self, server: Any) -> None:
        """Meet the ChatServer using this backend (the Redis backend announces presence through it)."""

    def check_available(self) -> None:
        """Raise a Refusal (``unavailable``) when the shared store cannot be reached, so joins are refused."""

    def problems(self) -> list[str]:
        """What keeps this backend from working although it can be reached, as sentences (``/healthz``)."""
        return []

    async def start(self) -> None:
        """Connect to whatever the backend needs."""

    async def close(self) -> None:
        """Release what ``start`` took."""
