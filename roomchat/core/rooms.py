"""The built-in answer to ``roomchat_resolve_room``: rooms from the config file.

It runs last, so a plugin can serve rooms from elsewhere (a database, say)
and fall back to the file for the rest. The plugin host registers it as the
plugin ``default_rooms``, made from the server's config (it is the one
built-in that reads the config file).

A room created on first join (``server.create_rooms``) may not look like a
configured one: ``Classroom`` or ``сlassroom`` (a Cyrillic с) next to
``classroom`` would split a class between two rooms, one of them anybody's.
Such names (compared by ``roomchat.names.lookalike_key``: case, confusable
letters, compatibility forms, invisible characters and white space do not
count) are refused with ``room_not_found``: to the client that room does not
exist and will not be created, and the sentence names the room it probably
meant.
"""

from __future__ import annotations

from ..config import Config, RoomConfig
from ..errors import Refusal
from ..hookspecs import hookimpl
from ..names import lookalike_key

MAX_ROOM_NAME = 128


class ConfigRooms:
    """The rooms of one config file, as the built-in plugin ``default_rooms`` (the plugin host registers it)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @hookimpl(trylast=True)
    def roomchat_resolve_room(self, name: str) -> RoomConfig:
        """A room from the config, or a new room from ``server.new_room`` when ``server.create_rooms`` is on."""
        config = self.config
        room = config.rooms.get(name)
        if room is not None:
            return room
        if config.server.create_rooms:
            check_new_room_name(name, config.rooms)
            return config.server.new_room
        raise Refusal("room_not_found", f"There is no room called {name!r}")


def check_new_room_name(name: str, configured: dict[str, RoomConfig]) -> None:
    """Refuse (``room_not_found``) a name for a new room that is too long or looks like a configured room's."""
    if len(name) > MAX_ROOM_NAME:
        raise Refusal("room_not_found", f"Room names are at most {MAX_ROOM_NAME} characters")
    key = lookalike_key(name)
    for existing in configured:
        if lookalike_key(existing) == key:
            raise Refusal("room_not_found", f"There is no room called {name!r}, and it is not created: it looks "
                                            f"like room {existing!r} (did you mean {existing!r}?)")
