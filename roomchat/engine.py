"""Long-polling limits of python-engineio, set so that both transports carry bursts.

python-engineio (4.9 and later) decodes at most 16 packets from one long-polling
payload, on both sides:

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
"""

from __future__ import annotations

import asyncio
from typing import Any

from engineio import async_socket, payload

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


def apply() -> None:
    """Set the limits (idempotent)."""
    payload.Payload.max_decode_packets = max(payload.Payload.max_decode_packets, MAX_POST_PACKETS)
    if async_socket.AsyncSocket.poll is not _bounded_poll:
        async_socket.AsyncSocket.poll = _bounded_poll  # type: ignore[method-assign]


apply()
