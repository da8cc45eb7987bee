"""The built-in answer to ``roomchat_resolve_room``: rooms from the config file.

It runs last, so a plugin can serve rooms from elsewhere (a database, say)
and fall back to the file for the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import RoomConfig
from .errors import Refusal
from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .server import ChatServer


@hookimpl(trylast=True)
def roomchat_resolve_room(server: ChatServer, name: str) -> RoomConfig:
    """A room from the config, or a new room from ``server.new_room`` when ``server.create_rooms`` is on."""
    config = server.config
    room = config.rooms.get(name)
    if room is not None:
        return room
    if config.server.create_rooms:
        if len(name) > 128:
            raise Refusal("room_not_found", "Room names are at most 128 characters")
        return config.server.new_room
    raise Refusal("room_not_found", f"There is no room called {name!r}")
