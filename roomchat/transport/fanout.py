"""The fan-out manager: python-socketio's client manager, handing a packet to this server's connections directly.

The composition root gives it to the ``SocketServer`` (a cluster's Redis
manager builds on it: roomchat/cluster/manager.py). Issue 12's fast path
(pre-encoded WebSocket frames written straight to transports) belongs here:
every emit to a channel of connections goes through ``emit``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from .frames import frame_of

__all__ = ["FanoutManager"]


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

    async def emit(self, event: str, data: Any, namespace: str, room: str | None = None,
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
        sockets, timeout = engine.sockets, engine.ping_timeout
        # The frame once for every WebSocket recipient (a Socket.IO packet of JSON is one Engine.IO packet).
        frame = frame_of(packets[0]) if len(packets) == 1 else None
        size = len(frame) if frame is not None else 0
        now = time.time()
        slow: list[str] = []
        for sid, eio_sid in self._members(namespace, room):
            if sid in skip:
                continue
            socket = sockets.get(eio_sid)
            if socket is None or socket.closed or socket.closing or (
                    socket.last_ping and now - socket.last_ping > timeout):
                slow.append(eio_sid)
                continue
            queue = socket.queue
            if frame is not None and getattr(queue, "sink", None) is not None:
                queue.put_frame(frame, size)
            else:
                for pkt in packets:
                    queue.put_nowait(pkt)
        if slow:
            await asyncio.wait([asyncio.create_task(self.server._send_eio_packet(eio_sid, pkt))
                                for eio_sid in slow for pkt in packets])

    def _members(self, namespace: str, room: Any) -> Iterable[tuple[str, str]]:
        """``get_participants``: for one channel, its (sid, eio sid) pairs as a list, without the generator."""
        if type(room) is str:
            members = self.rooms[namespace].get(room)
            return list(members.items()) if members else []
        return self.get_participants(namespace, room)
