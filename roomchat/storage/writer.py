"""Group commit: delivered messages queue in memory and reach the database in batches, off the delivery path.

``add`` is what delivery pays per message: two deque appends and a flag, no
await and no encoding (the value's JSON is made by the writer task). The
writer task wakes when the queue stops being empty, waits ``batch_window``
seconds for more, and commits what the window gathered, up to ``batch_max``
messages per transaction. Messages that arrive during those commits wait for
the next window: committing them at once would turn a busy room's steady
stream into a run of tiny commits, each paying a transaction's whole cost.
So a message is in the database at most ``batch_window`` plus the commits
of one window after it was delivered; a kill -9 loses the messages of the
last window at most (docs/storage.md, "What an ack promises").

While a message waits it is also in its room's ``pending`` list, which
readers merge with what the database holds, so nobody misses a message that
went out but is not committed yet.

When the database is down or full the writer keeps the messages (up to
``queue_max``), logs ``history_store_down`` once, retries with a growing pause,
and logs ``history_store_up`` with what it kept and what it could not when the
database is back. Past ``queue_max`` a new message is not kept: its room
remembers the highest such id, so a reader's ``complete`` says so.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

from ..logs import event
from .errors import StorageError, StorageUnavailable
from .ids import format_id
from .records import Record
from .store import HistoryStore

log = logging.getLogger("roomchat.storage")

RETRY_FIRST, RETRY_MAX = 0.2, 5.0  # seconds between attempts while the database is down


class HistoryWriter:
    """The queue of delivered messages, the pending (uncommitted) ones per room, and the task that commits them."""

    def __init__(self, store: HistoryStore, *, batch_window: float, batch_max: int, queue_max: int,
                 on_commit: Callable[[Sequence[Record]], Any] | None = None) -> None:
        self.store = store
        self.batch_window = batch_window
        self.batch_max = batch_max
        self.queue_max = queue_max
        self.on_commit = on_commit
        self._queue: deque[Record] = deque()
        self._pending: dict[str, deque[Record]] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._lost: dict[str, int] = {}  # room -> highest id not kept, not yet written to rooms.gone_through
        self.committed = 0        # messages committed since start
        self.not_kept = 0         # messages dropped (queue full, or refused by the database) since start
        self.committed_through = 0  # the id of the last message committed
        self.failed_attempts = 0    # commits the database refused as unavailable, since start
        self._down: StorageUnavailable | None = None
        self._kept_while_down = 0
        self._lost_while_down = 0

    # -- the delivery path -------------------------------------------------------------------------------------
    def add(self, record: Record) -> bool:
        """Queue one delivered message; False when the queue is full and it is not kept. O(1), never awaits."""
        if len(self._queue) >= self.queue_max:
            self._not_kept([record], "queue_full")
            return False
        self._queue.append(record)
        pending = self._pending.get(record.room)
        if pending is None:
            pending = self._pending[record.room] = deque()
        pending.append(record)
        if not self._wake.is_set():
            self._wake.set()
        return True

    # -- readers -----------------------------------------------------------------------------------------------
    def pending(self, room: str) -> list[Record]:
        """The room's messages delivered but not committed yet, oldest first (a copy)."""
        found = self._pending.get(room)
        return list(found) if found else []

    def lost_through(self, room: str) -> int:
        """The highest id of ``room`` this writer could not keep and has not yet recorded as gone (0: none)."""
        return self._lost.get(room, 0)

    @property
    def queued(self) -> int:
        """How many messages wait for the database."""
        return len(self._queue)

    def discard(self, keep: Callable[[Record], bool]) -> int:
        """Drop queued messages for which ``keep`` is False (a purge); how many went."""
        before = len(self._queue)
        self._queue = deque(r for r in self._queue if keep(r))
        for room in list(self._pending):
            self._pending[room] = deque(r for r in self._pending[room] if keep(r))
            if not self._pending[room]:
                del self._pending[room]
        return before - len(self._queue)

    # -- the writer task ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Commit queued messages in batches until cancelled."""
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.batch_window)  # the group: whatever else arrives in the window joins it
            self._wake.clear()
            await self.drain(retry=True, most=len(self._queue))
            if self._queue:
                self._wake.set()  # what arrived during the commits: the next window's

    async def drain(self, retry: bool = False, most: int | None = None) -> None:
        """Commit what is queued now (at most ``most`` messages, oldest first; None: until the queue is empty).

        With ``retry``, wait out a database outage (else raise ``StorageUnavailable``).
        """
        pause = RETRY_FIRST
        left = most
        async with self._lock:
            while self._queue and (left is None or left > 0):
                batch = list(islice(self._queue, self.batch_max if left is None else min(left, self.batch_max)))
                try:
                    await self.store.insert(batch)
                    await self._record_lost()
                except StorageUnavailable as exc:
                    self._went_down(exc)
                    if not retry:
                        raise
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, RETRY_MAX)
                    continue
                except StorageError as exc:  # the database refused these rows: never block the rest behind them
                    event(log, "history_not_kept", logging.ERROR, reason=exc.reason, messages=len(batch))
                    left = None if left is None else left - len(batch)
                    self._take(batch)
                    self._not_kept(batch, "refused")
                    continue
                pause = RETRY_FIRST
                left = None if left is None else left - len(batch)
                self._take(batch)
                await self._committed(batch)

    def _take(self, batch: Sequence[Record]) -> None:
        """Remove a committed batch from the front of the queue and of its rooms' pending lists.

        A purge may have discarded some of its records while the commit ran
        (``discard`` keeps the order), so what is removed is what is still there.
        """
        committed = {id(record) for record in batch}
        while self._queue and id(self._queue[0]) in committed:
            self._queue.popleft()
        for room in {record.room for record in batch}:
            pending = self._pending.get(room)
            while pending and id(pending[0]) in committed:
                pending.popleft()
            if pending is not None and not pending:
                del self._pending[room]

    async def _committed(self, batch: Sequence[Record]) -> None:
        self.committed += len(batch)
        self.committed_through = batch[-1].seq
        event(log, "history_committed", logging.DEBUG, messages=len(batch), through=format_id(batch[-1].seq))
        if self._down is not None:
            self._kept_while_down += len(batch)
        if (self._down is not None or self._lost_while_down) and not self._queue:
            event(log, "history_store_up" if self._down else "history_caught_up", url=self.store.db.url,
                  kept=self._kept_while_down, not_kept=self._lost_while_down)
            self._down, self._kept_while_down, self._lost_while_down = None, 0, 0
        if self.on_commit is not None:
            try:
                result = self.on_commit(batch)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # the batch is committed; whatever follows a commit must not stop the writer
                log.exception("history on_commit failed")

    def _went_down(self, exc: StorageUnavailable) -> None:
        self.failed_attempts += 1
        if self._down is None:
            event(log, "history_store_down", logging.WARNING, reason=exc.reason, queued=len(self._queue),
                  effect=f"messages are delivered; history waits in memory (at most {self.queue_max}) and is "
                         "written when the database is back")
        self._down = exc

    def _not_kept(self, records: Sequence[Record], why: str) -> None:
        if self._lost_while_down == 0 and why == "queue_full":
            event(log, "history_not_kept", logging.ERROR, reason="the history queue is full (the database is down "
                  "or too slow)", queued=len(self._queue),
                  effect="new messages are delivered but not kept until the database catches up")
        self.not_kept += len(records)
        self._lost_while_down += len(records)
        for record in records:
            self._lost[record.room] = max(self._lost.get(record.room, 0), record.seq)

    async def _record_lost(self) -> None:
        """Write the rooms' highest ids not kept to the database, so every server's readers know they are gone."""
        while self._lost:
            room, through = next(iter(self._lost.items()))
            await self.store.mark_gone(room, through)
            if self._lost.get(room) == through:
                del self._lost[room]

    async def stop(self, timeout: float = 5.0) -> int:
        """Commit what is queued (for at most ``timeout`` seconds); how many messages could not be kept."""
        try:
            async with asyncio.timeout(timeout):
                await self.drain(retry=True)
        except TimeoutError:
            pass
        left = len(self._queue)
        if left:
            event(log, "history_not_kept", logging.ERROR, reason="the database did not take them before shutdown",
                  messages=left)
        return left
