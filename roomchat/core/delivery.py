"""Delivery: putting ``message`` events on the wire for users and rooms, through the ``Transport``.

Socket.IO rooms carry the addressing: every connection enters the room's
channel and its user's channel, so a message to a user reaches all of that
user's connections, on every server when a Redis manager is configured.

``Transport`` is what the core needs of the wire; the transport adapter
(roomchat/transport/socketio.py, python-socketio's server with roomchat's
adjustments) implements it. Every ``message`` event of the server leaves
through ``Delivery.send``: the one place where a delivered message can be
recorded (history, issue 13) before it goes out.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Protocol

from .. import protocol
from ..clock import Clock
from ..protocol import Message
from ..users import ROOM_ID

__all__ = ["Delivery", "Transport", "room_channel", "user_channel"]


class Transport(Protocol):
    """What the core needs of the wire (the transport adapter implements it)."""

    async def emit(self, event: str, data: Any = None, to: str | None = None, skip_sid: Any = None,
                   ignore_queue: bool = False) -> None:
        """Send ``event`` to a connection or channel ``to``, but not to ``skip_sid`` (a sid or a list of them).

        ``ignore_queue``: to this server's connections only, even in a cluster.
        """
        ...

    async def enter_room(self, sid: str, room: str) -> None:
        """Put connection ``sid`` in channel ``room``."""
        ...

    async def disconnect(self, sid: str) -> None:
        """Close connection ``sid`` with a normal Socket.IO disconnect (on whichever server holds it)."""
        ...

    def is_connected(self, sid: str) -> bool:
        """Whether connection ``sid`` is still connected to this server."""
        ...

    def wants_ack(self) -> bool:
        """Whether the emit being handled now came with an ack callback."""
        ...


def room_channel(room: str) -> str:
    """The Socket.IO room of a chat room (prefixed, so no name can pose as a user channel)."""
    return "r:" + room


def user_channel(room: str, user_id: int) -> str:
    """The Socket.IO room of one user's connections in one chat room."""
    return f"u:{user_id}:{room}"


class Delivery:
    """Builds ``message`` payloads (with an id and the server clock's time) and emits them."""

    def __init__(self, transport: Transport, clock: Clock) -> None:
        self._transport = transport
        self._clock = clock
        # A per-process prefix keeps ids unique across servers and restarts.
        self._prefix = os.urandom(4).hex()
        self._counter = itertools.count(1)

    def new_id(self) -> str:
        """A fresh message id, unique across servers and restarts."""
        return f"{self._prefix}-{next(self._counter):x}"

    def data(self, sender_id: int, message: Message, message_id: str | None = None,
             to: int | None = None) -> dict[str, Any]:
        """The ``data`` of a ``message`` event: from, message, and the server's id and time (ms).

        ``message_id`` is an id taken earlier with ``new_id`` (so handlers can know it); else a fresh one.
        ``to`` is the addressed user of a direct message: its data carries ``"to"``, so a recipient
        (a bot, say) can tell a message to it from one to the whole room, which has no ``"to"``.
        """
        data = {
            "from": sender_id,
            "message": {"type": message.type, "value": message.value},
            "id": message_id or self.new_id(),
            "time": int(self._clock.now() * 1000),
        }
        if to is not None:
            data["to"] = to
        return data

    async def send(self, data: dict[str, Any], to: str, skip: list[str] | str | None = None) -> None:
        """Emit prepared ``data`` to a channel, skipping the given connections."""
        await self._transport.emit(protocol.MESSAGE, protocol.payload("New message", data), to=to, skip_sid=skip)

    async def to_user(self, room: str, user_id: int, sender_id: int, message: Message) -> dict[str, Any]:
        """Send a message to every connection of one user in a room."""
        data = self.data(sender_id, message, to=user_id)
        await self.send(data, user_channel(room, user_id))
        return data

    async def to_room(
        self, room: str, sender_id: int, message: Message, skip: list[str] | str | None = None
    ) -> dict[str, Any]:
        """Send a message to everyone in a room but the ``skip`` connections."""
        data = self.data(sender_id, message)
        await self.send(data, room_channel(room), skip)
        return data

    async def from_room(self, room: str, type: str, value: Any, to: int | None = None) -> dict[str, Any]:
        """A plugin's ``chat.send``: a message from the room (ID 0) to the room, or to one user of it."""
        message = Message(type, value)
        if to is None:
            return await self.to_room(room, ROOM_ID, message)
        return await self.to_user(room, to, ROOM_ID, message)
