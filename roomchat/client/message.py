"""A received chat message: ``Incoming``, shared by bots and the test kit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..users import ROOM_ID, User
from .ack import Ack

__all__ = ["Incoming", "Replier"]


class Replier(Protocol):
    """Where a message can be answered: the room it arrived in (``roomchat.bot.BotRoom``)."""

    reply_in_room: bool

    async def send(self, user_id: int, type: str, value: Any = None) -> Ack: ...

    async def broadcast(self, type: str, value: Any = None) -> Ack: ...


@dataclass(frozen=True, slots=True)
class Incoming:
    """One ``message`` event as its receiver got it.

    ``from_id`` is the sender's ID (0: the room itself, a plugin or the
    server); ``sender`` the sending ``User`` when the receiver knows them
    (None for the room, or for someone it never saw). ``to`` is the
    addressed user's ID for a direct message, None for a broadcast. ``id``
    and ``time`` (ms since the epoch) are the server's; ``data`` is the
    event's whole ``data``. ``room`` is where a bot received it (None in the
    test kit), which ``reply`` answers through.
    """

    from_id: int
    type: str
    value: Any
    sender: User | None = None
    to: int | None = None
    id: str | None = None
    time: int | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    room: Replier | None = field(default=None, repr=False, compare=False)

    @property
    def direct(self) -> bool:
        """True for a message sent to its receiver alone (``message``), False for a broadcast."""
        return self.to is not None

    @property
    def from_room(self) -> bool:
        """True when the room itself (ID 0: the server or a plugin) sent it."""
        return self.from_id == ROOM_ID

    @property
    def text(self) -> str:
        """The value as text: the string itself, or '' for anything that is not a string."""
        return self.value if isinstance(self.value, str) else ""

    async def reply(self, value: Any, type: str = "text", *, in_room: bool | None = None) -> Ack:
        """Answer the sender: a direct ``message`` back (``in_room=True``: a broadcast to the room instead).

        ``in_room`` defaults to the bot's ``reply_in_room``. A message from the
        room (ID 0) has nobody to answer directly: that is refused with
        ``no_sender`` and nothing is sent. Returns the server's Ack.
        """
        if self.room is None:
            raise RuntimeError("reply() answers through the room a bot received the message in; this one has none")
        if in_room if in_room is not None else self.room.reply_in_room:
            return await self.room.broadcast(type, value)
        if self.from_room:
            return Ack.refusal("no_sender", "The room sent this message: there is nobody to answer directly")
        return await self.room.send(self.from_id, type, value)
