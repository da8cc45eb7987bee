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
HISTORY = "history"
# client -> server
DIRECT = "message"
BROADCAST = "broadcast-message"
GET_HISTORY = "get-history"

SENT = "Message sent"
"""The ``msg`` of an accepted emit's ack (a refusal's ``msg`` is a sentence, and its ``data`` has a ``code``)."""
HISTORY_SENT = "Message history"
"""The ``msg`` of the ``history`` event and of a ``get-history`` ack."""

ID_WIDTH = 16  # a message id: 16 digits (roomchat/storage/ids.py)
MAX_SENT_NAME = 1024  # a longer name cannot be 64 characters once normalised: refused before any work
_DIGITS = re.compile(r"[0-9]{1,30}")


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What a joining client asked of the room's history: its last ``count`` messages, or those after ``since``.

    ``since`` is whatever the client sent (a malformed one is answered as
    ``count`` with ``complete: false``, never refused); ``count`` is None when
    a ``since`` came without a usable ``history`` (the server's cap then applies).
    """

    count: int | None
    since: Any = None

    @property
    def wants_since(self) -> bool:
        """Whether the client rejoins with ``since`` (which decides over ``history``)."""
        return self.since is not None


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """What a connecting client asked for: a room, a token or a guest name, and maybe ``history`` or ``since``.

    ``history`` is None when not given (or not a count: it is ignored, never
    refused); ``since`` is as sent (None when not given).
    """

    room: str
    token: str | None
    name: str | None
    history: int | None = None
    since: Any = None

    @property
    def catch_up(self) -> CatchUp | None:
        """What the join asks of the room's history; None when it asks nothing (a client that predates history)."""
        if self.history is None and self.since is None:
            return None
        return CatchUp(self.history, self.since)


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """A ``get-history`` emit: the messages just before id ``before`` (None: the latest), at most ``limit``."""

    before: int | None
    limit: int | None


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
    return payload("Connected users", [u.shared_wire() for u in members])


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
    """Read ``room``, ``token``, ``name``, ``history`` and ``since`` from ``auth``, falling back to the query string."""
    merged: dict[str, Any] = dict(parse_qsl(query_string or "", keep_blank_values=True))
    if isinstance(auth, dict):
        merged.update({k: v for k, v in auth.items() if k in JOIN_KEYS})
    room = _scalar(merged.get("room"))
    if not room or not room.strip():
        raise Refusal("room_required", "Say which room to join: give 'room' in auth")
    token = merged.get("token")
    if token is not None and not isinstance(token, str):  # a bad credential is never turned into a guest
        raise Refusal("unauthorized", "The token is not valid: a token is a string")
    token = token or None  # an empty token is a missing one, like an empty room
    history, since = _count(merged.get("history")), merged.get("since")
    if since == "":
        since = None  # an empty since is a missing one, like an empty room
    if token is not None:  # a credential names its user: name is for guests
        return JoinRequest(room=room, token=token, name=None, history=history, since=since)
    name = merged.get("name")
    if name is not None and not isinstance(name, str):
        raise Refusal("invalid_name", "A name must be a string of 1 to 64 characters")
    return JoinRequest(room=room, token=token, name=_checked_name(name), history=history, since=since)


JOIN_KEYS = ("room", "token", "name", "history", "since")
"""The keys of a join (``auth``, or the query string)."""


def _count(raw: Any) -> int | None:
    """A join's ``history``: an integer from 0 (its digits in the query string); anything else is ignored (None)."""
    if type(raw) is int and raw >= 0:
        return raw
    if type(raw) is str and _DIGITS.fullmatch(raw):
        return int(raw)
    return None


def parse_history_request(raw: Any) -> HistoryRequest:
    """A ``get-history`` argument (``{"before"?: <id>, "limit"?: <n>}``, or nothing), or ``invalid_message``."""
    if raw is None:
        return HistoryRequest(None, None)
    if type(raw) is not dict:
        raise Refusal("invalid_message", "get-history takes an object: {\"before\"?: <message id>, \"limit\"?: <n>}")
    before = raw.get("before")
    if before is not None and not (type(before) is str and len(before) == ID_WIDTH and before.isascii()
                                   and before.isdigit()):
        raise Refusal("invalid_message", "'before' must be a message id (a string of 16 digits)")
    limit = raw.get("limit")
    if limit is not None and not (type(limit) is int and limit > 0):
        raise Refusal("invalid_message", "'limit' must be a positive integer")
    return HistoryRequest(int(before) if before is not None else None, limit)


def history_payload(page: dict[str, Any]) -> dict[str, Any]:
    """The ``history`` event, or a ``get-history`` ack: ``{"msg": "Message history", "data": {messages, complete}}``."""
    return payload(HISTORY_SENT, page)


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
