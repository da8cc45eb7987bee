"""One connection's membership of one room: the server's sessions, by connection id (sid)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cached_property

from ..config import RoomConfig
from ..protocol import CatchUp
from ..users import User
from .plugin_host import RoomPipeline


@dataclass(eq=False)
class Session:
    """A joined (or joining) connection: its room, its user, the room's pipeline, and what history it asked for."""

    sid: str
    room: str
    room_config: RoomConfig
    user: User
    pipeline: RoomPipeline
    catch_up: CatchUp | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    joined: bool = False

    @property
    def keeps_history(self) -> bool:
        """Whether the room keeps history (its ``history`` is not off)."""
        return self.room_config.history.kept is not None

    @cached_property
    def rate_key(self) -> str:
        """The rate limiter's key: per user per room, shared by the user's connections (made once per session)."""
        return f"{self.user.id}:{self.room}"


Sessions = dict[str, Session]
"""The joined (and joining) connections of this server, by sid: made by the composition root, shared by joins and dispatch."""
