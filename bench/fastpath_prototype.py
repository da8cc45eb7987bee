#!/usr/bin/env python3
"""Issue 12, phase 1: today's roomchat served with the fast-path prototype applied at run time (a scratch server).

    .venv/bin/python bench/fastpath_prototype.py bench/roomchat-bench.yaml 8300              # stock, for comparison
    .venv/bin/python bench/fastpath_prototype.py bench/roomchat-bench.yaml 8300 --all        # every piece below
    .venv/bin/python bench/fastpath_prototype.py CONFIG PORT --outbox --orjson               # pieces one by one
    # then drive it like any server, e.g. (../shared/bench copied to /tmp/rc-bench, see its README):
    LABEL=fast /tmp/rc-bench/run.sh .venv/bin/python bench/fastpath_prototype.py bench/roomchat-bench.yaml {PORT} --all

It is the measured prototype behind /work/team/perf-design.md, not roomchat's
code: it subclasses and patches uvicorn 0.54, python-engineio 4.15.1 and
python-socketio 5.18.1 from outside; measured against roomchat 51c25fe, and it
finds roomchat's modules where issue 11 moved them (``roomchat/transport/``),
where phase 2 puts these pieces for good, with tests. Pieces:

- ``--outbox``: a uvicorn WebSocket protocol class (uvicorn's ``ws=`` setting)
  with an outbox. Once a connection is on WebSocket, every packet put on its
  engine.io queue (any emit: fan-out, acks, pings, the close packet) becomes a
  WebSocket frame, built once per packet (a broadcast shares one packet, so
  one frame) and counted into the connection's Backlog; all frames of a
  connection are written with one ``transport.write`` per event-loop tick,
  never while the transport is paused (``resume_writing`` flushes). One FIFO
  per connection: packets queued before the switch go first; ASGI sends (the
  upgrade probe, the close) flush the outbox first. Long-polling, a
  connection mid-upgrade and permessage-deflate keep the stock path.
- ``--orjson``: orjson as python-socketio's and python-engineio's ``json``
  module, stdlib ``json`` where orjson refuses (integers past 64 bits, NaN,
  lone surrogates), so what is accepted or refused stays the same.
- ``--lean-receive``: frames from the client go from the protocol straight to
  python-engineio's socket through one reader per connection (no ASGI event
  dict, no asyncio.Queue, no pause/resume_reading per frame, no task and no
  ``wait_for`` per frame), and a connection that starts on WebSocket has no
  writer task at all.
- ``--lean-memory``: per idle connection, no preallocated deques (a list-based
  send queue and receive queue), a timer instead of a sleeping task for the
  engine.io ping, uvicorn's own WebSocket pings off (engine.io's heartbeat
  covers liveness), websockets' handshake Request/Response and
  python-engineio's per-request ``wsgi.input`` class dropped after the handshake.
- ``--all``: all of the above. ``--tracemalloc N``: trace allocations (N frames)
  and write a snapshot to /tmp/fastpath-PORT-K.pickle on each SIGUSR1.

Against the roomchat it was measured on (while issue 11 moves modules, the tree may not run):

    mkdir -p /tmp/rc-51c25fe/pkgs && git archive 51c25fe | tar -x -C /tmp/rc-51c25fe
    cd /tmp/rc-51c25fe/pkgs && ln -s ../roomchat ../bots ../plugins . && mv bots roomchat_bots && mv plugins roomchat_plugins
    PYTHONPATH=/tmp/rc-51c25fe/pkgs .venv/bin/python bench/fastpath_prototype.py bench/roomchat-bench.yaml 8300 --all

Loopback only; the server runs until SIGTERM or Ctrl-C like ``roomchat serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import json as stdlib_json
import os
import signal
import struct
import sys
import time
from typing import Any

import uvicorn  # noqa: F401  (the server below is uvicorn's)
from engineio import async_socket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_drivers import asgi
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from roomchat import serve as rc_serve


def _first(*names: str) -> Any:
    """The first of ``module:attribute`` names that imports (issue 11 is moving these modules)."""
    import importlib

    import roomchat
    home = os.path.dirname(os.path.abspath(roomchat.__file__))
    for name in names:
        module, _, attr = name.partition(":")
        try:
            found = importlib.import_module(module)
        except ImportError:
            continue
        if not os.path.abspath(found.__file__ or "").startswith(home):
            continue  # an editable install's finder can hand out another tree's module
        if not attr:
            return found
        if hasattr(found, attr):
            return getattr(found, attr)
    raise ImportError(f"none of {names} (roomchat moved on: update this prototype)")


rc_engine = _first("roomchat.transport.engine", "roomchat.engine")
SocketServer = _first("roomchat.transport.socketio:SocketServer", "roomchat.server:SocketServer")

try:
    import orjson
except ImportError:  # only --orjson needs it
    orjson = None

# -- codec ---------------------------------------------------------------------------------------------


class OrjsonCodec:
    """A ``json`` module for python-socketio and python-engineio: orjson, stdlib json where orjson refuses."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        """JSON text of ``obj`` (compact, UTF-8 as it is: orjson never escapes non-ASCII)."""
        try:
            return orjson.dumps(obj).decode()
        except TypeError:  # integers past 64 bits, non-str keys
            return stdlib_json.dumps(obj, **kwargs)

    @staticmethod
    def loads(text: str | bytes) -> Any:
        """The value of JSON ``text``; stdlib's answer for what orjson refuses."""
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # NaN, big integers, lone surrogates: today's answer, from stdlib
            return stdlib_json.loads(text)


# -- frames --------------------------------------------------------------------------------------------

_H16 = struct.Struct("!BBH")
_H64 = struct.Struct("!BBQ")


def ws_frame(payload: bytes, opcode: int = 1) -> bytes:
    """An unmasked, unfragmented WebSocket frame (server to client, no extension)."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return _H16.pack(first, 126, n) + payload
    return _H64.pack(first, 127, n) + payload


def frame_of(pkt: eio_packet.Packet) -> bytes:
    """The packet's WebSocket frame, built once per packet (a fan-out shares one packet)."""
    try:
        return pkt._ws_frame  # type: ignore[attr-defined, no-any-return]
    except AttributeError:
        data = pkt.encode()
        frame = ws_frame(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else ws_frame(data, 2)
        pkt._ws_frame = frame  # type: ignore[attr-defined]
        return frame


# -- one write per connection per tick -------------------------------------------------------------------

class TickFlusher:
    """Connections with frames waiting, written by one callback per tick, after that tick's work."""

    __slots__ = ("dirty",)

    def __init__(self) -> None:
        self.dirty: list[OutboxProtocol] = []

    def mark(self, proto: OutboxProtocol) -> None:
        """``proto`` has frames to write this tick."""
        if not self.dirty:
            proto.loop.call_soon(self.flush_all)
        self.dirty.append(proto)

    def flush_all(self) -> None:
        """Write every marked connection's outbox."""
        dirty, self.dirty = self.dirty, []
        for proto in dirty:
            proto.flush()


FLUSHER = TickFlusher()
STATS = {"frames": 0, "writes": 0}
LEAN_RECEIVE = False
LEAN_MEMORY = False


class Inbound:
    """Frames from the client, in order, for the engine.io handler's read loop (``--lean-receive``)."""

    __slots__ = ("closed", "items", "proto", "waiter")

    def __init__(self, proto: OutboxProtocol) -> None:
        self.proto = proto
        self.items: list[Any] = []
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False

    def push(self, item: Any) -> None:
        """A frame arrived (text as str, binary as bytes); reading pauses past 64 unread frames."""
        self.items.append(item)
        if len(self.items) > 64 and not self.proto.read_paused:
            self.proto.read_paused = True
            self.proto.transport.pause_reading()
        self._wake()

    def lost(self) -> None:
        """The connection is gone: the reader gets None once the frames before are read."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def next_frame(self, timeout: float) -> Any:
        """The next frame, None once the connection is gone; TimeoutError after ``timeout`` s of silence."""
        if not self.items:
            if self.closed:
                return None
            loop = self.proto.loop
            self.waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
            if not self.items:
                return None
        item = self.items.pop(0)
        if self.proto.read_paused and len(self.items) < 16:
            self.proto.read_paused = False
            self.proto.transport.resume_reading()
        return item


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class OutboxProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with an outbox of pre-encoded frames (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outbox: list[bytes] = []
        self.outbox_size = 0
        self.marked = False
        self.backlog: Any = None  # the engine.io socket's Backlog, once attached
        self.inbound: Inbound | None = None
        if LEAN_MEMORY:
            self.queue = LightQueue()  # type: ignore[assignment]  # uvicorn's ASGI receive queue

    @property
    def can_take_frames(self) -> bool:
        """Open and without an extension (permessage-deflate needs the stock framing)."""
        return self.handshake_complete and not self.close_sent and not self.disconnected and not self.conn.extensions

    def send_frame(self, frame: bytes) -> None:
        """Queue one frame (counted in by the caller) for this tick's write."""
        self.outbox.append(frame)
        self.outbox_size += len(frame)
        if not self.marked:
            self.marked = True
            FLUSHER.mark(self)

    def flush(self) -> None:
        """Write the outbox in one call, unless the transport is paused (resume_writing flushes) or gone."""
        self.marked = False
        if not self.outbox or not self.writable.is_set():
            return
        if self.disconnected or self.transport.is_closing():
            self.drop_outbox()
            return
        out, size = self.outbox, self.outbox_size
        self.outbox, self.outbox_size = [], 0
        self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        STATS["frames"] += len(out)
        STATS["writes"] += 1
        if self.backlog is not None:
            self.backlog.done(size)  # in the transport's buffer now (counted there) or on the wire

    def drop_outbox(self) -> None:
        """Forget the frames not written (a closed or overflowing connection)."""
        if self.backlog is not None:
            self.backlog.done(self.outbox_size)
        self.outbox, self.outbox_size = [], 0

    def resume_writing(self) -> None:
        """The transport drained below its low-water mark: write what waited."""
        super().resume_writing()
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the outbox, tell the reader, then uvicorn's own handling."""
        self.drop_outbox()
        if self.inbound is not None:
            self.inbound.lost()
        super().connection_lost(exc)

    async def send(self, message: Any) -> None:
        """An ASGI send (the upgrade probe's answer, the close) goes after the frames before it."""
        if self.outbox:
            self.flush()
            if self.outbox and message.get("type") == "websocket.close":
                self.drop_outbox()  # paused and closing: the peer does not read
        await super().send(message)
        if LEAN_MEMORY and message.get("type") == "websocket.accept" and self.handshake_complete:
            self.request = None  # type: ignore[assignment]  # the handshake's Request and Response (headers)
            self.response = None  # type: ignore[assignment]

    def send_receive_event_to_app(self) -> None:
        """A whole message from the client: to the reader (``--lean-receive``) or as an ASGI event."""
        inbound = self.inbound
        if inbound is None:
            return super().send_receive_event_to_app()
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return None
        try:
            item = data.decode() if self.curr_msg_data_type == "text" else bytes(data)
        except UnicodeDecodeError:
            self.conn.send_close(1007)
            self.handle_parser_exception()
            return None
        inbound.push(item)
        return None


# -- queues ------------------------------------------------------------------------------------------------

class LightQueue:
    """What python-engineio and uvicorn use of asyncio.Queue, on a list, with waiters made only when needed.

    An empty asyncio.Queue holds four deques (items, getters, putters, its
    Event's waiters): about 3 KiB, and a connection has two.
    """

    __slots__ = ("_getter", "_items", "_joiners", "_unfinished")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getter: asyncio.Future[None] | None = None
        self._unfinished = 0
        self._joiners: list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        """Items queued."""
        return len(self._items)

    def empty(self) -> bool:
        """Whether nothing is queued."""
        return not self._items

    def full(self) -> bool:
        """Never: unbounded (the Backlog bounds what a connection holds)."""
        return False

    def put_nowait(self, item: Any) -> None:
        """Queue ``item`` and wake the getter."""
        self._items.append(item)
        self._unfinished += 1
        g = self._getter
        if g is not None and not g.done():
            g.set_result(None)

    async def put(self, item: Any) -> None:
        """Queue ``item`` (never waits)."""
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        """The oldest item; QueueEmpty when there is none."""
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> Any:
        """The oldest item, waiting for one (one getter at a time, as python-engineio and uvicorn use it)."""
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        return self.get_nowait()

    def task_done(self) -> None:
        """One item taken was handled."""
        self._unfinished -= 1
        if self._unfinished <= 0 and self._joiners:
            for j in self._joiners:
                if not j.done():
                    j.set_result(None)
            self._joiners = None

    async def join(self) -> None:
        """Wait until every item put was handled."""
        if self._unfinished > 0:
            fut = asyncio.get_running_loop().create_future()
            self._joiners = [*(self._joiners or []), fut]
            await fut


class SendQueueMixin:
    """The outbox switch of a connection's engine.io send queue (roomchat's accounting underneath)."""

    __slots__ = ()
    sink: OutboxProtocol | None
    pending_sink: OutboxProtocol | None
    backlog: Any

    def _to_sink(self, item: Any) -> bool:
        """Hand ``item`` to the outbox when attached (True); False: queue it the stock way."""
        sink = self.sink
        if sink is None or item is None:
            return False
        frame = frame_of(item)
        if self.backlog.add(len(frame)):
            if sink.can_take_frames:
                sink.send_frame(frame)
            else:
                self.backlog.done(len(frame))
        return True  # refused by the backlog: dropped, and the connection is being closed

    def attach(self, sink: OutboxProtocol) -> None:
        """From now on packets go to ``sink``; those queued already go first, in order (no await in between)."""
        queued = []
        while not self.empty():  # type: ignore[attr-defined]
            queued.append(self.get_nowait())  # type: ignore[attr-defined]  # counted out of the backlog here
            self.task_done()  # type: ignore[attr-defined]
        sink.backlog = self.backlog
        self.sink = sink
        for item in queued:
            self.put_nowait(item)  # type: ignore[attr-defined]  # and back in, as frames

    def discard_all(self) -> None:
        """Drop everything held for a closed connection."""
        if self.sink is not None:
            self.sink.drop_outbox()
        super().discard_all()  # type: ignore[misc]


class SendQueue(SendQueueMixin, rc_engine.AccountedQueue):
    """roomchat's AccountedQueue (an asyncio.Queue) with the outbox switch."""

    def __init__(self, backlog: Any) -> None:
        super().__init__(backlog)
        self.sink = None
        self.pending_sink = None

    def put_nowait(self, item: Any) -> None:
        """Into the outbox once attached, else queued (counted) as today."""
        if not self._to_sink(item):
            super().put_nowait(item)


class LightSendQueue(SendQueueMixin, LightQueue):
    """The same on LightQueue (``--lean-memory``): roomchat's accounting, no preallocated deques."""

    __slots__ = ("backlog", "pending_sink", "sink")

    def __init__(self, backlog: Any) -> None:
        super().__init__()
        self.backlog = backlog
        self.sink = None
        self.pending_sink = None

    def put_nowait(self, item: Any) -> None:
        """Into the outbox once attached, else counted and queued (None, the stop signal, always)."""
        if self._to_sink(item):
            return
        if item is not None and not self.backlog.add(rc_engine._packet_size(item)):
            return
        super().put_nowait(item)

    def put_back(self, item: Any) -> None:
        """Queue again a packet just taken (long-polling's bounded poll), counted, never refused."""
        self.backlog.restore(rc_engine._packet_size(item))
        LightQueue.put_nowait(self, item)

    def get_nowait(self) -> Any:
        """Take the oldest packet; its bytes are no longer held here."""
        item = super().get_nowait()
        if item is not None:
            self.backlog.done(rc_engine._packet_size(item))
        return item

    def discard_all(self) -> None:
        """Drop everything held for a closed connection."""
        if self.sink is not None:
            self.sink.drop_outbox()
        while self._items:
            self.get_nowait()
            self.task_done()


class PrototypeEngineServer(rc_engine.EngineServer):
    """roomchat's EngineServer whose sockets get a send queue with the outbox switch."""

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        """A socket's send queue, with its backlog."""
        backlog = rc_engine.Backlog(self.max_pending_output, self._overflowed)
        return LightSendQueue(backlog) if LEAN_MEMORY else SendQueue(backlog)


# -- python-engineio's side -----------------------------------------------------------------------------------

_stock_poll = async_socket.AsyncSocket.poll  # roomchat's bounded poll
_stock_ws_handler = async_socket.AsyncSocket._websocket_handler
_stock_ws_call = asgi.WebSocket.__call__  # roomchat's accounted call


async def _outbox_poll(self: async_socket.AsyncSocket) -> list[Any]:
    """The WebSocket writer's poll after an upgrade: attach the outbox, then wait for the stop signal only."""
    queue = self.queue
    if self.upgraded and isinstance(queue, SendQueueMixin) and queue.pending_sink is not None:
        if queue.sink is None:
            queue.attach(queue.pending_sink)
        item = await (LightQueue.get(queue) if isinstance(queue, LightQueue) else asyncio.Queue.get(queue))
        return [] if item is None else [item]  # only None (the stop signal) is queued once attached
    return await _stock_poll(self)


async def _outbox_ws_call(self: asgi.WebSocket, environ: dict[str, Any]) -> Any:
    """Where python-engineio's WebSocket meets uvicorn's protocol: note the outbox (and the reader)."""
    socket = getattr(self.handler, "__self__", None)
    proto = getattr(environ.get("asgi.send"), "__self__", None)
    if isinstance(proto, OutboxProtocol) and isinstance(getattr(socket, "queue", None), SendQueueMixin):
        socket.queue.pending_sink = proto
        if LEAN_RECEIVE and not socket.connected:  # WebSocket from the start; an upgrade keeps ASGI receive
            proto.inbound = Inbound(proto)
    if LEAN_MEMORY:
        environ.pop("wsgi.input", None)  # python-engineio's per-request AwaitablePayload (a class per request)
    return await _stock_ws_call(self, environ)


async def _lean_ws_handler(self: async_socket.AsyncSocket, ws: Any) -> None:
    """python-engineio 4.15.1's ``_websocket_handler`` for a connection on WebSocket from the start.

    No writer task (the outbox is attached at once), no task and no ``wait_for``
    per frame. An upgrade from long-polling takes the stock handler.
    """
    proto = getattr(ws.asgi_send, "__self__", None)
    inbound = getattr(proto, "inbound", None)
    queue = self.queue
    if inbound is None or self.connected or not isinstance(queue, SendQueueMixin):
        return await _stock_ws_handler(self, ws)
    self.connected = True
    self.upgraded = True
    queue.attach(proto)
    timeout = self.server.ping_interval + self.server.ping_timeout
    max_size = self.server.max_http_buffer_size
    receive = self.receive
    packet_class = eio_packet.Packet
    while True:
        try:
            p = await inbound.next_frame(timeout)
        except (TimeoutError, OSError):
            break
        if p is None or len(p) > max_size:
            break
        problem = rc_engine.frame_problem(p)
        if problem is not None:
            rc_engine._bad_frame(self.sid, p, problem)
            continue
        try:
            await receive(packet_class(encoded_packet=p))
        except eio_exceptions.UnknownPacketError:
            pass
        except eio_exceptions.SocketIsClosedError:
            break
        except Exception:
            self.server.logger.exception("Unknown receive error")
    proto.flush()
    await ws.close()
    await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)


def _timer_schedule_ping(self: async_socket.AsyncSocket) -> None:
    """python-engineio's ``schedule_ping`` with a timer instead of a task sleeping ``ping_interval``."""
    if self.last_ping:
        self.last_ping = None
        asyncio.get_running_loop().call_later(self.server.ping_interval, _ping_due, self)


def _ping_due(socket: async_socket.AsyncSocket) -> None:
    if not socket.closing and not socket.closed:
        socket.last_ping = time.time()
        asyncio.ensure_future(socket.send(eio_packet.Packet(eio_packet.PING)))


# -- putting it together --------------------------------------------------------------------------------------

def apply(outbox: bool, use_orjson: bool, lean_receive: bool, lean_memory: bool) -> None:
    """Install the chosen pieces (process-wide, as roomchat/engine.py's own adjustments are)."""
    global LEAN_RECEIVE, LEAN_MEMORY
    LEAN_RECEIVE, LEAN_MEMORY = lean_receive, lean_memory
    if use_orjson:
        from socketio import packet as sio_packet
        sio_packet.Packet.json = OrjsonCodec
        eio_packet.Packet.json = OrjsonCodec
    if not outbox:
        return
    SocketServer._engineio_server_class = lambda self: PrototypeEngineServer  # type: ignore[method-assign]
    async_socket.AsyncSocket.poll = _outbox_poll  # type: ignore[method-assign]
    asgi.WebSocket.__call__ = _outbox_ws_call  # type: ignore[method-assign]
    if lean_receive:
        async_socket.AsyncSocket._websocket_handler = _lean_ws_handler  # type: ignore[method-assign]
    if lean_memory:
        async_socket.AsyncSocket.schedule_ping = _timer_schedule_ping  # type: ignore[method-assign]


def trace_memory(frames: int, port: int) -> None:
    """tracemalloc on; each SIGUSR1 writes a snapshot (after a collection) to /tmp/fastpath-PORT-K.pickle."""
    import gc
    import tracemalloc

    tracemalloc.start(frames)
    count = [0]

    def snapshot(*_: Any) -> None:
        gc.collect()
        count[0] += 1
        path = f"/tmp/fastpath-{port}-{count[0]}.pickle"
        tracemalloc.take_snapshot().dump(path)
        print(f"snapshot {path} traced={tracemalloc.get_traced_memory()}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGUSR1, snapshot)


def main() -> None:
    """Parse the flags, apply the pieces, serve the config like ``roomchat serve``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("port", type=int)
    parser.add_argument("--outbox", action="store_true", help="frames encoded once, one write per connection per tick")
    parser.add_argument("--orjson", action="store_true", help="orjson as the JSON codec both ways")
    parser.add_argument("--lean-receive", action="store_true", help="frames straight to engine.io (needs --outbox)")
    parser.add_argument("--lean-memory", action="store_true", help="less per idle connection (needs --lean-receive)")
    parser.add_argument("--all", action="store_true", help="all four")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES")
    args = parser.parse_args()
    if args.all:
        args.outbox = args.orjson = args.lean_receive = args.lean_memory = True
    if (args.lean_receive and not args.outbox) or (args.lean_memory and not args.lean_receive):
        parser.error("--lean-receive needs --outbox, --lean-memory needs --lean-receive")
    if args.orjson and orjson is None:
        parser.error("--orjson needs orjson: .venv/bin/pip install orjson")
    apply(args.outbox, args.orjson, args.lean_receive, args.lean_memory)
    from roomchat.cli import _load
    from roomchat.logs import setup_logging

    config, source = _load(argparse.Namespace(config=args.config, file=None, command="serve"))
    setup_logging("warning", None)
    chat_server = _first("roomchat.app:ChatServer", "roomchat.transport.socketio:ChatServer", "roomchat.server:ChatServer")
    chat = chat_server(config, source)
    settings = rc_serve.uvicorn_config(chat, "127.0.0.1", args.port)
    if args.outbox:
        settings.ws = OutboxProtocol
    if args.lean_memory:
        settings.ws_ping_interval = None  # engine.io's heartbeat covers liveness
    if args.tracemalloc:
        trace_memory(args.tracemalloc, args.port)

    class Server(rc_serve._Uvicorn):  # type: ignore[misc, name-defined]
        async def shutdown(self, sockets: Any = None) -> None:
            # uvicorn re-raises SIGTERM once stopped: report here, not after run()
            frames, writes = STATS["frames"], STATS["writes"]
            print(f"outbox: {frames} frames in {writes} writes ({frames / max(writes, 1):.2f} per write)",
                  file=sys.stderr, flush=True)
            await super().shutdown(sockets)

    Server(settings, chat).run()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
