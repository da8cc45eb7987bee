"""Joining and leaving a room: connect, identify, announce; and disconnect.

The order a client sees is fixed by PROTOCOL.md: ``connect``, then
``initial-response`` (the joiner only), then ``user-connected`` for the others.
python-socketio sends the CONNECT packet only after the connect handler
returns, so the announcement runs as a task right after it. Joins and leaves
of one room run one at a time (a per-room lock), so user lists and events
never interleave.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import socketio

from . import protocol
from .delivery import room_channel, user_channel
from .errors import Refusal
from .logs import event
from .session import Session

if TYPE_CHECKING:
    from .server import ChatServer

log = logging.getLogger("roomchat.joins")


class RoomLocks:
    """One asyncio lock per room, dropped when nobody holds or waits for it."""

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
    """The connect and disconnect handlers."""

    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self.locks = RoomLocks()
        self._pending: Counter[str] = Counter()  # joins admitted but not yet announced, per room
        self._tasks: set[asyncio.Task[None]] = set()

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        """Admit or refuse a connection; refusals end in the client's ``connect_error``."""
        try:
            session = await self._admit(sid, environ, auth)
        except Refusal as refusal:
            event(log, "join_refused", code=refusal.code, reason=refusal.message, remote=_remote(environ))
            raise socketio.exceptions.ConnectionRefusedError(refusal.message, refusal.data()) from None
        except Exception:
            log.exception("join failed")
            raise socketio.exceptions.ConnectionRefusedError(
                "The server could not admit you; try again", {"code": "unavailable"}
            ) from None
        self.server.sessions[sid] = session
        self._pending[session.room] += 1
        task = asyncio.create_task(self._announce(session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _admit(self, sid: str, environ: dict[str, Any], auth: Any) -> Session:
        request = protocol.parse_join(auth, environ.get("QUERY_STRING", ""))
        self.server.state.check_available()
        room_config = self.server.resolve_room(request.room)
        user = await self.server.auth.identify(request.room, room_config, request.token, request.name)
        if user.role not in room_config.roles:
            raise Refusal("forbidden", f"{user.role.value.title()}s may not enter room {request.room!r}")
        await self.server.check_admission(request.room, user)
        if room_config.max_users is not None and await self.server.state.presence.member(request.room, user.id) is None:
            present = await self.server.state.presence.count(request.room) + self._pending[request.room]
            if present >= room_config.max_users:
                raise Refusal("room_full", f"Room {request.room!r} is full ({room_config.max_users} users)")
        pipeline = self.server.plugins.pipeline(room_config, request.room)
        return Session(sid, request.room, room_config, user, pipeline)

    async def _announce(self, session: Session) -> None:
        sio, room, user = self.server.sio, session.room, session.user
        try:
            async with self.locks.hold(room):
                self._pending[room] -= 1
                if self._pending[room] <= 0:
                    del self._pending[room]
                if self.server.sessions.get(session.sid) is not session:
                    return  # gone before it was announced
                joined = await self.server.state.presence.join(room, user, session.sid)
                session.joined = True
                await sio.enter_room(session.sid, room_channel(room))
                await sio.enter_room(session.sid, user_channel(room, user.id))
                await sio.emit(protocol.INITIAL_RESPONSE, protocol.initial_response(joined.members), to=session.sid)
                if joined.first and not self.server.state.presence.announces:
                    await sio.emit(
                        protocol.USER_CONNECTED, protocol.user_connected(user), to=room_channel(room), skip_sid=session.sid
                    )
        except Exception:
            log.exception("announcing a join failed")
            await sio.disconnect(session.sid)
            return
        finally:
            session.ready.set()
        event(log, "join", room=room, user=user.id, role=user.role.value, sid=session.sid, first=joined.first)
        if joined.first:
            await self.server.plugins.notify("roomchat_user_joined", server=self.server, room=room, user=user)

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        """Leave the room; ``user-disconnected`` goes out when the user's last connection closes."""
        session = self.server.sessions.pop(sid, None)
        if session is None:
            return
        room, user = session.room, session.user
        last = False
        async with self.locks.hold(room):
            if session.joined:
                last = await self.server.state.presence.leave(room, user, sid)
                if last and not self.server.state.presence.announces:
                    await self.server.sio.emit(
                        protocol.USER_DISCONNECTED, protocol.user_disconnected(user), to=room_channel(room), skip_sid=sid
                    )
        if not session.joined:
            return
        event(log, "leave", room=room, user=user.id, sid=sid, last=last, reason=str(reason or ""))
        if last:
            await self.server.plugins.notify("roomchat_user_left", server=self.server, room=room, user=user)


def _remote(environ: dict[str, Any]) -> str:
    client = environ.get("asgi.scope", {}).get("client")
    return f"{client[0]}:{client[1]}" if client else environ.get("REMOTE_ADDR", "")
