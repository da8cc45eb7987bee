"""A connection's send queue: counted against its output cap, and switched to the WebSocket outbox once it can be.

python-engineio makes one send queue per connection (``create_queue``) and
puts every packet for it there: emits, acks, pings, the CLOSE packet. Before
the switch, ``SendQueue`` queues them, counted in the connection's ``Backlog``
(roomchat/backlog.py), for long-polling GETs (or python-engineio's own writer
when a WebSocket cannot take frames, e.g. with permessage-deflate).

``attach(sink)`` is the switch to the fast path: every packet queued so far
moves, in order, into the sink's outbox as WebSocket frames, in one step with
no ``await``, and from then on ``put_nowait`` turns each packet into its frame
(``frames.frame_of``, shared by every recipient of a broadcast), counts it
and appends it to the outbox. There is never a moment with two paths, so
nothing (acks, broadcasts, pings, the CLOSE packet) can overtake anything.

The queue is list-based, without asyncio.Queue's preallocated deques (about
3 KiB per idle connection).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from engineio import packet as eio_packet

from ..backlog import Backlog, encoded_size
from .frames import frame_of

__all__ = ["FrameSink", "LightQueue", "SendQueue", "packet_size"]


def packet_size(pkt: eio_packet.Packet) -> int:
    """A packet's bytes on a long-polling wire, measured once per packet (a fan-out shares one packet)."""
    try:
        return pkt.wire_size
    except AttributeError:
        pkt.wire_size = size = encoded_size(pkt.encode())
        return size


class FrameSink(Protocol):
    """Where an attached queue's frames go (roomchat/transport/websocket.py's protocol)."""

    backlog: Backlog | None

    def send_frame(self, frame: bytes) -> None:
        """Take one frame (counted in its backlog already) for this tick's write."""
        ...

    def drop_outbox(self) -> None:
        """Forget the frames not written yet (counted out)."""
        ...

    def flush(self) -> None:
        """Write the frames waiting now, if the transport takes them."""
        ...


class LightQueue:
    """What python-engineio and uvicorn use of asyncio.Queue (one getter at a time), on a list."""

    __slots__ = ("_getter", "_head", "_items", "_joiners", "_unfinished")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._head = 0  # items before it were taken (compacted now and then: pop(0) is linear)
        self._getter: asyncio.Future[None] | None = None
        self._unfinished = 0
        self._joiners: list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        """Items queued."""
        return len(self._items) - self._head

    def empty(self) -> bool:
        """Whether nothing is queued."""
        return len(self._items) == self._head

    def full(self) -> bool:
        """Never: unbounded (a Backlog bounds what a connection holds)."""
        return False

    def put_nowait(self, item: Any) -> None:
        """Queue ``item`` and wake the getter."""
        self._append(item)

    async def put(self, item: Any) -> None:
        """Queue ``item`` (never waits)."""
        self.put_nowait(item)

    def _append(self, item: Any) -> None:
        self._items.append(item)
        self._unfinished += 1
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    def get_nowait(self) -> Any:
        """The oldest item; ``asyncio.QueueEmpty`` when there is none."""
        items, head = self._items, self._head
        if head == len(items):
            raise asyncio.QueueEmpty
        item = items[head]
        items[head] = None
        head += 1
        if head == len(items):
            items.clear()
            head = 0
        elif head >= 64 and head * 2 >= len(items):
            del items[:head]
            head = 0
        self._head = head
        return item

    async def get(self) -> Any:
        """The oldest item, waiting for one."""
        while self.empty():
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        return self.get_nowait()

    def waiting(self) -> bool:
        """Whether a getter waits for an item."""
        return self._getter is not None and not self._getter.done()

    def task_done(self) -> None:
        """One item taken was handled."""
        self._unfinished -= 1
        if self._unfinished <= 0 and self._joiners:
            for joiner in self._joiners:
                if not joiner.done():
                    joiner.set_result(None)
            self._joiners = None

    async def join(self) -> None:
        """Wait until every item queued was handled."""
        if self._unfinished > 0:
            joiner = asyncio.get_running_loop().create_future()
            self._joiners = [*(self._joiners or []), joiner]
            await joiner


class SendQueue(LightQueue):
    """A connection's engine.io send queue, counted in its Backlog, switched to an outbox by ``attach``."""

    __slots__ = ("backlog", "sink")

    def __init__(self, backlog: Backlog) -> None:
        super().__init__()
        self.backlog = backlog
        self.sink: FrameSink | None = None

    def put_nowait(self, item: Any) -> None:
        """Into the outbox once attached, else queued; counted either way, dropped when the backlog refuses.

        ``None`` (python-engineio's stop signal for its writer) is always queued.
        """
        sink = self.sink
        if item is None:
            self._append(item)
        elif sink is not None:
            frame = frame_of(item)
            self.put_frame(frame, len(frame))
        elif self.backlog.add(packet_size(item)):
            self._append(item)

    def put_frame(self, frame: bytes, size: int) -> None:
        """``put_nowait`` of a packet whose frame (of ``size`` bytes) the caller built once for every recipient.

        Only once attached (``sink`` set).
        """
        sink, backlog = self.sink, self.backlog
        assert sink is not None
        if backlog.held > backlog.limit >> 1:
            sink.flush()  # a burst within one tick: write what the transport takes now, before counting on
        if backlog.add(size):
            sink.send_frame(frame)

    def put_back(self, item: Any) -> None:
        """Queue again a packet just taken (in order), counted but never refused: it was held already."""
        self.backlog.restore(packet_size(item))
        self._append(item)

    def get_nowait(self) -> Any:
        """Take the next item; its bytes are no longer held here."""
        item = super().get_nowait()
        if item is not None:
            self.backlog.done(packet_size(item))
        return item

    def attach(self, sink: FrameSink) -> None:
        """From now on packets go to ``sink`` as frames; those queued go first, in order (no await in between).

        A getter still waiting (a long-polling GET that has not returned yet)
        gets a NOOP, as python-engineio answers GETs once a connection upgraded.
        """
        queued = []
        while not self.empty():
            item = self.get_nowait()
            self.task_done()
            if item is not None:
                queued.append(item)
        sink.backlog = self.backlog
        self.sink = sink
        for item in queued:
            self.put_nowait(item)
        if self.waiting():
            self._append(eio_packet.Packet(eio_packet.NOOP))

    def discard_all(self) -> None:
        """Drop every packet and frame held for a closed connection, so nothing waits on them."""
        if self.sink is not None:
            self.sink.drop_outbox()
        while not self.empty():
            self.get_nowait()
            self.task_done()
