"""One server's history service: ids, recording, reads (``history``, ``since``, ``get-history``), retention,
purge and export.

The core calls it at three places (/work/team/storage-integration.md):

- delivery: ``seq = history.assign()`` right before the emit (no await
  between them), then ``history.record(room, seq, ...)`` for a room that keeps
  history; the id is ``format_id(seq)``;
- a join with ``history`` or ``since``: ``latest`` / ``since``, whose
  ``Page.through`` says which live messages the joining connection already has;
- ``get-history``: ``before``.

Reads merge what the database holds with what is delivered but not committed
yet (the ``Tail``: the writer's pending messages on one server, Redis in a
cluster), taking the tail's snapshot *before* reading the database, so a
message committed in between is found in one or the other (or both: kept once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..logs import event
from .config import HistoryConfig, StorageConfig
from .database import Database
from .errors import StorageUnavailable
from .ids import SequenceAllocator, format_id, parse_id, wall_clock_us
from .records import Record
from .store import HistoryStore, Purge, removed_by
from .writer import HistoryWriter

log = logging.getLogger("roomchat.storage")

RoomSettings = Callable[[str], HistoryConfig | None]
"""A room's history settings by name; None when the room keeps no history (``history: off``)."""


@dataclass(slots=True)
class Page:
    """Messages for one ``history`` event or ``get-history`` answer, oldest first.

    ``complete`` is the protocol's flag. ``through`` is the highest id handed
    out when the read began: every message up to it is in ``messages`` or was
    not asked for, so a joining connection drops live messages with an id at or
    below it and keeps the later ones (no gap, no duplicate).
    """

    messages: list[dict[str, Any]]
    complete: bool
    through: int = 0
    records: list[Record] = field(default_factory=list, repr=False)

    def payload(self) -> dict[str, Any]:
        """The ``data`` of the ``history`` event or ``get-history`` ack."""
        return {"messages": self.messages, "complete": self.complete}


class Tail(Protocol):
    """What is delivered but maybe not committed yet, as of one instant."""

    async def snapshot(self, room: str) -> tuple[int, list[Record]]:
        """(the highest id handed out, the room's uncommitted messages), read at one instant."""
        ...


class LocalTail:
    """One server's tail: its allocator and its writer's pending messages, read without an await."""

    def __init__(self, allocator: SequenceAllocator, writer: HistoryWriter) -> None:
        self.allocator = allocator
        self.writer = writer

    async def snapshot(self, room: str) -> tuple[int, list[Record]]:
        return self.allocator.last, self.writer.pending(room)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class History:
    """History of every room of one server (or one server's share of a cluster's: ``redislog.ClusterHistory``)."""

    def __init__(self, db: Database, settings: StorageConfig, room_settings: RoomSettings,
                 now_ms: Callable[[], int] = _now_ms) -> None:
        self.db = db
        self.settings = settings
        self.room_settings = room_settings
        self.now_ms = now_ms
        self.store = HistoryStore(db)
        self.allocator = SequenceAllocator()
        self.writer = HistoryWriter(self.store, batch_window=settings.batch_window, batch_max=settings.batch_max,
                                    queue_max=settings.queue_max, on_commit=self._committed)
        self.tail: Tail = LocalTail(self.allocator, self.writer)
        self._tasks: list[asyncio.Task[None]] = []
        self._read_failing = False

    # -- start and stop ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the writer and the retention sweep; ids start above the highest committed one."""
        try:
            self.allocator.raise_floor(await self.store.highest_seq())
        except StorageUnavailable as exc:  # ids still follow the clock; history waits for the database
            event(log, "history_store_down", logging.WARNING, reason=exc.reason,
                  effect="messages are delivered; history is written when the database is back")
        self._tasks = [asyncio.create_task(self.writer.run(), name="history-writer"),
                       asyncio.create_task(self._sweeping(), name="history-sweep")]

    async def stop(self, timeout: float = 5.0) -> int:
        """Commit what is queued (for at most ``timeout`` s) and stop; how many messages could not be kept."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        return await self.writer.stop(timeout)

    async def _committed(self, batch: Sequence[Record]) -> None:
        """Called by the writer after each commit (the cluster's tail forgets them here)."""

    # -- the delivery path -------------------------------------------------------------------------------------
    def assign(self) -> int:
        """A fresh message id (as a number; ``format_id`` makes the string): call right before the emit."""
        return self.allocator.next()

    def keeps(self, room: str) -> bool:
        """Whether ``room`` keeps history (its ``history`` is not off)."""
        return self.room_settings(room) is not None

    def record(self, room: str, seq: int, sender: int, target: int | None, type_: str, value: Any,
               time_ms: int) -> bool:
        """Keep one delivered message (the value exactly as delivered; it must not change afterwards). O(1).

        False when it could not be kept (the queue is full: the database is down or slow).
        """
        return self.writer.add(Record(room, seq, sender, target, type_, value, time_ms))

    def record_data(self, room: str, data: dict[str, Any]) -> bool:
        """``record`` from a ``message`` event's data."""
        return self.writer.add(Record.from_data(room, data))

    # -- reads -------------------------------------------------------------------------------------------------
    async def latest(self, room: str, user_id: int, count: int) -> Page:
        """The room's last ``count`` messages ``user_id`` may see (the join's ``history``).

        ``complete`` is False only when the server's cap (count or bytes) cut the answer.
        """
        if count <= 0:  # nothing asked for: nothing missing (the snapshot still says which live messages follow)
            through, _ = await self.tail.snapshot(room)
            return Page([], True, through)
        cap = min(count, self.settings.history_max)
        page = await self._read(room, user_id, limit=cap + (1 if count > cap else 0))
        cut = len(page.records) > cap
        return self._page(page.records[-cap:] if cap else [], page.through, complete=not cut and page.complete)

    async def since(self, room: str, user_id: int, since: Any, fallback: int | None = None) -> Page:
        """Every message of the room ``user_id`` may see after the id ``since`` (a reconnect).

        ``complete`` is False when some of them are gone (retention, not kept)
        or the cap cut them (then the newest come). An unknown or malformed
        ``since`` gives ``latest(fallback or the cap)`` with ``complete`` False.
        """
        cap = self.settings.history_max
        after = parse_id(since)
        page = None if after is None else await self._read(room, user_id, after=after, limit=cap + 1)
        if page is None or after is None or after > page.through:  # malformed, or from the future: not one of ours
            unknown = await self.latest(room, user_id, fallback or cap)
            unknown.complete = False
            return unknown
        cut = len(page.records) > cap
        complete = page.complete and not cut and page.gone <= after
        return self._page(page.records[-cap:], page.through, complete=complete)

    async def before(self, room: str, user_id: int, before: int | None, limit: int | None = None) -> Page:
        """The messages just before id ``before`` (None: the latest), oldest first (``get-history``).

        ``complete`` is True when nothing older that ``user_id`` may see remains.
        """
        cap = min(limit or self.settings.history_max, self.settings.history_max)
        page = await self._read(room, user_id, before=before, limit=cap + 1)
        more = len(page.records) > cap
        return self._page(page.records[-cap:], page.through, complete=page.complete and not more)

    def _page(self, records: list[Record], through: int, complete: bool) -> Page:
        """Cut to the byte budget (newest kept) and build the messages."""
        budget = self.settings.history_max_bytes
        kept: list[Record] = []
        for record in reversed(records):
            budget -= record.size()
            if budget < 0:
                complete = False
                break
            kept.append(record)
        kept.reverse()
        return Page([r.data() for r in kept], complete, through, kept)

    async def _read(self, room: str, user_id: int, *, after: int | None = None, before: int | None = None,
                    limit: int) -> _Read:
        through, pending = await self.tail.snapshot(room)  # before the database: see the module's docstring
        # Nothing above the snapshot: a message delivered after it may be committed before the query, and a
        # joining connection gets it live (everything above ``through``); in the page too, it would come twice.
        if through:  # 0: this history was never started (a reader only): no id handed out to bound by
            before = through + 1 if before is None else min(before, through + 1)
        complete = True
        try:
            rows, gone, purge_list = await self.store.read(room, user_id, after=after, before=before, limit=limit)
            if self._read_failing:
                event(log, "history_read_ok", url=self.db.url)
                self._read_failing = False
        except StorageUnavailable as exc:  # what is pending still goes out; complete says the rest is missing
            if not self._read_failing:
                event(log, "history_read_failed", logging.WARNING, reason=exc.reason,
                      effect="history answers hold only messages not yet committed, with complete: false")
                self._read_failing = True
            rows, gone, purge_list, complete = [], 0, [], False
        merged = {r.seq: r for r in rows}
        for record in pending:
            if (record.visible_to(user_id) and (after is None or record.seq > after)
                    and (before is None or record.seq < before)):
                merged.setdefault(record.seq, record)
        found = sorted(merged.values(), key=lambda r: r.seq)
        if purge_list:
            found = [r for r in found if not removed_by(purge_list, r)]
        gone = max(gone, self.writer.lost_through(room))
        return _Read(found[-limit:], through, gone, complete)

    # -- data owners -------------------------------------------------------------------------------------------
    async def purge(self, user_id: int) -> int:
        """Delete every message ``user_id`` sent or received directly, here and in the database; how many went.

        They are never replayed: not from the queue, not from a tail, not from a
        batch another server commits later (the database remembers the purge).
        """
        purge = Purge(user_id, max(self.allocator.last, wall_clock_us()))
        dropped = self.writer.discard(lambda r: not purge.removes(r))
        return dropped + await self.store.purge(user_id, purge.through_seq)

    async def export(self, room: str) -> AsyncIterator[dict[str, Any]]:
        """Every kept message of ``room``, oldest first, as ``{"room", "id", "from", "to", "type", "value", "time"}``."""
        await self.writer.drain()
        async for record in self.store.export(room):
            yield export_line(record)

    # -- retention ---------------------------------------------------------------------------------------------
    async def sweep(self) -> dict[str, int]:
        """Apply every room's retention now; how many messages each room lost."""
        removed: dict[str, int] = {}
        now = self.now_ms()
        for room in await self.store.rooms():
            settings = self.room_settings(room)
            if settings is None:
                count = await self.store.retain(room, keep=0, min_time=None)
            else:
                min_time = now - int(settings.max_age * 1000) if settings.max_age is not None else None
                count = await self.store.retain(room, keep=settings.keep, min_time=min_time)
            if count:
                removed[room] = count
        if removed:
            event(log, "history_swept", rooms=len(removed), messages=sum(removed.values()))
        return removed

    async def _sweeping(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_seconds)
            try:
                await self.sweep()
            except StorageUnavailable as exc:
                event(log, "history_sweep_failed", logging.WARNING, reason=exc.reason)


@dataclass(slots=True)
class _Read:
    records: list[Record]
    through: int
    gone: int
    complete: bool


def export_line(record: Record) -> dict[str, Any]:
    """One message as ``roomchat export`` writes it (a JSON Lines row)."""
    data = record.data()
    return {"room": record.room, "id": format_id(record.seq), "from": record.sender, "to": record.target,
            "type": record.type, "value": data["message"]["value"], "time": record.time}
