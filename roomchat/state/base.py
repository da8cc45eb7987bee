"""The interfaces every state backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ..users import User


@dataclass(frozen=True, slots=True)
class Joined:
    """The result of adding a connection: whether it is the user's first, and the room's users."""

    first: bool
    members: list[User]


class Presence(ABC):
    """Who is in which room, with how many connections."""

    @abstractmethod
    async def join(self, room: str, user: User, sid: str) -> Joined:
        """Add one connection of ``user``; the member list is in order of joining."""

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


class GuestIds(ABC):
    """Allocates guest IDs that never repeat and never collide with configured ones."""

    @abstractmethod
    async def allocate(self) -> int:
        """A fresh guest ID."""


class RateLimiter(ABC):
    """Token buckets: at most ``limit`` hits in any ``window`` seconds per key."""

    @abstractmethod
    async def hit(self, key: str, limit: int, window: float) -> bool:
        """Count one hit; False when the key is over its limit (the hit is not counted)."""

    @abstractmethod
    async def forget(self, key: str) -> None:
        """Drop a key's counter (its user left)."""


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
    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False) -> bool:
        """Set one field of the hash at ``key``; with ``only_if_new``, not if it exists. True if set."""

    @abstractmethod
    async def hash_get_all(self, key: str) -> dict[str, Any]:
        """Every field of the hash at ``key``."""

    @abstractmethod
    async def incr(self, key: str, amount: int = 1) -> int:
        """Add to the integer at ``key`` (0 if missing) and return the result."""


@dataclass
class StateBackend:
    """The set of stores one server uses."""

    presence: Presence
    guest_ids: GuestIds
    rate_limiter: RateLimiter
    kv: KeyValueStore

    async def start(self) -> None:
        """Connect to whatever the backend needs."""

    async def close(self) -> None:
        """Release what ``start`` took."""
