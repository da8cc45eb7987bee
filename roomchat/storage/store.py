"""History's SQL: what the writer commits, what readers select, what retention, purge and export do.

Every method is one transaction and raises ``StorageUnavailable`` when the
database cannot do it. Rows are selected through the primary key
(room, seq), newest first where a limit applies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text

from .database import Database
from .records import Record
from .schema import counters, messages, purges, rooms

PURGE_LOCK = 0x70757267  # "purg": the PostgreSQL advisory lock commits share and a purge takes alone
MESSAGE_SEQ = "message_seq"  # counters: the highest id committed (a floor for ids after a restart)
_COLUMNS = (messages.c.room, messages.c.seq, messages.c.sender, messages.c.target, messages.c.type,
            messages.c.value, messages.c.time)


@dataclass(frozen=True, slots=True)
class Purge:
    """A user's purge: every message the user sent, or received directly, with an id up to ``through_seq`` is gone.

    The bound is an id, not a time: ids follow the clock in µs (``roomchat.storage.ids``),
    so a message delivered after the purge, even in the same millisecond, is history again.
    """

    user_id: int
    through_seq: int

    def removes(self, record: Record) -> bool:
        """Whether ``record`` is one of the purged messages."""
        return record.seq <= self.through_seq and record.involves(self.user_id)


def removed_by(purge_list: Sequence[Purge], record: Record) -> bool:
    """Whether any of the purges removes ``record``."""
    return any(p.removes(record) for p in purge_list)


def _visible(user_id: int) -> Any:
    return or_(messages.c.target.is_(None), messages.c.sender == user_id, messages.c.target == user_id)


def _record(row: Any) -> Record:
    return Record(row.room, row.seq, row.sender, row.target, row.type, None, row.time, value_json=row.value)


class HistoryStore:
    """The ``messages``, ``rooms`` and ``purges`` tables of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, batch: Sequence[Record]) -> int:
        """Commit a batch in one transaction; returns how many rows were new.

        Messages of a user purged meanwhile (by another process) are left out;
        a message already there (a retried commit whose first answer was lost)
        is not written twice.
        """
        if not batch:
            return 0
        async with self.db.transaction() as conn:
            await self._purge_lock(conn, exclusive=False)
            since = min(r.seq for r in batch)
            found = await conn.execute(select(purges.c.user_id, purges.c.through_seq)
                                       .where(purges.c.through_seq >= since))
            purge_list = [Purge(row.user_id, row.through_seq) for row in found]
            kept = [r for r in batch if not removed_by(purge_list, r)] if purge_list else list(batch)
            added = 0
            if kept:
                rows = [{"room": r.room, "seq": r.seq, "sender": r.sender, "target": r.target, "type": r.type,
                         "value": r.json_value(), "time": r.time} for r in kept]
                result = await conn.execute(self.db.insert(messages).on_conflict_do_nothing(), rows)
                added = result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(rows)
                names = sorted({r.room for r in kept})
                await conn.execute(self.db.insert(rooms).on_conflict_do_nothing(), [{"name": n} for n in names])
            await self._raise_counter(conn, MESSAGE_SEQ, max(r.seq for r in batch))
            return added

    async def _purge_lock(self, conn: Any, exclusive: bool) -> None:
        """Order purges and commits on PostgreSQL: a commit never interleaves with a purge (SQLite's write lock does it).

        Commits share the lock, so servers commit side by side; a purge takes it
        alone, so a batch committed at the same time is either deleted by the
        purge or sees the purge and leaves the user's messages out.
        """
        if self.db.dialect == "postgresql":
            lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            await conn.execute(text(f"SELECT {lock}(:key)"), {"key": PURGE_LOCK})

    async def _raise_counter(self, conn: Any, name: str, value: int) -> None:
        stmt = self.db.insert(counters).values(name=name, value=value)
        await conn.execute(stmt.on_conflict_do_update(
            index_elements=[counters.c.name], set_={"value": self.db.greatest(counters.c.value, stmt.excluded.value)}))

    async def highest_seq(self) -> int:
        """The highest message id ever committed (0 for none): ids after a restart start above it."""
        async with self.db.transaction(readonly=True) as conn:
            value = await conn.scalar(select(counters.c.value).where(counters.c.name == MESSAGE_SEQ))
            return int(value or 0)

    async def gone_through(self, room: str) -> int:
        """The highest id of ``room`` that retention removed or that was never kept (0: none)."""
        async with self.db.transaction(readonly=True) as conn:
            return int(await conn.scalar(select(rooms.c.gone_through).where(rooms.c.name == room)) or 0)

    async def mark_gone(self, room: str, through: int) -> None:
        """Record that messages of ``room`` up to id ``through`` are missing (not kept while the database was down)."""
        async with self.db.transaction() as conn:
            await self._mark_gone(conn, room, through)

    async def _mark_gone(self, conn: Any, room: str, through: int) -> None:
        stmt = self.db.insert(rooms).values(name=room, gone_through=through)
        await conn.execute(stmt.on_conflict_do_update(
            index_elements=[rooms.c.name],
            set_={"gone_through": self.db.greatest(rooms.c.gone_through, stmt.excluded.gone_through)}))

    async def read(self, room: str, user_id: int, *, after: int | None = None, before: int | None = None,
                   limit: int) -> tuple[list[Record], int, list[Purge]]:
        """Up to ``limit`` messages of ``room`` that ``user_id`` may see, newest first, strictly between the bounds.

        Also returns the room's ``gone_through`` and every purge (the caller
        filters the messages not committed yet with them), read in the same transaction.
        """
        query = select(*_COLUMNS).where(messages.c.room == room, _visible(user_id))
        if after is not None:
            query = query.where(messages.c.seq > after)
        if before is not None:
            query = query.where(messages.c.seq < before)
        query = query.order_by(messages.c.seq.desc()).limit(limit)
        async with self.db.transaction(readonly=True) as conn:
            found = [_record(row) for row in await conn.execute(query)]
            gone = int(await conn.scalar(select(rooms.c.gone_through).where(rooms.c.name == room)) or 0)
            purge_list = [Purge(row.user_id, row.through_seq)
                          for row in await conn.execute(select(purges.c.user_id, purges.c.through_seq))]
        return found, gone, purge_list

    async def purges(self) -> list[Purge]:
        """Every purge recorded."""
        async with self.db.transaction(readonly=True) as conn:
            return [Purge(row.user_id, row.through_seq)
                    for row in await conn.execute(select(purges.c.user_id, purges.c.through_seq))]

    async def purge(self, user_id: int, through_seq: int) -> int:
        """Delete every message ``user_id`` sent or received directly, with an id up to ``through_seq``; how many.

        The purge is remembered, so a message of the user still on its way to
        the database (another server's batch) is dropped when it arrives, and
        no reader replays one from a recent-messages tail.
        """
        async with self.db.transaction() as conn:
            await self._purge_lock(conn, exclusive=True)
            stmt = self.db.insert(purges).values(user_id=user_id, through_seq=through_seq)
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=[purges.c.user_id],
                set_={"through_seq": self.db.greatest(purges.c.through_seq, stmt.excluded.through_seq)}))
            result = await conn.execute(delete(messages).where(
                or_(messages.c.sender == user_id, messages.c.target == user_id), messages.c.seq <= through_seq))
            return int(result.rowcount or 0)

    async def rooms(self) -> list[str]:
        """Every room that has kept a message."""
        async with self.db.transaction(readonly=True) as conn:
            return list(await conn.scalars(select(rooms.c.name).order_by(rooms.c.name)))

    async def retain(self, room: str, keep: int | None, min_time: int | None) -> int:
        """Delete what ``room`` no longer keeps: all but its last ``keep``, and anything before ``min_time`` (ms).

        ``keep=0`` removes everything (history switched off). The highest id
        removed becomes the room's ``gone_through``. Returns how many went.
        """
        async with self.db.transaction() as conn:
            cutoff = 0
            if keep is not None:
                by_count = await conn.scalar(select(messages.c.seq).where(messages.c.room == room)
                                             .order_by(messages.c.seq.desc()).offset(keep).limit(1))
                cutoff = max(cutoff, int(by_count or 0))
            if min_time is not None:
                by_age = await conn.scalar(select(func.max(messages.c.seq))
                                           .where(messages.c.room == room, messages.c.time < min_time))
                cutoff = max(cutoff, int(by_age or 0))
            if not cutoff:
                return 0
            result = await conn.execute(delete(messages).where(messages.c.room == room, messages.c.seq <= cutoff))
            await self._mark_gone(conn, room, cutoff)
            return int(result.rowcount or 0)

    async def export(self, room: str, chunk: int = 1000) -> AsyncIterator[Record]:
        """Every kept message of ``room``, oldest first (every user's: this is the data owner's view)."""
        after = -1
        while True:
            query = (select(*_COLUMNS).where(and_(messages.c.room == room, messages.c.seq > after))
                     .order_by(messages.c.seq).limit(chunk))
            async with self.db.transaction(readonly=True) as conn:
                found = [_record(row) for row in await conn.execute(query)]
            for record in found:
                yield record
            if len(found) < chunk:
                return
            after = found[-1].seq

    async def count(self, room: str) -> int:
        """How many messages ``room`` keeps."""
        async with self.db.transaction(readonly=True) as conn:
            found = await conn.scalar(select(func.count()).select_from(messages).where(messages.c.room == room))
            return int(found or 0)
