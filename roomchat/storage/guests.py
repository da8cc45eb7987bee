"""Guest IDs never reused: the clock's rule, and the highest ID the database remembers giving.

Today's rule (``roomchat.state.base.guest_id_floor``) stays the floor: a guest
ID is at least ``auth.guest_id_start`` plus the microseconds since 1970. The
database adds a memory of the highest ID given, so a clock set back (or a
copy of the data on a machine whose clock is behind) still never hands out
an ID again. While the database is down, IDs follow the clock and this
process's own last ID alone (``event=guest_ids_from_clock``, once), which is
today's behaviour.

IDs and guest numbers are reserved in blocks, one transaction per block, and
handed out from memory: a transaction per guest made every join wait for the
database, one after the other (SQLite has one writer), so a class arriving at
once was admitted one by one and its announcements could not be written
together (the shared harness's 1000 joins: half the server's CPU). A block
of IDs is the next ``ID_BLOCK`` above both the clock's floor and the highest
the database remembers; IDs never fall behind the clock (past the block's
end the next block is reserved), and servers on one database never share
one (their blocks are apart). Numbers a server reserved and did not use are
skipped: after a restart, guests go on from the next block's number.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import select

from ..logs import event
from ..state.base import GuestIds, NewGuest, guest_id_floor, wall_clock_us
from .database import Database
from .errors import StorageUnavailable
from .schema import counters

log = logging.getLogger("roomchat.storage")

GUEST_IDS, GUEST_COUNT = "guest_ids", "guest_count"


ID_BLOCK = 1_000_000
"""Guest IDs reserved at once: a second of the clock's floor (at most one transaction per second of joins)."""
NUMBER_BLOCK = 64
"""Guest numbers ("Guest 17") reserved at once (at most this many skipped by a restart)."""


class DatabaseGuestIds(GuestIds):
    """Guest IDs above the clock's floor and above every ID the database remembers, reserved in blocks."""

    def __init__(self, db: Database, start: int, now_us: Callable[[], int] = wall_clock_us) -> None:
        self.db = db
        self.start = start
        self.now_us = now_us
        self._last = 0      # this process's highest, a floor while the database is down
        self._number = 0    # the last guest number given ("Guest <number>")
        self._id_end = 0    # the last ID of this process's block (0: none reserved)
        self._number_end = 0
        self._lock = asyncio.Lock()  # one reservation at a time; free (no await) while the blocks last
        self._failing = False

    async def allocate(self) -> NewGuest:
        """A fresh guest ID and its number; never an ID given before, by any process on this database."""
        async with self._lock:
            floor = max(guest_id_floor(self.start, self.now_us()), self._last + 1)
            more_ids, more_numbers = floor > self._id_end, self._number >= self._number_end
            if more_ids or more_numbers:
                try:
                    await self._reserve(floor if more_ids else None, more_numbers)
                except StorageUnavailable as exc:
                    if not self._failing:
                        event(log, "guest_ids_from_clock", logging.WARNING, reason=exc.reason,
                              effect="guest IDs follow the clock until the database answers")
                        self._failing = True
                    self._last, self._number = floor, self._number + 1
                    return NewGuest(floor, self._number)
                self._failing = False
                floor = max(floor, self._last + 1)
            self._last, self._number = floor, self._number + 1
            return NewGuest(floor, self._number)

    async def _reserve(self, floor: int | None, numbers: bool) -> None:
        """Reserve the next block of IDs (from ``floor`` at the lowest) and/or of numbers, in one transaction."""
        id_end = number_end = None
        async with self.db.transaction() as conn:
            if floor is not None:
                id_end = await self._bump(conn, GUEST_IDS, ID_BLOCK, floor + ID_BLOCK - 1)
            if numbers:
                number_end = await self._bump(conn, GUEST_COUNT, NUMBER_BLOCK, NUMBER_BLOCK)
        if id_end is not None:  # the block is (id_end - ID_BLOCK, id_end]
            self._last, self._id_end = max(self._last, id_end - ID_BLOCK), id_end
        if number_end is not None:
            self._number, self._number_end = max(self._number, number_end - NUMBER_BLOCK), number_end

    async def _bump(self, conn: object, name: str, step: int, floor: int) -> int:
        """Set counter ``name`` to max(its value + ``step``, ``floor``) (``floor`` when new) and return it."""
        stmt = self.db.insert(counters).values(name=name, value=floor)
        stmt = stmt.on_conflict_do_update(index_elements=[counters.c.name], set_={
            "value": self.db.greatest(counters.c.value + step, floor)}).returning(counters.c.value)
        return int(await conn.scalar(stmt))  # type: ignore[attr-defined]

    async def highest(self) -> int:
        """The highest guest ID the database remembers (0: none): a cluster's floor for Redis' counter."""
        async with self.db.transaction(readonly=True) as conn:
            return int(await conn.scalar(select(counters.c.value).where(counters.c.name == GUEST_IDS)) or 0)

    async def remember(self, guest_id: int) -> None:
        """Raise the remembered highest to ``guest_id`` (a cluster writes Redis' counter here now and then)."""
        stmt = self.db.insert(counters).values(name=GUEST_IDS, value=guest_id)
        async with self.db.transaction() as conn:
            await conn.execute(stmt.on_conflict_do_update(index_elements=[counters.c.name], set_={
                "value": self.db.greatest(counters.c.value, stmt.excluded.value)}))
