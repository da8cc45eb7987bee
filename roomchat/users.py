"""Who takes part in a room: roles and users as the wire protocol shows them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .errors import Refusal


class Role(str, Enum):
    """A user's role. It always comes from a credential, never from the client."""

    ADMIN = "ADMIN"
    TEACHER = "TEACHER"
    STUDENT = "STUDENT"

    @property
    def is_staff(self) -> bool:
        """Teachers and admins run rooms: moderation, quizzes, locks."""
        return self is not Role.STUDENT


ROOM_ID = 0
"""ID 0 is the room itself: the sender of messages from the server or a plugin."""


@dataclass(frozen=True, slots=True)
class User:
    """A participant as the protocol shows it: ``{"ID", "role", "name"}``.

    ``bot`` is server-side knowledge only; it is never sent to clients.
    """

    id: int
    role: Role
    name: str
    bot: bool = False
    # Made once: a join's initial-response lists every member, so a room of N costs N of these per join.
    _wire: dict[str, Any] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_wire", {"ID": self.id, "role": self.role.value, "name": self.name})

    def as_wire(self) -> dict[str, Any]:
        """The user as every payload shows it (a copy of its own)."""
        return dict(self._wire)

    def shared_wire(self) -> Mapping[str, Any]:
        """``as_wire`` without the copy, for a payload encoded at once and never changed (a join's user list)."""
        return self._wire

    @classmethod
    def from_wire(cls, data: dict[str, Any], bot: bool = False) -> User:
        """Read a user back from a payload (``as_wire``'s inverse)."""
        return cls(id=int(data["ID"]), role=Role(data["role"]), name=str(data["name"]), bot=bot)


class IdentityClash(Refusal):
    """A second identity under one user ID: refused, so an ID is never shown with (or sent) another's identity.

    Presence raises it when a connection joins under an ID that the room
    holds already as a different user (another name, role or kind); the
    join is refused with ``unauthorized``.
    """

    def __init__(self, user_id: int) -> None:
        super().__init__(
            "unauthorized",
            f"User ID {user_id} is in this room already with another name or role; close your other "
            "connections to this room, or ask for a credential of your own",
        )
