"""Guest IDs never reused: the clock's rule, and the highest ID the database remembers giving.

Today's rule (``roomchat.state.base.guest_id_floor``) stays the floor: a guest
ID is at least ``auth.guest_id_start`` plus the microseconds since 1970. The
database adds a memory of the highest ID given, so a clock set back (or a
copy of the data on a machine whose clock is behind) still never hands out
an ID again. While the database is down, IDs follow the clock and this
process's own last ID alone (``event=guest_ids_from_clock``, once), which is
today's behaviour.
"""

from __future__ import annotations

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


class DatabaseGuestIds(GuestIds):
    """Guest IDs above the clock's floor and above every ID the database remembers (one transaction each)."""

    def __init__(self, db: Database, start: int, now_us: Callable[[], int] = wall_clock_us) -> None:
        self.db = db
        self.start = start
        self.now_us = now_us
        self._last = 0      # this process's highest, a floor while the database is down
        self._number = 0    # the guests' number for "Guest <number>" while the database is down
        self._failing = False

    async def allocate(self) -> NewGuest:
        """A fresh guest ID and its number; never one given before, by any process on this database."""
        floor = max(guest_id_floor(self.start, self.now_us()), self._last + 1)
        try:
            async with self.db.transaction() as conn:
                guest_id = await self._bump(conn, GUEST_IDS, floor, floor)
                number = await self._bump(conn, GUEST_COUNT, 1, 0)
        except StorageUnavailable as exc:
            if not self._failing:
                event(log, "guest_ids_from_clock", logging.WARNING, reason=exc.reason,
                      effect="guest IDs follow the clock until the database answers")
                self._failing = True
            self._last, self._number = floor, self._number + 1
            return NewGuest(floor, self._number)
        self._failing = False
        self._last, self._number = guest_id, number
        return NewGuest(guest_id, number)

    async def _bump(self, conn: object, name: str, first: int, floor: int) -> int:
        """Set counter ``name`` to max(its value + 1, ``floor``) (``first`` when new) and return it."""
        stmt = self.db.insert(counters).values(name=name, value=first)
        stmt = stmt.on_conflict_do_update(index_elements=[counters.c.name], set_={
            "value": self.db.greatest(counters.c.value + 1, floor)}).returning(counters.c.value)
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
