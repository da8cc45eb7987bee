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
queued, in order, for the next GET. ``apply()`` applies both (and the rest
below); the composition root calls it when it builds a server (it patches
python-engineio's classes for the whole process, idempotently).

Frames python-engineio cannot decode. It decodes a WebSocket frame outside any
``try``: an empty frame, or one that is no Engine.IO packet (``x``, ``4`` then
JSON nested 10,000 deep), ended the connection with a traceback and no close
frame; one such packet in a long-polling POST lost the whole POST. Each is now
skipped alone with one ``bad_frame`` log line, and the connection goes on.

Undecodable emits. ``emit_header`` reads the ack id and event name of an emit
python-socketio cannot decode (an integer longer than 100 characters, JSON
nested deeper than Python's recursion limit), so the server can answer it with
``invalid_message`` (roomchat/transport/socketio.py) instead of leaving its ack unanswered.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import engineio
from engineio import async_socket, exceptions, packet, payload
from engineio.async_drivers import asgi

from ..backlog import DEFAULT_LIMIT, Backlog
from ..logs import event
from .queues import SendQueue

if TYPE_CHECKING:  # the protocol module imports uvicorn, which only serving needs (roomchat/serve.py)
    from .websocket import Inbound, RoomchatWebSocketProtocol

log = logging.getLogger("roomchat.messages")
log_transport = logging.getLogger("roomchat.server")

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
    put_back = getattr(self.queue, "put_back", self.queue.put_nowait)
    for pkt in rest:
        put_back(pkt)
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
    one pass per level over the containers of that level (linear in the packet,
    and a fraction of its decoding: 37 ms for 900 KB of ``[],``).
    """
    if not isinstance(data, (list, dict)) or text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    level: list[Any] = [data]
    for _ in range(MAX_JSON_DEPTH):
        level = [child for item in level for child in (item if type(item) is list else item.values())
                 if type(child) is list or type(child) is dict]
        if not level:
            return False
    return True


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


async def _refuse_post(socket: async_socket.AsyncSocket, reason: str) -> NoReturn:
    """Close the connection of a POST past the limits, then refuse it (python-engineio answers 400).

    Closed here without waiting: python-engineio's own close would wait for the
    connection's queue to drain, which only a GET does, and a closed connection
    takes no GET: the POST hung for ever, holding the connection.
    """
    event(log, "post_refused", logging.WARNING, eio_sid=socket.sid, reason=reason)
    await socket.close(wait=False, reason=socket.server.reason.TRANSPORT_ERROR)
    raise exceptions.ContentTooLongError()


async def _lenient_post(self: async_socket.AsyncSocket, environ: dict[str, Any]) -> None:
    """``AsyncSocket.handle_post_request``: an unreadable packet of a POST is dropped alone, with one log line.

    python-engineio dropped the whole POST (every message in it lost) with a traceback.
    More than MAX_POST_PACKETS packets, or more bytes than the frame limit, close the connection.
    """
    length = int(environ.get("CONTENT_LENGTH", "0"))
    if length > self.server.max_http_buffer_size:
        await _refuse_post(self, f"more than {self.server.max_http_buffer_size} bytes")
    raw = await environ["wsgi.input"].read(length)
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        _bad_frame(self.sid, raw, "a POST that is not UTF-8")
        return
    if body.startswith("d="):  # a JSONP POST, as python-engineio reads it
        body = urllib.parse.parse_qs(body).get("d", [""])[0]
    parts = body.split(RECORD_SEPARATOR) if body else []
    if len(parts) > MAX_POST_PACKETS:
        await _refuse_post(self, f"more than {MAX_POST_PACKETS} packets")
    for part in parts:
        problem = frame_problem(part)
        if problem is not None:
            _bad_frame(self.sid, part, problem)
            continue
        await self.receive(packet.Packet(encoded_packet=part))


# -- what each connection has pending (roomchat/backlog.py) ------------------------------------------

def backlog_of(socket: Any) -> Backlog | None:
    """The backlog of a python-engineio socket (None for a socket made before accounting was on)."""
    return getattr(getattr(socket, "queue", None), "backlog", None)


class EngineServer(engineio.AsyncServer):
    """python-engineio's server, holding at most ``max_pending_output`` bytes for each connection.

    Every connection's send queue counts its packets (``queues.SendQueue``); a
    WebSocket's transport buffer counts too. A connection past the limit is
    closed (``event=slow_consumer``): its transport is dropped at once, since a
    client that does not read cannot read a close frame either, and its user
    leaves the room as on any disconnect.
    """

    max_pending_output: int = DEFAULT_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._closing: set[asyncio.Task[None]] = set()

    def create_queue(self, *args: Any, **kwargs: Any) -> SendQueue:
        """A socket's send queue, with its backlog (python-engineio makes one per socket, and no other)."""
        return SendQueue(Backlog(self.max_pending_output, self._overflowed))

    def _overflowed(self, backlog: Backlog) -> None:
        socket = next((s for s in self.sockets.values() if backlog_of(s) is backlog), None)
        if socket is None:
            return  # not yet registered, or gone already
        task = asyncio.get_running_loop().create_task(self._close_slow_consumer(socket, backlog, backlog.pending))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_slow_consumer(self, socket: async_socket.AsyncSocket, backlog: Backlog, pending: int) -> None:
        # pending: when the backlog refused (a WebSocket's outbox may have been written since)
        event(log_transport, "slow_consumer", logging.WARNING, eio_sid=socket.sid, pending=pending,
              limit=backlog.limit, transport="websocket" if socket.upgraded else "polling")
        await socket.close(wait=False, abort=True, reason=self.reason.TRANSPORT_ERROR)
        socket.queue.discard_all()
        backlog.abort_transport()


_ws_call = asgi.WebSocket.__call__


async def _accounted_ws_call(self: asgi.WebSocket, environ: dict[str, Any]) -> Any:
    """``WebSocket.__call__``: the connection's backlog also counts its transport's write buffer.

    uvicorn hands the app its protocol's bound ``send``; through it, the asyncio
    transport. Under another server without one, only the send queue counts
    (the writer pauses at the transport's high-water mark either way).
    """
    backlog = backlog_of(getattr(self.handler, "__self__", None))
    transport: Any = getattr(getattr(environ.get("asgi.send"), "__self__", None), "transport", None)
    if backlog is not None and hasattr(transport, "get_write_buffer_size") and hasattr(transport, "abort"):
        backlog.attach_transport(transport.get_write_buffer_size, transport.abort)
    # python-engineio's request body reader, a class created per request (2.5 KiB), held for the connection's
    # life by the handler's frames: a WebSocket has no body.
    environ.pop("wsgi.input", None)
    return await _ws_call(self, environ)

# -- the WebSocket handler: frames straight from uvicorn's protocol, packets straight to its outbox -------------

_stock_ws_handler = async_socket.AsyncSocket._websocket_handler


async def _websocket_handler(self: async_socket.AsyncSocket, ws: asgi.WebSocket) -> None:
    """python-engineio 4.15.1's ``AsyncSocket._websocket_handler``, on roomchat's WebSocket protocol.

    The same upgrade (probe, NOOP to end the pending GET, UPGRADE), the same
    reads and the same close, with three differences: frames come from the
    protocol's ``Inbound`` (no task and no ``wait_for`` per frame, one timer
    only while it waits); once upgraded, the send queue is attached to the
    protocol's outbox (``SendQueue.attach``), so there is no writer task; and
    unreadable frames are skipped with one log line (``frame_problem``). Under
    another server, or with permessage-deflate, the writer is python-engineio's.
    tests/transport/test_pins.py holds the hash of the upstream source this
    copies: an upgrade of python-engineio fails there, naming this function.
    """
    proto: RoomchatWebSocketProtocol | None = getattr(ws.asgi_send, "__self__", None)
    queue = self.queue
    if not hasattr(proto, "start_inbound") or not isinstance(queue, SendQueue):  # not roomchat's protocol
        return await _stock_ws_handler(self, ws)
    assert proto is not None
    server = self.server
    inbound = proto.start_inbound()
    timeout = server.ping_interval + server.ping_timeout
    if self.connected:  # the socket was already connected (long-polling): this is an upgrade
        if not await _upgrade(self, ws, inbound, timeout):
            return
    else:
        self.connected = True
        self.upgraded = True
    writer = None
    if proto.can_take_frames:
        proto.sid = self.sid
        queue.attach(proto)
    else:  # permessage-deflate: python-engineio's writer and uvicorn's framing
        writer = asyncio.ensure_future(_stock_writer(self, ws))
    server.logger.info("%s: Upgrade to websocket successful", self.sid)
    await _read_frames(self, inbound, timeout)
    if writer is not None:
        await queue.put(None)  # unlock the writer so it can exit
        await writer
    else:
        proto.flush()
        await ws.close()
    await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


async def _upgrade(socket: async_socket.AsyncSocket, ws: asgi.WebSocket, inbound: Inbound, timeout: float) -> bool:
    """The upgrade from long-polling: PING probe, PONG probe, NOOP to the poll, then UPGRADE. Whether it happened."""
    socket.upgrading = True  # hold packet sends during the upgrade
    probe = await _next_packet(inbound, timeout)
    if probe is None or probe.packet_type != packet.PING or probe.data != "probe":
        socket.server.logger.info("%s: Failed websocket upgrade, no PING packet", socket.sid)
        socket.upgrading = False
        return False
    await ws.send(packet.Packet(packet.PONG, data="probe").encode())
    await socket.queue.put(packet.Packet(packet.NOOP))  # end poll
    upgrade = await _next_packet(inbound, timeout)
    if upgrade is None or upgrade.packet_type != packet.UPGRADE:
        socket.upgraded = False
        socket.server.logger.info("%s: Failed websocket upgrade, expected UPGRADE packet", socket.sid)
        socket.upgrading = False
        return False
    socket.upgraded = True
    socket.upgrading = False
    return True


async def _next_packet(inbound: Inbound, timeout: float) -> packet.Packet | None:
    try:
        frame = await inbound.next_frame(timeout)
    except TimeoutError:
        return None
    if frame is None or frame_problem(frame) is not None:
        return None
    return packet.Packet(encoded_packet=frame)


async def _read_frames(socket: async_socket.AsyncSocket, inbound: Inbound, timeout: float) -> None:
    """Hand each frame to the socket until the connection ends, is silent for ``timeout`` s, or sends too much."""
    server = socket.server
    max_size = server.max_http_buffer_size
    on_message = _message_handler(server)
    sid = socket.sid
    while True:
        try:
            frame = await inbound.next_frame(timeout)
        except TimeoutError:
            return
        if frame is None or len(frame) > max_size:
            return
        try:
            if on_message is not None and type(frame) is str and frame[:1] == "4" and frame[1:2].isnumeric():
                # A MESSAGE holding a Socket.IO packet (python-engineio keeps it as text when a digit follows the
                # type): what AsyncSocket.receive and AsyncServer._trigger_event do with it, without the Packet
                # and the closures.
                try:
                    await on_message(sid, frame[1:])
                except Exception:
                    server.logger.exception("message async handler error")
            else:
                problem = frame_problem(frame)
                if problem is not None:
                    _bad_frame(sid, frame, problem)
                    continue
                await socket.receive(packet.Packet(encoded_packet=frame))
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            server.logger.info("Receive error -- socket is closed")
            return
        except Exception:
            # an unexpected exception: log it and go on reading, as python-engineio does
            server.logger.exception("Unknown receive error")
        if not inbound.waiting:
            inbound.flush_small()  # a direct message and its ack go out in this pass, not the next


def _message_handler(server: engineio.AsyncServer) -> Any:
    """python-socketio's ``message`` handler (a coroutine function), or None for python-engineio's own dispatch."""
    handler = server.handlers.get("message")
    return handler if inspect.iscoroutinefunction(handler) else None


async def _stock_writer(socket: async_socket.AsyncSocket, ws: asgi.WebSocket) -> None:
    """python-engineio's writer task: poll the queue, send each packet through the ASGI WebSocket."""
    while True:
        try:
            packets = await socket.poll()
        except exceptions.QueueEmpty:
            break
        if not packets:
            break  # empty packet list returned -> connection closed
        try:
            for pkt in packets:
                await ws.send(pkt.encode())
        except Exception:  # noqa: BLE001  (python-engineio's writer stops on any failure to send)
            break
    await ws.close()


# -- pings on a timer --------------------------------------------------------------------------------------

def _timer_schedule_ping(self: async_socket.AsyncSocket) -> None:
    """python-engineio's ``schedule_ping``, with a timer instead of a task sleeping ``ping_interval`` per connection."""
    if self.last_ping:  # only schedule a new ping if the previous ping wait cycle completed
        self.last_ping = None
        asyncio.get_running_loop().call_later(self.server.ping_interval, _ping_due, self)


def _ping_due(socket: async_socket.AsyncSocket) -> None:
    """``_send_ping`` after its sleep: the PING packet, unless the socket is closing."""
    if not socket.closing and not socket.closed:
        socket.last_ping = time.time()
        socket.queue.put_nowait(packet.Packet(packet.PING))


# What apply() replaces, as python-engineio had it (tests/transport/test_pins.py hashes their source).
REPLACED = {
    "engineio.async_socket:AsyncSocket.poll": _poll,
    "engineio.async_socket:AsyncSocket.handle_post_request": async_socket.AsyncSocket.handle_post_request,
    "engineio.async_socket:AsyncSocket._websocket_handler": _stock_ws_handler,
    "engineio.async_socket:AsyncSocket.schedule_ping": async_socket.AsyncSocket.schedule_ping,
    "engineio.async_drivers.asgi:WebSocket.wait": _ws_wait,
    "engineio.async_drivers.asgi:WebSocket.__call__": _ws_call,
}


def apply() -> None:
    """Apply every adjustment above to python-engineio (process-wide; idempotent)."""
    payload.Payload.max_decode_packets = max(payload.Payload.max_decode_packets, MAX_POST_PACKETS)
    # Plain assignments: applying twice changes nothing.
    async_socket.AsyncSocket.poll = _bounded_poll
    async_socket.AsyncSocket.handle_post_request = _lenient_post
    asgi.WebSocket.wait = _readable_ws_wait
    asgi.WebSocket.__call__ = _accounted_ws_call
    async_socket.AsyncSocket._websocket_handler = _websocket_handler
    async_socket.AsyncSocket.schedule_ping = _timer_schedule_ping

