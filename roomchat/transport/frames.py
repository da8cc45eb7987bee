"""WebSocket frames of the fast path: built once per packet, and written once per connection per event-loop tick.

Server-to-client frames are unmasked (RFC 6455, 5.1), so the bytes of one
broadcast are the same for every WebSocket recipient: ``frame_of`` builds
them the first time a recipient needs them and keeps them on the (shared)
engine.io packet. ``TickFlusher`` collects the connections that got frames
during one pass of the event loop and writes each one's frames with a single
``transport.write`` in a callback that runs after that pass (one system call
per connection however many messages it got, and no timer: under light load
each frame goes out on the next pass).

``parse_text_frames`` is the receive side's common case: complete, masked,
unfragmented text frames of a client, unmasked in C (websockets' speedups);
anything else is left to the websockets library.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from engineio import packet as eio_packet
from websockets.speedups import apply_mask

from ..logs import event

__all__ = ["Flushable", "TickFlusher", "flusher_for", "frame_of", "parse_text_frames", "ws_frame"]

log = logging.getLogger("roomchat.server")

_H16 = struct.Struct("!BBH")
_H64 = struct.Struct("!BBQ")
TEXT, BINARY = 0x1, 0x2


def ws_frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One unmasked, unfragmented WebSocket frame without extensions (server to client)."""
    size = len(payload)
    first = 0x80 | opcode
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return _H16.pack(first, 126, size) + payload
    return _H64.pack(first, 127, size) + payload


def frame_of(pkt: eio_packet.Packet) -> bytes:
    """The engine.io packet's WebSocket frame, built once per packet (a fan-out shares one packet)."""
    frame: bytes | None = getattr(pkt, "ws_frame", None)  # no exception raised and caught for a new packet
    if frame is None:
        data = pkt.encode()
        frame = ws_frame(data.encode(), TEXT) if isinstance(data, str) else ws_frame(data, BINARY)
        pkt.ws_frame = frame
    return frame


class Flushable(Protocol):
    """A connection with an outbox (roomchat/transport/websocket.py)."""

    def flush(self) -> None:
        """Write what waits."""
        ...

    def flush_failed(self, exc: Exception) -> None:
        """``flush`` raised ``exc``: the connection cannot be written any more (say so once, and end it)."""
        ...


class TickFlusher:
    """The connections of one event loop with frames waiting, written by one callback per pass of the loop."""

    __slots__ = ("__weakref__", "_dirty", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._dirty: list[Flushable] = []

    def mark(self, conn: Flushable) -> None:
        """``conn`` got frames during this pass (the caller marks each connection once until its flush)."""
        if not self._dirty:
            self._loop.call_soon(self.flush_all)
        self._dirty.append(conn)

    def flush_small(self, limit: int) -> None:
        """Write now, when at most ``limit`` connections are marked (what one direct message produced).

        A busier pass (a broadcast marks each recipient) waits for ``flush_all``,
        which writes each connection once for everything the pass produced.
        """
        dirty = self._dirty
        if dirty and len(dirty) <= limit:
            self._dirty = []
            _flush_each(dirty)

    def flush_all(self) -> None:
        """Write every marked connection's outbox (a connection marked during this runs in the next callback)."""
        dirty, self._dirty = self._dirty, []
        _flush_each(dirty)


def _flush_each(conns: list[Flushable]) -> None:
    """Flush each connection; one that raises is handed its exception, and the others are written all the same.

    The list was taken from the flusher, so a connection left out here would
    stay marked (never marked again, so never written again): one failing
    connection must not silence the others of its pass.
    """
    for conn in conns:
        try:
            conn.flush()
        except Exception as exc:  # noqa: BLE001 - any failure of one connection's write is that connection's
            try:
                conn.flush_failed(exc)
            except Exception:  # the next connections are written whatever happens to this one
                log.exception("ending a connection whose flush failed")


def flush_failure(sid: str | None, exc: Exception) -> None:
    """Log a connection's failed flush (once per connection: its caller ends the connection)."""
    event(log, "flush_failed", logging.ERROR, eio_sid=sid, error=f"{type(exc).__name__}: {exc}"[:200])


_flushers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TickFlusher] = weakref.WeakKeyDictionary()


def flusher_for(loop: asyncio.AbstractEventLoop) -> TickFlusher:
    """The TickFlusher of ``loop`` (one per loop: tests run several servers, each in its own thread and loop)."""
    flusher = _flushers.get(loop)
    if flusher is None:
        flusher = _flushers[loop] = TickFlusher(loop)
    return flusher


def parse_text_frames(data: bytes, max_size: int, on_text: Callable[[str], Any]) -> int:
    """Hand each complete, masked, final text frame at the start of ``data`` to ``on_text``, decoded.

    Returns how many bytes were consumed; parsing stops at the first frame that
    is not such a frame (a control frame, a fragment, binary, reserved bits,
    not masked, longer than ``max_size`` or 64 KiB, not UTF-8) or is not complete.
    """
    pos, end = 0, len(data)
    while end - pos >= 6:
        first, second = data[pos], data[pos + 1]
        if first != 0x81 or not second & 0x80:  # FIN + TEXT, no reserved bits; masked
            break
        size = second & 0x7F
        head = pos + 2
        if size == 126:
            if end - pos < 8:
                break
            size = (data[head] << 8) | data[head + 1]
            head += 2
        elif size == 127:
            break
        stop = head + 4 + size
        if size > max_size or stop > end:
            break
        try:
            text = apply_mask(data[head + 4:stop], data[head:head + 4]).decode()
        except UnicodeDecodeError:
            break  # the websockets library refuses it (close code 1007), as before
        pos = stop
        on_text(text)
    return pos
