"""Delivery: putting ``message`` events on the wire for users and rooms.

Socket.IO rooms carry the addressing: every connection enters the room's
channel and its user's channel, so a message to a user reaches all of that
user's connections, on every server when a Redis manager is configured.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from . import protocol
from .protocol import Message


def room_channel(room: str) -> str:
    """The Socket.IO room of a chat room (prefixed, so no name can pose as a user channel)."""
    return "r:" + room


def user_channel(room: str, user_id: int) -> str:
    """The Socket.IO room of one user's connections in one chat room."""
    return f"u:{user_id}:{room}"


class Delivery:
    """Builds ``message`` payloads (with an id and a time) and emits them."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio
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
            "time": int(time.time() * 1000),
        }
        if to is not None:
            data["to"] = to
        return data

    async def send(self, data: dict[str, Any], to: str, skip: list[str] | str | None = None) -> None:
        """Emit prepared ``data`` to a channel, skipping the given connections."""
        await self._sio.emit(protocol.MESSAGE, protocol.payload("New message", data), to=to, skip_sid=skip)

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


class FanoutManager(socketio.AsyncManager):
    """python-socketio's client manager, with a cheaper fan-out to the connections of this server.

    The stock manager starts one task per recipient for every emit, although
    handing a packet to a healthy connection only appends to its send queue:
    on a busy room, creating and awaiting those tasks cost more than the
    messages themselves. This one appends directly and keeps the stock path
    (a task each) for connections that are closing or whose pings have timed
    out, where sending may close the socket and run the disconnect handler.
    Emits with a callback go the stock way. The cluster's Redis manager builds
    on this class, so delivery from other servers is fanned out the same way.
    """

    async def emit(self, event: str, data: Any, namespace: str, room: str | None = None,  # type: ignore[override]
                   skip_sid: Any = None, callback: Any = None, to: str | None = None, **kwargs: Any) -> None:
        room = to or room
        if callback is not None or namespace not in self.rooms:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback,
                                      **kwargs)
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        packets = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in (encoded if isinstance(encoded, list) else [encoded])]
        engine = self.server.eio
        now = time.time()
        slow: list[str] = []
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            socket = engine.sockets.get(eio_sid)
            if socket is None or socket.closed or socket.closing or (
                    socket.last_ping and now - socket.last_ping > engine.ping_timeout):
                slow.append(eio_sid)
                continue
            for pkt in packets:
                socket.queue.put_nowait(pkt)
        if slow:
            await asyncio.wait([asyncio.create_task(self.server._send_eio_packet(eio_sid, pkt))
                                for eio_sid in slow for pkt in packets])
