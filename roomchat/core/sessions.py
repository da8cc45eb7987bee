"""One connection's membership of one room: the server's sessions, by connection id (sid)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..config import RoomConfig
from ..users import User
from .plugin_host import RoomPipeline


@dataclass(eq=False)
class Session:
    """A joined (or joining) connection: its room, its user, and the room's pipeline."""

    sid: str
    room: str
    room_config: RoomConfig
    user: User
    pipeline: RoomPipeline
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    joined: bool = False

    @property
    def rate_key(self) -> str:
        """The rate limiter's key: per user per room, shared by the user's connections."""
        return f"{self.user.id}:{self.room}"


Sessions = dict[str, Session]
"""The joined (and joining) connections of this server, by sid: made by the composition root, shared by joins and dispatch."""
