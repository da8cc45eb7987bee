"""Where python-engineio and python-socketio need a hand to keep PROTOCOL.md.

Long-polling limits. python-engineio (4.9 and later) decodes at most 16
packets from one long-polling payload, on both sides:

- the server drops a whole client POST of more than 16 packets (every message in
  it lost, without an ack or ``error-response``), although clients batch whatever
  is queued into one POST (socket.io-client bounds a POST by bytes only);
- its polling *client* gives up on a response of more than 16 packets and drops
  the connection, although the server answers a GET with everything queued, so a
  Python client on long-polling was disconnected by any 17 events in a row
  (17 refusals of its own emits, or a busy room).

roomchat accepts POSTs of up to ``MAX_POST_PACKETS`` packets (past that, the POST
is refused with 400 and only that client's transport closes: a flood), and
answers each GET with at most ``MAX_POLL_PACKETS`` packets, leaving the rest
queued, in order, for the next GET. Importing this module applies both.

Undecodable emits. python-socketio cannot decode an event whose JSON holds an
integer longer than 100 characters (a guard against slow parsing); it logged a
traceback and never answered. ``refuse_undecodable`` answers such an emit of
``message`` or ``broadcast-message`` like any malformed one: ``invalid_message``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

from engineio import async_socket, payload
from socketio import packet as sio_packet

from . import protocol
from .errors import Refusal
from .logs import event

if TYPE_CHECKING:
    import socketio

log = logging.getLogger("roomchat.messages")

MAX_POST_PACKETS = 1000
MAX_POLL_PACKETS = 16  # what python-engineio's client decodes

_poll = async_socket.AsyncSocket.poll


async def _bounded_poll(self: async_socket.AsyncSocket) -> list[Any]:
    """``AsyncSocket.poll``, returning at most MAX_POLL_PACKETS and requeueing the rest in order."""
    packets = await _poll(self)
    if len(packets) <= MAX_POLL_PACKETS:
        return packets
    rest = packets[MAX_POLL_PACKETS:]
    while True:  # no await in this loop: nothing can be queued in between
        try:
            rest.append(self.queue.get_nowait())
        except asyncio.QueueEmpty:
            break
        self.queue.task_done()
    for pkt in rest:
        self.queue.put_nowait(pkt)
    return packets[:MAX_POLL_PACKETS]


# An EVENT packet: type, optional attachment count, optional namespace, optional ack id, then
# the JSON array whose first element is the event name.
_EMIT = re.compile(r'[25](?:[0-9]{1,10}-)?(?:(/[^,]*),)?([0-9]{1,15})?\[\s*"(message|broadcast-message)"')


async def refuse_undecodable(sio: socketio.AsyncServer, eio_sid: str, data: Any) -> bool:
    """Refuse an emit of ours that python-socketio could not decode; False if ``data`` is no such emit."""
    found = _EMIT.match(data) if isinstance(data, str) else None
    if found is None:
        return False
    namespace, ack_id, event_name = found.group(1) or "/", found.group(2), found.group(3)
    sid = sio.manager.sid_from_eio_sid(eio_sid, namespace)
    if sid is None:
        return False
    refusal = Refusal("invalid_message", "This message could not be read: it must be JSON, "
                                         "with integers of at most 99 digits")
    event(log, "refused", code=refusal.code, emit=event_name, sid=sid, reason="undecodable")
    if ack_id is not None:
        ack = sio.packet_class(sio_packet.ACK, namespace=namespace, id=int(ack_id), data=[protocol.refused(refusal)])
        await sio._send_packet(eio_sid, ack)
    else:
        await sio.emit(protocol.ERROR_RESPONSE, protocol.error_response(refusal, event_name), to=sid,
                       namespace=namespace)
    return True


def apply() -> None:
    """Set the limits (idempotent)."""
    payload.Payload.max_decode_packets = max(payload.Payload.max_decode_packets, MAX_POST_PACKETS)
    if async_socket.AsyncSocket.poll is not _bounded_poll:
        async_socket.AsyncSocket.poll = _bounded_poll  # type: ignore[method-assign]


apply()
