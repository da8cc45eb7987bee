"""Joining and leaving a room: connect, identify, announce; and disconnect.

The order a client sees is fixed by PROTOCOL.md: ``connect``, then
``initial-response`` (the joiner only), then ``user-connected`` for the others.
python-socketio sends the CONNECT packet only after the connect handler
returns, so the join runs as a task right after it.

Joins and leaves of one room change its presence one at a time, under the
room's lock, and post their announcements in that order (``Announcer``);
the room's announcer task emits them after the lock is released. Nothing is
emitted, and nothing that can run a disconnect handler is awaited, under the
lock: an emit to a connection past its ping timeout closes that connection
and runs its disconnect handler inside the emit, and that handler takes the
lock. A joiner enters the room's channels when its ``initial-response`` goes
out, so it hears of exactly the changes posted after its join, and user
lists and join/leave events never disagree. A joiner that asked for history
gets it from ``HistoryOnJoin`` (core/catchup.py), which holds its live
messages from just before it enters the channels until its ``history`` is out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import socketio

from .. import protocol
from ..errors import Refusal
from ..logs import event
from ..state.base import StateBackend
from ..users import User
from .admission import Admission
from .announcing import Announcer, Step
from .catchup import HistoryOnJoin
from .delivery import Delivery, Transport, room_channel, user_channel
from .identity import Authenticator
from .plugin_host import PluginHost
from .plugin_host import Step as PluginStep
from .sessions import Session, Sessions

log = logging.getLogger("roomchat.joins")


class RoomLocks:
    """One asyncio lock per room, dropped when nobody holds or waits for it.

    A holder changes the room's presence and posts announcements; it never
    emits, and never awaits anything that can run a disconnect handler (a
    disconnect needs this lock).
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, room: str) -> AsyncIterator[None]:
        """Hold the room's lock for the duration of the block."""
        lock, users = self._locks.get(room, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[room] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[room]
            if users == 1:
                del self._locks[room]
            else:
                self._locks[room] = (lock, users - 1)


class Joins:
    """The connect and disconnect handlers, and each room's order of joins, leaves and their announcements."""

    def __init__(self, plugins: PluginHost, auth: Authenticator, state: StateBackend, transport: Transport,
                 sessions: Sessions, delivery: Delivery, history: HistoryOnJoin) -> None:
        self.plugins = plugins
        self.presence = state.presence
        self.transport = transport
        self.sessions = sessions
        self.delivery = delivery
        self.history = history
        self.locks = RoomLocks()
        self.announcer = Announcer()
        self.plugin_news = Announcer()  # per room, plugins hear of joins and leaves in the room's order
        self._pending: Counter[str] = Counter()  # joins admitted but not yet announced, per room
        self.admission = Admission(plugins, auth, state, self._pending.__getitem__)
        self._tasks: set[asyncio.Task[None]] = set()

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        """Admit or refuse a connection; refusals end in the client's ``connect_error``."""
        try:
            session = await self.admission.admit(sid, environ, auth)
        except Refusal as refusal:
            event(log, "join_refused", code=refusal.code, reason=refusal.message, remote=_remote(environ))
            raise socketio.exceptions.ConnectionRefusedError(refusal.message, refusal.data()) from None
        except Exception:
            log.exception("join failed")
            raise socketio.exceptions.ConnectionRefusedError(
                "The server could not admit you; try again", {"code": "unavailable"}
            ) from None
        self.sessions[sid] = session
        self._pending[session.room] += 1
        self._spawn(self._join(session))

    async def _join(self, session: Session) -> None:
        """Record the join under the room's lock and post its announcements (``_greet`` makes them)."""
        presence, room, user = self.presence, session.room, session.user
        posted = False
        try:
            async with self.locks.hold(room):
                self._pending[room] -= 1
                if self._pending[room] <= 0:
                    del self._pending[room]
                if self.sessions.get(session.sid) is not session:
                    return  # gone before its turn
                joined = await presence.join(room, user, session.sid)
                session.joined = True
                members, first = joined.members, joined.first
                self.announcer.post(room, lambda: self._greet(session, members, first))
                posted = True
        except Exception:
            log.exception("recording a join failed")
            await self.transport.disconnect(session.sid)
            return
        finally:
            if not posted:
                session.ready.set()  # nothing will be sent: the client's reader must not wait for it
        event(log, "join", room=room, user=user.id, role=user.role.value, sid=session.sid, first=first)

    async def _greet(self, session: Session, members: list[User], first: bool) -> None:
        """A join's announcements, in the room's order: the joiner's list, then the others; then plugins hear of it."""
        room, user = session.room, session.user
        welcomed = catching_up = False
        try:
            welcomed, catching_up = await self._welcome(session, members)
        except Exception:
            log.exception("sending initial-response failed")
            self.delivery.drop(room, session.sid)
        try:
            if first and not self.presence.announces:  # a cluster's feed announces joins itself
                # Said even if the joiner is gone again: its leave comes next, in this order.
                await self.delivery.announce(room, protocol.USER_CONNECTED, protocol.user_connected(user),
                                             [session.sid])
        finally:
            if not catching_up:
                session.ready.set()  # else once its history is out: its emits are answered after it
            if first:
                self.tell_plugins("roomchat_user_joined", room, user, session.pipeline.joined)
        if not welcomed and self._connected(session):
            await self.transport.disconnect(session.sid)  # it did not get its list: it must not stay unaware

    async def _welcome(self, session: Session, members: list[User]) -> tuple[bool, bool]:
        """``initial-response`` to the joiner, then into the room's channels.

        Returns (whether it is still connected, whether its history is on its
        way). A joiner that asked for history has its messages held from just
        before it enters the channels; its ``history`` follows in a task of its
        own (``_catch_up``), so the room's announcements never wait for a read.
        """
        transport = self.transport
        if not self._connected(session):
            return False, False
        await transport.emit(protocol.INITIAL_RESPONSE, protocol.initial_response(members), to=session.sid)
        # Into the channels only now (its list is queued first): the joiner
        # hears of exactly the changes posted after its join.
        if not self._connected(session):
            return False, False
        held = await self.history.begin(session)
        if not self._connected(session):
            self.delivery.drop(session.room, session.sid)
            return False, False
        await transport.enter_room(session.sid, room_channel(session.room))
        await transport.enter_room(session.sid, user_channel(session.room, session.user.id))
        if held:
            self._spawn(self._catch_up(session))
        return True, held

    async def _catch_up(self, session: Session) -> None:
        """The joiner's ``history``, then its held live messages; its emits are answered from then on."""
        try:
            await self.history.finish(session)
        finally:
            session.ready.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _connected(self, session: Session) -> bool:
        return self.sessions.get(session.sid) is session and self.transport.is_connected(session.sid)

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        """Leave the room; ``user-disconnected`` goes out when the user's last connection closes.

        This runs inside whatever closed the connection (an emit that found it
        timed out, python-engineio's sweep, a kick), so it waits for nothing but
        the room's lock and the presence store, and posts its announcement.
        """
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        room, user = session.room, session.user
        self.delivery.drop(room, sid)  # a join waiting for its history: nothing more to keep for it
        presence = self.presence
        last = False
        async with self.locks.hold(room):
            if session.joined:
                last = await presence.leave(room, user, sid)
                if last:
                    self.announcer.post(room, lambda: self._farewell(session, sid))
        if session.joined:
            event(log, "leave", room=room, user=user.id, sid=sid, last=last, reason=str(reason or ""))

    async def _farewell(self, session: Session, sid: str) -> None:
        """A user's last connection left: the room hears of it (unless a cluster's feed tells it), then plugins."""
        room, user = session.room, session.user
        try:
            if not self.presence.announces:
                await self.delivery.announce(room, protocol.USER_DISCONNECTED, protocol.user_disconnected(user), [sid])
        finally:
            self.tell_plugins("roomchat_user_left", room, user, session.pipeline.left)

    def tell_plugins(self, hook: str, room: str, user: User, steps: list[PluginStep] | None = None) -> None:
        """Run ``roomchat_user_joined`` or ``roomchat_user_left`` after the room's earlier ones (each within handler_timeout).

        ``steps`` are the room's plugins' implementations (its pipeline's);
        without them (a user of a dead cluster server) they are looked up by the
        room's name. A queue of its own per room, so a slow plugin never holds
        up the room's announcements.
        """
        plugins = self.plugins

        async def notify() -> None:
            found = steps if steps is not None else self._steps(hook, room)
            await plugins.notify(hook, found, room=room, user=user)

        self.plugin_news.post(room, notify)

    def _steps(self, hook: str, room: str) -> list[PluginStep]:
        plugins = self.plugins
        try:
            pipeline = plugins.pipeline(plugins.resolve_room(room), room)
        except Refusal:
            return []  # the room is gone from the config: no plugin runs there
        return pipeline.joined if hook == "roomchat_user_joined" else pipeline.left

    # -- what a cluster's presence feed needs (roomchat/cluster/node.py) --------------------

    def hold(self, room: str) -> AbstractAsyncContextManager[None]:
        """Hold the room's lock (a change of its presence and the posting of its announcement)."""
        return self.locks.hold(room)

    def announce(self, room: str, step: Step) -> None:
        """Post an announcement behind the room's earlier ones (call it under the room's lock)."""
        self.announcer.post(room, step)

    def tell_left(self, room: str, user: User) -> None:
        """Plugins hear that ``user`` left ``room`` (a user of a cluster server that died)."""
        self.tell_plugins("roomchat_user_left", room, user)

    # -- a plugin's chat.disconnect ----------------------------------------------------------

    async def disconnect_user(self, room: str, user_id: int) -> int:
        """Close every connection of one user in a room, on every server; how many there were."""
        sids = await self.presence.sids(room, user_id)
        for sid in sids:
            await self.transport.disconnect(sid)
        return len(sids)

    async def close(self) -> None:
        """Let joins under way, announcements and plugin notifications finish (the server is stopping).

        Each is bounded (a presence write, emits, hooks within handler_timeout),
        and none waits for another, so this ends; plugins hear every leave
        before ``roomchat_shutdown``.
        """
        while self._tasks or self.announcer.busy() or self.plugin_news.busy():
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.announcer.idle()
            await self.plugin_news.idle()


def _remote(environ: dict[str, Any]) -> str:
    client = environ.get("asgi.scope", {}).get("client")
    return f"{client[0]}:{client[1]}" if client else environ.get("REMOTE_ADDR", "")
