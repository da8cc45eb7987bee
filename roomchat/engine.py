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

Frames python-engineio cannot decode. It decodes a WebSocket frame outside any
``try``: an empty frame, or one that is no Engine.IO packet (``x``, ``4`` then
JSON nested 10,000 deep), ended the connection with a traceback and no close
frame; one such packet in a long-polling POST lost the whole POST. Each is now
skipped alone with one ``bad_frame`` log line, and the connection goes on.

Undecodable emits. ``emit_header`` reads the ack id and event name of an emit
python-socketio cannot decode (an integer longer than 100 characters, JSON
nested deeper than Python's recursion limit), so the server can answer it with
``invalid_message`` (roomchat/server.py) instead of leaving its ack unanswered.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from engineio import async_socket, exceptions, packet, payload
from engineio.async_drivers import asgi

from .logs import event

log = logging.getLogger("roomchat.messages")

MAX_POST_PACKETS = 1000
MAX_POLL_PACKETS = 16  # what python-engineio's client decodes
RECORD_SEPARATOR = "\x1e"  # between the packets of one long-polling payload

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


# The head of an EVENT (or BINARY_EVENT) packet: type, optional attachment count, optional
# namespace, optional ack id, then maybe the JSON array whose first element is the event name.
_EMIT = re.compile(r'(?P<type>[25])(?:[0-9]{1,10}-)?(?:(?P<nsp>/[^,]{0,200}),)?(?P<id>[0-9]{1,15})?(?![0-9])'
                   r'(?:\[\s*"(?P<name>[^"\\]{0,100})")?')


@dataclass(frozen=True, slots=True)
class EmitHeader:
    """What can be read of an emit whose JSON could not be decoded: enough to answer it."""

    namespace: str
    ack_id: int | None
    event_name: str


def emit_header(data: Any) -> EmitHeader | None:
    """The namespace, ack id and event name of an undecodable EVENT packet; None if ``data`` is no emit."""
    found = _EMIT.match(data) if isinstance(data, str) else None
    if found is None:
        return None
    ack_id = found.group("id")
    return EmitHeader(found.group("nsp") or "/", int(ack_id) if ack_id else None, found.group("name") or "")


MAX_JSON_DEPTH = 128  # arrays and objects in one emit, the event's own array included (serde_json's default)


def too_deep(text: str, data: Any) -> bool:
    """Whether decoded ``data`` (from ``text``) nests arrays and objects more than MAX_JSON_DEPTH deep.

    Every client must be able to decode what the server delivers, whatever its
    stack depth: without a bound, a value nested 950 deep passed the server and
    could fail in a recipient. Free for a packet with few brackets; otherwise
    one walk over its arrays and objects (linear in the packet).
    """
    if not isinstance(data, (list, dict)) or text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        children = item if isinstance(item, list) else item.values()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return False


# -- Engine.IO frames python-engineio cannot decode -------------------------------------------------

ENGINEIO_TYPES = frozenset("0123456")


def frame_problem(frame: Any) -> str | None:
    """Why python-engineio could not decode this frame (or POST part), or None when it can.

    Cheap for every frame a real client sends (a digit, then a Socket.IO packet);
    it decodes only the odd ones (base64, or JSON right after the type digit).
    """
    if not isinstance(frame, str):
        return None  # bytes: a binary MESSAGE, always readable
    if not frame:
        return "an empty frame"
    head = frame[0]
    if head == "b":
        try:
            base64.b64decode(frame[1:])
        except ValueError:
            return "a binary frame in base64 that is not base64"
        return None
    if head not in ENGINEIO_TYPES:
        return "no Engine.IO packet type"
    if frame[1:2] in ("[", "{"):  # python-engineio tries the rest as JSON
        try:
            json.loads(frame[1:])
        except ValueError:
            pass  # it then keeps the text as it is
        except RecursionError:
            return "JSON nested too deep"
    return None


def _bad_frame(eio_sid: str | None, frame: str | bytes, problem: str) -> None:
    event(log, "bad_frame", logging.WARNING, eio_sid=eio_sid, size=len(frame), error=problem)


_ws_wait = asgi.WebSocket.wait


async def _readable_ws_wait(self: asgi.WebSocket) -> Any:
    """``WebSocket.wait``, skipping (with one log line) frames python-engineio would fail on.

    python-engineio decodes a frame outside any ``try``: an empty frame, or one
    that is no Engine.IO packet, ended the connection with a traceback and no
    close frame.
    """
    while True:
        frame = await _ws_wait(self)
        problem = frame_problem(frame)
        if problem is None:
            return frame
        _bad_frame(getattr(getattr(self.handler, "__self__", None), "sid", None), frame, problem)


async def _lenient_post(self: async_socket.AsyncSocket, environ: dict[str, Any]) -> None:
    """``AsyncSocket.handle_post_request``: an unreadable packet of a POST is dropped alone, with one log line.

    python-engineio dropped the whole POST (every message in it lost) with a traceback.
    More than MAX_POST_PACKETS packets, or more bytes than the frame limit, close the connection.
    """
    length = int(environ.get("CONTENT_LENGTH", "0"))
    if length > self.server.max_http_buffer_size:
        raise exceptions.ContentTooLongError()
    raw = await environ["wsgi.input"].read(length)
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        _bad_frame(self.sid, raw, "a POST that is not UTF-8")
        return
    parts = body.split(RECORD_SEPARATOR) if body else []
    if len(parts) > MAX_POST_PACKETS:
        raise exceptions.ContentTooLongError()
    for part in parts:
        problem = frame_problem(part)
        if problem is not None:
            _bad_frame(self.sid, part, problem)
            continue
        await self.receive(packet.Packet(encoded_packet=part))


def apply() -> None:
    """Set the limits (idempotent)."""
    payload.Payload.max_decode_packets = max(payload.Payload.max_decode_packets, MAX_POST_PACKETS)
    if async_socket.AsyncSocket.poll is not _bounded_poll:
        async_socket.AsyncSocket.poll = _bounded_poll  # type: ignore[method-assign]
    if async_socket.AsyncSocket.handle_post_request is not _lenient_post:
        async_socket.AsyncSocket.handle_post_request = _lenient_post  # type: ignore[method-assign]
    if asgi.WebSocket.wait is not _readable_ws_wait:
        asgi.WebSocket.wait = _readable_ws_wait  # type: ignore[method-assign]


apply()
