"""The wire protocol (PROTOCOL.md): event names, payloads, and parsing what clients send.

Everything a client can observe is shaped here, so the rest of the code deals
in Users, Messages and Refusals rather than dicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from .errors import Refusal
from .names import CONTROL, MAX_NAME, normalise
from .users import User

# server -> client
INITIAL_RESPONSE = "initial-response"
USER_CONNECTED = "user-connected"
USER_DISCONNECTED = "user-disconnected"
MESSAGE = "message"
ERROR_RESPONSE = "error-response"
# client -> server
DIRECT = "message"
BROADCAST = "broadcast-message"

SENT = "Message sent"
"""The ``msg`` of an accepted emit's ack (a refusal's ``msg`` is a sentence, and its ``data`` has a ``code``)."""

MAX_SENT_NAME = 1024  # a longer name cannot be 64 characters once normalised: refused before any work
_DIGITS = re.compile(r"[0-9]{1,30}")


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """What a connecting client asked for: a room, and a token or a guest name."""

    room: str
    token: str | None
    name: str | None


@dataclass(slots=True)
class Message:
    """A chat message: a non-empty ``type`` and a ``value`` of any JSON kind."""

    type: str
    value: Any = None

    def as_wire(self) -> dict[str, Any]:
        """The message as recipients see it under ``data.message``."""
        return {"type": self.type, "value": self.value}


def payload(msg: str, data: Any) -> dict[str, Any]:
    """Every server-to-client payload: ``{"msg", "data"}``."""
    return {"msg": msg, "data": data}


def initial_response(members: list[User]) -> dict[str, Any]:
    """``initial-response``: the room's users, the joiner included, in order of joining."""
    return payload("Connected users", [u.as_wire() for u in members])


def user_connected(user: User) -> dict[str, Any]:
    """``user-connected``: sent to everyone else when a user's first connection joins."""
    return payload("New user connected", user.as_wire())


def user_disconnected(user: User) -> dict[str, Any]:
    """``user-disconnected``: sent to everyone left when a user's last connection leaves."""
    return payload("User disconnected", user.as_wire())


def refused(refusal: Refusal) -> dict[str, Any]:
    """The ack of a refused emit."""
    return payload(refusal.message, refusal.data())


def error_response(refusal: Refusal, event: str) -> dict[str, Any]:
    """``error-response``: a refusal for a client that gave no ack callback."""
    return payload(refusal.message, {**refusal.data(), "event": event})


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value)


def parse_join(auth: Any, query_string: str) -> JoinRequest:
    """Read ``room``, ``token`` and ``name`` from ``auth``, falling back to the query string."""
    merged: dict[str, Any] = dict(parse_qsl(query_string or "", keep_blank_values=True))
    if isinstance(auth, dict):
        merged.update({k: v for k, v in auth.items() if k in ("room", "token", "name")})
    room = _scalar(merged.get("room"))
    if not room or not room.strip():
        raise Refusal("room_required", "Say which room to join: give 'room' in auth")
    token = merged.get("token")
    if token is not None and not isinstance(token, str):  # a bad credential is never turned into a guest
        raise Refusal("unauthorized", "The token is not valid: a token is a string")
    token = token or None  # an empty token is a missing one, like an empty room
    if token is not None:
        return JoinRequest(room=room, token=token, name=None)  # a credential names its user: name is for guests
    name = merged.get("name")
    if name is not None and not isinstance(name, str):
        raise Refusal("invalid_name", "A name must be a string of 1 to 64 characters")
    return JoinRequest(room=room, token=token, name=_checked_name(name))


def _checked_name(name: str | None) -> str | None:
    """A guest's name in its normal form (roomchat.names), None for none, or ``invalid_name``."""
    if name is None or not name.strip():
        return None  # an empty name is a missing one: the server names the guest
    if len(name) > MAX_SENT_NAME:
        raise Refusal("invalid_name", f"A name is at most {MAX_NAME} characters")
    name = name.strip()  # surrounding white space goes first: a trailing newline is no control character inside
    if CONTROL.search(name):
        raise Refusal("invalid_name", "A name may not contain control characters (line breaks, tabs, NUL, ...)")
    shown = normalise(name)
    if not shown:
        raise Refusal("invalid_name", "A name needs a visible character (invisible and direction-control "
                                      "characters are removed)")
    if len(shown) > MAX_NAME:
        raise Refusal("invalid_name", f"A name is at most {MAX_NAME} characters")
    return shown


def parse_message(raw: Any) -> Message:
    """A Message from an emit's first argument, or ``invalid_message``; other keys are dropped."""
    if type(raw) is not dict:
        raise Refusal("invalid_message", "A message is an object with a non-empty string 'type'")
    kind = raw.get("type")
    if type(kind) is not str or not kind:
        raise Refusal("invalid_message", "A message needs a non-empty string 'type'")
    return Message(kind, raw.get("value"))


def parse_target(raw: Any) -> int:
    """A user ID from a JSON integer or a string of ASCII digits, or ``invalid_target``."""
    if type(raw) is int:
        return raw
    if type(raw) is str and _DIGITS.fullmatch(raw):
        return int(raw)
    if type(raw) is str and raw.isascii() and raw.isdigit():  # an integer, just no one's ID
        raise Refusal("user_not_found", "There is no such user in this room")
    raise Refusal("invalid_target", "userID must be an integer (or a string of digits)")
