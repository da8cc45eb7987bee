"""roomchat's WebSocket protocol for uvicorn: an outbox of pre-encoded frames, and frames straight to engine.io.

uvicorn takes its WebSocket protocol class as a setting (``ws=``);
``RoomchatWebSocketProtocol`` is uvicorn's sans-I/O one (websockets'
``ServerProtocol`` underneath) with three additions, used once python-engineio's
WebSocket handler (roomchat/transport/engine.py) attaches them:

- **Outbox.** ``send_frame`` appends a frame (built once per packet, shared by
  every recipient of a broadcast) and marks the connection for this tick's
  ``TickFlusher``; ``flush`` writes all of them with one ``transport.write``,
  never while the transport is paused (``pause_writing`` at its high-water
  mark; ``resume_writing`` flushes). What waits counts in the connection's
  Backlog until written; what the transport buffers is counted there too
  (``Backlog.attach_transport``). ASGI sends still going through uvicorn (the
  upgrade probe's answer, the close) flush the outbox first, so nothing
  overtakes a frame; a connection with permessage-deflate never takes frames
  (``can_take_frames``: its frames must be compressed, the stock path does it).
- **Inbound.** Client frames go to the engine.io handler's read loop through
  ``Inbound``, one list, instead of an ASGI event dict in an asyncio.Queue
  with ``pause_reading``/``resume_reading`` per frame; reading pauses only past
  64 unread frames. Complete, masked, unfragmented text frames are parsed here
  (``frames.parse_text_frames``); everything else (control frames, fragments,
  binary, malformed frames) is handed, whole, to the websockets library as before.
- **Lean.** The handshake's Request and Response objects are dropped once the
  connection is accepted (uvicorn keeps them for the connection's life).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from ..backlog import Backlog
from .frames import TickFlusher, flush_failure, flusher_for, parse_text_frames
from .queues import LightQueue

__all__ = ["Inbound", "RoomchatWebSocketProtocol"]

PAUSE_READING_PAST = 64  # unread frames
RESUME_READING_UNDER = 16


class Inbound:
    """A connection's frames from the client, in order, for one reader (the engine.io handler's read loop).

    The reader's silence timeout is one timer per connection, re-armed only
    when it fires early, not a timer (and a task) per frame.
    """

    __slots__ = ("_closed", "_items", "_proto", "_timer", "_wait_started", "_waiter", "timeout")

    def __init__(self, proto: RoomchatWebSocketProtocol) -> None:
        self._proto = proto
        self._items: list[str | bytes] = []
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._wait_started = 0.0
        self.timeout = 0.0

    @property
    def waiting(self) -> int:
        """Frames received and not read yet."""
        return len(self._items)

    def push(self, item: str | bytes) -> None:
        """A message arrived (text as str, binary as bytes); reading pauses past PAUSE_READING_PAST unread."""
        items = self._items
        items.append(item)
        if len(items) > PAUSE_READING_PAST:
            self._proto.pause_inbound()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def lost(self) -> None:
        """The connection is gone: the reader gets None once it has read the frames before."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def flush_small(self) -> None:
        """Write now what this pass produced for at most two connections (a direct message and its ack)."""
        self._proto.flusher.flush_small(2)

    async def next_frame(self, timeout: float) -> str | bytes | None:
        """The next frame; None once the connection is gone; TimeoutError after ``timeout`` s of waiting."""
        items = self._items
        if not items:
            if self._closed:
                return None
            loop = self._proto.loop
            self.timeout = timeout
            self._wait_started = now = loop.time()
            self._waiter = waiter = loop.create_future()
            if self._timer is None:
                self._timer = loop.call_at(now + timeout, self._expire)
            try:
                await waiter
            finally:
                self._waiter = None
            if not items:
                return None
        item = items.pop(0)
        if len(items) < RESUME_READING_UNDER:
            self._proto.resume_inbound()
        return item

    def _expire(self) -> None:
        """The silence timer: time out the reader if it has waited ``timeout`` s, else wait for the rest."""
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # the reader is busy; its next wait arms the timer again
        loop = self._proto.loop
        deadline = self._wait_started + self.timeout
        if loop.time() < deadline:
            self._timer = loop.call_at(deadline, self._expire)
        else:
            waiter.set_exception(TimeoutError())


class RoomchatWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with an outbox of pre-encoded frames and a direct reader."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = LightQueue()  # type: ignore[assignment]  # uvicorn's ASGI receive queue, without deques
        self.outbox: list[bytes] = []
        self.outbox_size = 0
        self.marked = False
        self.backlog: Backlog | None = None  # the engine.io connection's, once its send queue is attached
        self.inbound: Inbound | None = None
        self.fast_reading = False  # parse_text_frames in data_received (decided once, at the first frame)
        self._reading_checked = False
        self.flusher: TickFlusher = flusher_for(self.loop)
        self.sid: str | None = None  # the engine.io connection's, once attached (for the logs)
        self.flush_broken = False
        self.write_paused = False  # the transport's high-water mark (uvicorn's ``writable`` Event, as a flag)

    # -- sending ------------------------------------------------------------------------------

    @property
    def can_take_frames(self) -> bool:
        """Open, accepted, and without an extension (permessage-deflate needs the stock framing)."""
        return (self.handshake_complete and not self.close_sent and not self.disconnected
                and not self.conn.extensions)

    def send_frame(self, frame: bytes) -> None:
        """Queue one frame (counted in the backlog by the caller) for this tick's write."""
        self.outbox.append(frame)
        self.outbox_size += len(frame)
        if not self.marked:
            self.marked = True
            self.flusher.mark(self)

    def flush(self) -> None:
        """Write the outbox in one call; not while the transport is paused (``resume_writing`` flushes)."""
        self.marked = False
        if not self.outbox:
            return
        if self.disconnected or self.close_sent or self.transport.is_closing():
            self.drop_outbox()
            return
        if self.write_paused:
            return
        out, size = self.outbox, self.outbox_size
        self.outbox, self.outbox_size = [], 0
        self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        if self.backlog is not None:
            self.backlog.done(size)  # on the wire, or in the transport's buffer (counted there)

    def flush_failed(self, exc: Exception) -> None:
        """A flush raised: log it once with the connection's sid, drop what waits, and end the connection.

        Its frames can no longer be written in order, so the client must not
        stay on a connection that silently lost some: aborted, it reconnects
        (its user leaves the room as on any disconnect).
        """
        self.marked = False
        self.drop_outbox()
        if self.flush_broken:
            return
        self.flush_broken = True
        flush_failure(self.sid, exc)
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.abort()

    def drop_outbox(self) -> None:
        """Forget the frames not written (a closed, closing or overflowing connection), counted out."""
        if self.backlog is not None and self.outbox_size:
            self.backlog.done(self.outbox_size)
        self.outbox, self.outbox_size = [], 0

    def pause_writing(self) -> None:
        """The transport's buffer passed its high-water mark: frames wait in the outbox."""
        self.write_paused = True
        super().pause_writing()

    def resume_writing(self) -> None:
        """The transport drained below its low-water mark: write what waited."""
        self.write_paused = False
        super().resume_writing()
        self.flush()

    async def send(self, message: Any) -> None:
        """An ASGI send (the probe's answer, the close) goes after the frames before it."""
        if self.outbox:
            self.flush()
            if self.outbox and message.get("type") == "websocket.close":
                self.drop_outbox()  # paused and closing: the peer does not read
        await super().send(message)
        if message.get("type") == "websocket.accept" and self.handshake_complete:
            # uvicorn keeps the handshake for the connection's life; nothing reads it after accept.
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]

    def shutdown(self) -> None:
        """uvicorn's shutdown (close code 1012), after the frames waiting.

        A connection already closing (the client's close frame was answered,
        the transport not yet gone) is only closed: uvicorn's own shutdown
        would send a second close and raise ``InvalidState``, which ended
        uvicorn's shutdown there (the other connections not closed, the ASGI
        lifespan's shutdown, storage included, never run).
        """
        self.flush()
        if self.handshake_complete and not self.close_sent and self.conn.state is not State.OPEN:
            self.stop_keepalive()
            self.transport.close()
            return
        super().shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the outbox, tell the reader, then uvicorn's own handling."""
        self.drop_outbox()
        if self.inbound is not None:
            self.inbound.lost()
        super().connection_lost(exc)

    # -- receiving ----------------------------------------------------------------------------

    def start_inbound(self) -> Inbound:
        """From now on, client messages go to the returned ``Inbound`` (any already queued first, in order)."""
        inbound = self.inbound = Inbound(self)
        queue: LightQueue = self.queue  # type: ignore[assignment]
        kept = []
        while not queue.empty():
            message = queue.get_nowait()
            if message.get("type") == "websocket.receive":
                inbound.push(message["text"] if message.get("text") is not None else message["bytes"])
            else:
                kept.append(message)
        for message in kept:
            queue.put_nowait(message)
        if self.disconnected:
            inbound.lost()
        return inbound

    def pause_inbound(self) -> None:
        """Too many unread frames: stop reading from the socket."""
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_inbound(self) -> None:
        """Frames were read: read from the socket again."""
        if self.read_paused and not self.close_sent:
            self.read_paused = False
            self.transport.resume_reading()

    def send_receive_event_to_app(self) -> None:
        """A whole message from the client: to the reader once there is one, else as an ASGI event."""
        inbound = self.inbound
        if inbound is None:
            return super().send_receive_event_to_app()
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return None
        if self.curr_msg_data_type == "text":
            try:
                inbound.push(data.decode())
            except UnicodeDecodeError:
                self.logger.exception("Invalid UTF-8 sequence received from client.")
                self.conn.send_close(1007)
                self.handle_parser_exception()
        else:
            inbound.push(bytes(data))
        return None

    def data_received(self, data: bytes) -> None:
        """Common text frames parsed here once the reader is on; the rest, whole, by the websockets library."""
        if not self._reading_checked and self.inbound is not None:
            self._reading_checked = True
            self.fast_reading = self._parser_at_frame_boundary()
        if self.fast_reading:
            if self.conn.state is not State.OPEN or self.close_sent:
                self.fast_reading = False
                data, self._partial = self._partial + data, b""
            else:
                data = self._fast_read(data)
                if not data:
                    return
        super().data_received(data)

    def _fast_read(self, data: bytes) -> bytes:
        """Parse what can be parsed here; return the bytes left for the websockets library (from a frame's start)."""
        if self._partial:
            data, self._partial = self._partial + data, b""
        inbound = self.inbound
        assert inbound is not None
        max_size = self.config.ws_max_size
        while data:
            used = parse_text_frames(data, max_size, inbound.push)
            if used:
                data = data[used:]
                if not data:
                    return b""
            end = _frame_end(data)
            if end is None:  # the next frame is not complete yet: keep it until it is
                if _announced_size(data) <= max_size:
                    self._partial = data
                    return b""
                self.fast_reading = False  # too big: the websockets library refuses it, as before
                return data
            first, second = data[0], data[1]
            if not first & 0x80 or not first & 0x0F or first & 0x70 or not second & 0x80:
                self.fast_reading = False  # fragments, reserved bits, unmasked: the websockets library's from here
                return data
            # One whole frame for the websockets library (ping, close, binary, 64-bit length, not UTF-8).
            super().data_received(data[:end])
            data = data[end:]
            if self.conn.state is not State.OPEN or self.close_sent or self.transport.is_closing():
                self.fast_reading = False
                return data
        return b""

    _partial = b""

    def _parser_at_frame_boundary(self) -> bool:
        """Whether the websockets parser waits for a new frame with nothing buffered (so frames can be parsed here)."""
        if self.conn.extensions or self.frames or self.conn.reader.buffer or self.conn.state is not State.OPEN:
            return False
        gen: Any = self.conn.parser
        while getattr(gen, "gi_yieldfrom", None) is not None:
            gen = gen.gi_yieldfrom
        return getattr(getattr(gen, "gi_code", None), "co_name", "") == "at_eof"


def _announced_size(data: bytes) -> int:
    """The payload size a frame header announces (0 when the header itself is not complete)."""
    if len(data) < 2:
        return 0
    size = data[1] & 0x7F
    if size == 126:
        return (data[2] << 8) | data[3] if len(data) >= 4 else 0
    if size == 127:
        return int.from_bytes(data[2:10], "big") if len(data) >= 10 else 0
    return size


def _frame_end(data: bytes) -> int | None:
    """Where the frame at the start of ``data`` ends, or None when it is not complete."""
    if len(data) < 2:
        return None
    size, head = data[1] & 0x7F, 2
    if size == 126:
        if len(data) < 4:
            return None
        size, head = (data[2] << 8) | data[3], 4
    elif size == 127:
        if len(data) < 10:
            return None
        size, head = int.from_bytes(data[2:10], "big"), 10
    end = head + (4 if data[1] & 0x80 else 0) + size
    return end if end <= len(data) else None
