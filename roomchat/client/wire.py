"""Reading what the server sends a client (docs/protocol.md, "Events you receive") into typed values.

Every payload is ``{"msg", "data"}``. A payload this module cannot read is
None (or skipped in a list), never an exception: a client must survive
whatever arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..users import ROOM_ID, User
from .message import Incoming, Replier

__all__ = ["data_of", "read_message", "read_user", "read_users"]

IsBot = Callable[[int], bool]


def _never(user_id: int) -> bool:
    return False


def data_of(payload: Any) -> Any:
    """A payload's ``data`` (None when it has none)."""
    return payload.get("data") if isinstance(payload, dict) else None


def read_user(wire: Any, is_bot: IsBot = _never) -> User | None:
    """A User from ``{"ID", "role", "name"}`` (``user-connected``'s data, say); None if it is not one."""
    if not isinstance(wire, dict):
        return None
    try:
        return User.from_wire(wire, bot=is_bot(int(wire["ID"])))
    except (KeyError, TypeError, ValueError):
        return None


def read_users(data: Any, is_bot: IsBot = _never) -> list[User]:
    """``initial-response``'s data: the room's users in order of joining (the receiver last, on a first join)."""
    if not isinstance(data, list):
        return []
    return [user for user in (read_user(item, is_bot) for item in data) if user is not None]


def read_message(data: Any, users: Mapping[int, User] | None = None, room: Replier | None = None) -> Incoming | None:
    """A ``message`` event's data as an Incoming; ``sender`` is looked up in ``users`` (ID -> User).

    A direct message carries ``to`` (the addressed user's ID); a broadcast
    does not. None when ``data`` is not a message.
    """
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        return None
    try:
        from_id = int(data.get("from", ROOM_ID))
        to = int(data["to"]) if data.get("to") is not None else None
    except (TypeError, ValueError):
        return None
    message = data["message"]
    sender = (users or {}).get(from_id) if from_id != ROOM_ID else None
    time = data.get("time")
    return Incoming(from_id=from_id, type=str(message.get("type", "")), value=message.get("value"), sender=sender,
                    to=to, id=data.get("id"), time=time if isinstance(time, int) else None, data=data, room=room)
