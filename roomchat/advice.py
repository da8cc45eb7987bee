"""What ``roomchat check`` warns about: a valid config that cannot do what it is for.

Errors stop start-up (``ConfigError``); these do not, because the config may
be meant that way or a plugin may fill the gap (a plugin that serves rooms,
an external bot whose code lives elsewhere). Each warning names the key path
and says what to change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import Config, RoomConfig
from .users import Role

if TYPE_CHECKING:
    from .app import ChatServer

BUILTIN_ROOM_RESOLVER = "default_rooms"


def config_warnings(server: ChatServer) -> list[str]:
    """Every warning about the server's config, as ``key.path: what is wrong; what to do``."""
    config = server.config
    custom_rooms = _rooms_from_plugins(server)
    found = _joinable(config, custom_rooms)
    found += _plugin_rooms(config, custom_rooms)
    found += server.bots.warnings
    return found


def nobody_can_enter(room: RoomConfig, config: Config) -> str | None:
    """Why nobody can enter ``room`` (no way in admits anyone who can exist), or None if someone can."""
    if not room.admit:
        return "its admit list is empty"
    if not room.roles:
        return "its roles list is empty"
    if "jwt" in room.admit:
        return None  # a signed token can name any user of any role
    if "guests" in room.admit and Role.STUDENT in room.roles:
        return None
    if "users" in room.admit and any(user.role in room.roles for user in config.users):
        return None
    roles = ", ".join(r.value for r in room.roles)
    why = []
    if "guests" in room.admit:
        why.append(f"guests are STUDENTs and its roles are {roles}")
    if "users" in room.admit:
        why.append(f"no user under users: has one of its roles ({roles})" if config.users
                   else "no users are configured under users:")
    return "; ".join(why)


def _joinable(config: Config, custom_rooms: bool) -> list[str]:
    found = []
    open_rooms = 0
    for name, room in config.rooms.items():
        why = nobody_can_enter(room, config)
        if why is None:
            open_rooms += 1
        else:
            found.append(f"rooms.{name}: nobody can enter this room ({why})")
    created = None
    if config.server.create_rooms:
        created = nobody_can_enter(config.server.new_room, config)
        if created is None:
            open_rooms += 1
        else:
            found.append(f"server.new_room: nobody can enter a room created on first join ({created})")
    if open_rooms == 0 and not custom_rooms:
        if not config.rooms and not config.server.create_rooms:
            found.append("rooms: nobody can join anything: no rooms are configured and server.create_rooms is off "
                         "(list rooms under rooms:, or turn on server.create_rooms)")
        else:
            found.append("rooms: nobody can join anything: no room admits anyone who can exist (see above; "
                         "add 'guests' or 'jwt' to a room's admit, or users whose roles the room allows)")
    return found


def _rooms_from_plugins(server: ChatServer) -> bool:
    """Whether a plugin other than the built-in one answers ``roomchat_resolve_room`` (rooms we cannot see)."""
    return any(impl.plugin_name != BUILTIN_ROOM_RESOLVER
               for impl in server.plugins.pm.hook.roomchat_resolve_room.get_hookimpls())


def _plugin_rooms(config: Config, custom_rooms: bool) -> list[str]:
    if config.server.create_rooms or custom_rooms:
        return []  # any name may become a room
    found = []
    for plugin, names in config.plugins.rooms.items():
        for index, name in enumerate(names):
            if name not in config.rooms:
                found.append(f"plugins.rooms.{plugin}.{index}: there is no room called {name!r} under rooms: "
                             f"and server.create_rooms is off, so {plugin!r} runs in no room of that name")
    return found
