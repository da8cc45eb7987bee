"""A join's ``history`` event: the room's last N messages, or every one after ``since``, then live ones.

PROTOCOL.md, "History and catch-up": a connection that joined with
``history`` or ``since`` gets one ``history`` event right after its
``initial-response`` and before any live ``message``, with no gap and no
duplicate between the two, even while the room is busy. How:

1. ``begin`` (the join, before the connection enters its channels): its
   messages are held (``Delivery.hold``);
2. ``finish`` (a task of its own, so a slow database never holds up the
   room's joins): the history is read, as of a snapshot whose ``through`` is
   the highest id handed out at that instant; the ``history`` event goes out;
3. once every message up to ``through`` reached this server (a cluster's
   feed may still carry some), the hold is released: held messages with an id
   above ``through`` go out in order, the others were in the history.

Every message up to ``through`` that the user may see is in the page (a
message is recorded as its id is given); every later one reached the
connection's hold, since it was delivered after the connection entered its
channels. A room with history off answers ``{"messages": [], "complete":
false}`` at once, with nothing held.
"""

from __future__ import annotations

import logging
from typing import Protocol

from .. import protocol
from ..logs import event
from ..protocol import CatchUp
from ..storage.history import Page
from .delivery import Delivery, Transport
from .sessions import Session

log = logging.getLogger("roomchat.joins")

NOTHING = {"messages": [], "complete": False}
"""The ``history`` of a room that keeps none (or of a read that failed outright)."""


class HistoryReader(Protocol):
    """The reads a join needs (``roomchat.storage.history.History``)."""

    async def latest(self, room: str, user_id: int, count: int) -> Page:
        """The room's last ``count`` messages ``user_id`` may see."""
        ...

    async def since(self, room: str, user_id: int, since: object, fallback: int | None = None) -> Page:
        """Every message of the room ``user_id`` may see after id ``since``."""
        ...


class HistoryOnJoin:
    """Sends each join that asks for it its ``history`` event, between ``initial-response`` and live messages."""

    def __init__(self, history: HistoryReader, delivery: Delivery, transport: Transport, cap: int) -> None:
        self.history = history
        self.delivery = delivery
        self.transport = transport
        self.cap = cap  # storage.history_max: the most messages a join gets

    async def begin(self, session: Session) -> bool:
        """Before the connection enters its channels: hold its messages; True when ``finish`` must follow.

        A room with history off gets its empty ``history`` now, and nothing is held.
        """
        catch_up = session.catch_up
        if catch_up is None:
            return False
        if not session.keeps_history:
            await self.transport.emit(protocol.HISTORY, protocol.history_payload(NOTHING), to=session.sid)
            return False
        self.delivery.hold(session.room, session.sid, session.user.id)
        return True

    async def finish(self, session: Session) -> None:
        """Read the history, send it, and release the live messages held meanwhile."""
        room, sid = session.room, session.sid
        page: Page | None = None
        try:
            page = await self._read(session, session.catch_up or CatchUp(self.cap))
        except Exception as exc:  # noqa: BLE001 - nothing read: every held message goes out, none missed or doubled
            event(log, "history_join_failed", logging.WARNING, room=room, sid=sid,
                  error=f"{type(exc).__name__}: {exc}"[:200])
        through = page.through if page is not None else 0
        try:
            await self.transport.emit(protocol.HISTORY,
                                      protocol.history_payload(page.payload() if page is not None else NOTHING), to=sid)
            outbox = self.delivery.outbox
            if page is not None and outbox is not None:
                await outbox.settled(through)
        finally:
            await self.delivery.release(room, sid, through)

    async def _read(self, session: Session, catch_up: CatchUp) -> Page:
        count = self.cap if catch_up.count is None else catch_up.count
        if catch_up.wants_since:
            return await self.history.since(session.room, session.user.id, catch_up.since, fallback=count)
        return await self.history.latest(session.room, session.user.id, count)
