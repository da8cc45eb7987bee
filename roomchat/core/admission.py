"""Admission: whether a connecting client may enter the room it asked for, as whom.

One path, in this order, each step refusing with its PROTOCOL.md code:

1. the request (``room_required``, ``invalid_name``...; roomchat/protocol.py)
   and the shared store (``unavailable`` while a cluster's Redis is away);
2. resolve the room (``room_not_found``; hook ``roomchat_resolve_room``);
3. identify the user (``unauthorized``, ``invalid_name``; core/identity.py);
4. the room's ``roles`` (``forbidden``);
5. the plugins the room runs (hook ``roomchat_check_join``: bans, say);
6. one ID, one identity (``unauthorized``: the ID is in the room as someone else);
7. capacity (``room_full``), counting joins admitted but not yet recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .. import protocol
from ..errors import Refusal
from ..logs import event
from ..state.base import StateBackend
from ..users import User
from .identity import Authenticator, check_one_identity
from .plugin_host import PluginHost, RoomPipeline, run_step
from .sessions import Session

log = logging.getLogger("roomchat.joins")


class Admission:
    """Decides every join: the room, the user, and whether they may enter."""

    def __init__(self, plugins: PluginHost, auth: Authenticator, state: StateBackend,
                 pending: Callable[[str], int]) -> None:
        self.plugins = plugins
        self.auth = auth
        self.state = state
        self.pending = pending  # joins admitted to a room and not yet recorded in its presence

    async def admit(self, sid: str, environ: dict[str, Any], auth: Any) -> Session:
        """The session of a connection that may enter the room it asked for; a ``Refusal`` says why not."""
        request = protocol.parse_join(auth, environ.get("QUERY_STRING", ""))
        self.state.check_available()
        room_config = self.plugins.resolve_room(request.room)
        user = await self.auth.identify(request.room, room_config, request.token, request.name)
        if user.role not in room_config.roles:
            raise Refusal("forbidden", f"{user.role.value.title()}s may not enter room {request.room!r}")
        pipeline = self.plugins.pipeline(room_config, request.room)
        await self._ask_plugins(pipeline, request.room, user)
        await check_one_identity(self.state.presence, request.room, user)
        if room_config.max_users is not None and await self.state.presence.member(request.room, user.id) is None:
            present = await self.state.presence.count(request.room) + self.pending(request.room)
            if present >= room_config.max_users:
                raise Refusal("room_full", f"Room {request.room!r} is full ({room_config.max_users} users)")
        return Session(sid, request.room, room_config, user, pipeline, request.catch_up)

    async def _ask_plugins(self, pipeline: RoomPipeline, room: str, user: User) -> None:
        """``roomchat_check_join`` of each plugin the room runs, in pluggy's order, until one refuses."""
        for step in pipeline.check_join:
            try:
                await run_step(step, self.plugins.handler_timeout, chat=step.chat, room=room, user=user)
            except Refusal:
                raise
            except Exception as exc:  # a check that could not run lets nobody in
                reason = "timeout" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"[:200]
                event(log, "plugin_failed", logging.ERROR, plugin=step.plugin, hook="roomchat_check_join",
                      room=room, error=reason)
                if not isinstance(exc, TimeoutError):
                    log.exception("plugin %s failed in roomchat_check_join", step.plugin)
                raise Refusal("unavailable", "The server could not admit you; try again") from None
