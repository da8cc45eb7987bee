"""The plugin-facing API: everything a plugin may do with the server it runs in.

A plugin never gets the server. Every hook that acts (and every message
context) gets a ``Chat``: this plugin's own view of the server, one per plugin
per server. Through it a plugin sends as the room, looks at who is in a room,
closes a user's connections, keeps state in its own namespaced ``Store``,
reads its settings for a room, and reads the time. That is the whole surface:
the built-in plugins (moderation included) use nothing else, and
docs/plugins.md documents every member (tests/test_hookspecs.py checks it).

Both are ``typing.Protocol``s: the server implements them (roomchat/core/),
and a plugin's tests may hand a hook any object that has these members.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .clock import Clock
from .config import RoomConfig
from .users import User


class Store(Protocol):
    """A plugin's key-value store: its own namespace, JSON values, optional expiry.

    Keys are the plugin's own: two plugins may both use ``"votes"`` without
    meeting (underneath, a key is ``<plugin>:<key>``). With a cluster the store
    lives in Redis and every server sees the same values; on a single server it
    lives in memory, and a restart forgets it. Expiry (``ttl``, seconds) is read
    from the server's clock.
    """

    @property
    def shared(self) -> bool:
        """True when other servers write this store too (a cluster), so nothing cached in-process is certain."""
        ...

    async def get(self, key: str) -> Any:
        """The value at ``key``, or None."""
        ...

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """The values at ``keys``, in order (None where a key has none), in one round trip."""
        ...

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (JSON data) at ``key``, forgotten ``ttl`` seconds from now if given."""
        ...

    async def delete(self, key: str) -> bool:
        """Forget ``key``; True if it held a value."""
        ...

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        """Set one field of the hash at ``key`` (with ``only_if_new``, only if it has none); True if set.

        With ``ttl``, the whole hash is forgotten ``ttl`` seconds after this call.
        """
        ...

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        """Every field of the hash at ``key`` (``{}`` if none)."""
        ...

    async def incr(self, key: str, amount: int = 1) -> int:
        """Add ``amount`` to the integer at ``key`` (0 if none) and return the result."""
        ...


class Chat(Protocol):
    """One plugin's view of the server: what its hooks and handlers may do.

    Messages a plugin sends come from the room (ID 0), as ``message`` events
    like any other; nobody can tell which plugin sent them. Methods that touch
    state are ``async`` and may raise ``roomchat.Refusal`` with the code
    ``unavailable`` while a cluster's Redis is out of reach.
    """

    @property
    def plugin(self) -> str:
        """This plugin's name (as ``roomchat plugins`` lists it and the config names it)."""
        ...

    @property
    def clock(self) -> Clock:
        """The server's clock: ``now()``, ``monotonic()``, ``sleep()``, ``call_later()`` (a test's FakeClock)."""
        ...

    @property
    def store(self) -> Store:
        """This plugin's own key-value store."""
        ...

    @property
    def log(self) -> logging.Logger:
        """This plugin's logger, ``roomchat.plugins.<name>``."""
        ...

    @property
    def bot_ids(self) -> frozenset[int]:
        """The IDs of the server's configured bots (``bots:``, in its process or external)."""
        ...

    def settings(self, room: str) -> Any:
        """This plugin's settings for room ``room``: its settings model (validated at start-up), or a dict.

        Raises ``Refusal("room_not_found")`` for a room that does not exist.
        """
        ...

    def room(self, name: str) -> RoomConfig:
        """The config of room ``name`` (``title``, ``admit``, ``max_users``...), as a join would resolve it.

        Raises ``Refusal("room_not_found")`` for a room that does not exist.
        """
        ...

    async def members(self, room: str) -> list[User]:
        """The users in ``room``, in order of joining."""
        ...

    async def member(self, room: str, user_id: int) -> User | None:
        """The user with this ID if it is in ``room``, else None."""
        ...

    async def send(self, room: str, type: str, value: Any, *, to: int | None = None) -> dict[str, Any]:
        """Send a message from the room (ID 0): to everyone in ``room``, or with ``to`` to every connection of one user.

        ``value`` is JSON data (or a pydantic model, sent as it dumps). Returns
        the ``message`` event's data (``from``, ``message``, ``id``, ``time``,
        and ``to`` for a message to one user).
        """
        ...

    async def disconnect(self, room: str, user_id: int) -> int:
        """Close every connection of user ``user_id`` in ``room`` (they may come back); how many were closed.

        The user's client gets a normal disconnect; the room hears
        ``user-disconnected``, and plugins ``roomchat_user_left``, as for any leave.
        """
        ...


@dataclass(frozen=True)
class WebAssets:
    """A plugin's files for the web client (what ``roomchat_web_assets`` returns).

    ``folder`` is served at ``/web/plugins/<plugin name>/``; ``entry`` is the
    path (inside ``folder``) of the ES module the app imports. Its default
    export is called with the app's API: ``registerRenderer(type, render)``
    and safe DOM helpers (docs/plugins.md, "Rendering in the web client").
    """

    folder: Path
    entry: str
