"""The interfaces every state backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

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


@dataclass
class StateBackend:
    """The set of stores one server uses."""

    presence: Presence
    guest_ids: GuestIds
    rate_limiter: RateLimiter

    async def start(self) -> None:
        """Connect to whatever the backend needs."""

    async def close(self) -> None:
        """Release what ``start`` took."""
