"""The bot SDK: a bot is a class with handlers, actions, timers and per-room state.

A bot is an ordinary user of the rooms it joins: it has an ``ID``, a ``role``
and a ``name``, appears in ``initial-response``, triggers ``user-connected``,
and sends and receives the same events as anyone else. The same class runs
inside ``roomchat serve`` (bots declared in the config's ``bots:``) or as a
process of its own (``roomchat bot run KIND ...``); its code cannot tell which::

    from roomchat.bot import Bot, BotRoom, BotSettings, Incoming, User

    class Echo(Bot):
        kind = "echo"

        class Settings(BotSettings):
            prefix: str = ""

        async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
            await room.send(msg.from_id, msg.type, f"{self.settings.prefix}{msg.value}")

Handlers (all optional, all ``async``): ``on_start``, ``on_join``,
``on_user_joined``, ``on_user_left``, ``on_room_message``,
``on_direct_message``, ``on_leave``, ``on_stop``. A handler that raises is
logged and the error goes no further: the bot, the room and its users carry on.

Actions live on ``BotRoom``: ``send``, ``broadcast``, ``moderate``,
``call_later`` (timers through the bot's clock), ``teachers``; per-room,
per-bot state is the dict ``room.state``. Time is ``self.clock``: tests hand
the bot a ``roomchat.clock.FakeClock`` and advance it (docs/bots.md).

Which users are bots: bots are configured, not announced on the wire (a User
on the wire is exactly ``{"ID", "role", "name"}``). The runner tells the bot
the IDs of the configured bots (every ``bots:`` entry of the server's config;
``roomchat bot run --config`` or ``--bot-id``), and ``User.bot`` is set from
them. With ``ignore_bots = True`` (the default) messages from those users
never reach the handlers, so two bots cannot talk each other into a loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from .clock import Clock, Timer, run_within
from .config import describe_error
from .errors import ConfigError
from .logs import event
from .users import ROOM_ID, Role, User

__all__ = [
    "MODERATION_ACTIONS",
    "MODERATION_TYPE",
    "Ack",
    "Bot",
    "BotRoom",
    "BotSettings",
    "Incoming",
    "Role",
    "Timer",
    "User",
]

log = logging.getLogger("roomchat.bots")

MODERATION_TYPE = "moderation"
"""The message type moderation travels as (``broadcast-message``; the server consumes it)."""

MODERATION_ACTIONS = ("mute", "unmute", "kick", "ban", "unban", "lock", "unlock", "warn")
"""What ``BotRoom.moderate`` (and a teacher's ``moderation`` message) can do."""

SENT = "Message sent"


class BotSettings(BaseModel):
    """Base of a bot's settings model: unknown keys are errors; give every field a default."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Ack:
    """The server's answer to something the bot sent: accepted (``ok``) or refused (``code``)."""

    msg: str
    data: Any

    @property
    def ok(self) -> bool:
        """True when the server accepted the message."""
        return self.msg == SENT

    @property
    def code(self) -> str | None:
        """The refusal code (``muted``, ``forbidden``, ``disconnected``...), or None when accepted."""
        if self.ok:
            return None
        return self.data.get("code") if isinstance(self.data, dict) else "invalid_ack"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message the bot received.

    ``sender`` is the sending User, or None when the room (ID 0) sent it or
    the sender already left; ``from_id`` is always the sender's ID. ``direct``
    is True for a message addressed to the bot (``message``), False for one
    sent to the whole room (``broadcast-message``). ``id`` and ``time`` (ms
    since the epoch) are the server's.
    """

    sender: User | None
    from_id: int
    type: str
    value: Any
    id: str | None
    time: int | None
    direct: bool

    @property
    def from_room(self) -> bool:
        """True when the room itself (ID 0: the server or a plugin) sent it."""
        return self.from_id == ROOM_ID

    @property
    def text(self) -> str:
        """The value as text: the string itself, or '' for anything that is not a string."""
        return self.value if isinstance(self.value, str) else ""


class Link(Protocol):
    """What a BotRoom sends through: one connection to one room (the runner provides it)."""

    @property
    def connected(self) -> bool: ...

    async def call(self, event_name: str, *args: Any) -> Ack: ...


class BotRoom:
    """One room as a bot sees it.

    ``name``; ``me`` (the bot's own User); ``users`` (ID -> User, the bot
    included, in order of joining); ``state`` (a dict for this bot in this
    room, kept while the bot runs, across reconnects); ``clock``.
    """

    def __init__(self, bot: Bot, name: str) -> None:
        self.bot = bot
        self.name = name
        self.me: User = User(ROOM_ID, Role.STUDENT, "", bot=True)  # until initial-response
        self.users: dict[int, User] = {}
        self.state: dict[str, Any] = {}
        self.clock: Clock = bot.clock
        self.joined = False
        self._link: Link | None = None
        self._timers: set[Timer] = set()

    # -- actions --------------------------------------------------------------

    async def send(self, user_id: int, type: str, value: Any = None) -> Ack:
        """Send a message to one user of the room (``message``); returns the server's ack."""
        return await self._call("message", {"type": type, "value": value}, user_id)

    async def broadcast(self, type: str, value: Any = None) -> Ack:
        """Send a message to everyone in the room but the bot (``broadcast-message``)."""
        return await self._call("broadcast-message", {"type": type, "value": value})

    async def moderate(self, action: str, user_id: int | None = None, seconds: float | None = None,
                       reason: str = "", **extra: Any) -> Ack:
        """Mute, unmute, kick, ban, unban, warn a user, or lock/unlock the room.

        Sends a ``moderation`` message, which the server carries out exactly as
        it does a teacher's. ``seconds`` bounds a mute, ban or lock (None: until
        undone). ``extra`` keys (``rule="flood"``, say) travel to the notices
        the affected user and the room's teachers get. Check ``ack.ok``.
        """
        value: dict[str, Any] = {"action": action, **extra}
        if user_id is not None:
            value["user"] = user_id
        if seconds is not None:
            value["seconds"] = seconds
        if reason:
            value["reason"] = reason
        return await self.broadcast(MODERATION_TYPE, value)

    def call_later(self, seconds: float, callback: Callable[[], Awaitable[Any] | Any]) -> Timer:
        """Run ``callback`` (sync or async, no arguments) after ``seconds`` of the bot's clock.

        A callback that raises is logged, like a handler. ``timer.cancel()``
        stops it; every timer stops when the bot stops.
        """
        timer: Timer

        async def run() -> None:
            self._timers.discard(timer)
            await self.bot._safely(f"timer in {self.name}", callback)

        timer = self.clock.call_later(seconds, run)
        self._timers.add(timer)
        return timer

    def teachers(self) -> list[User]:
        """The teachers and admins present (not bots, not the bot itself)."""
        return [u for u in self.users.values() if u.role.is_staff and not u.bot and u.id != self.me.id]

    def user(self, user_id: int) -> User | None:
        """The user with this ID if present."""
        return self.users.get(user_id)

    @property
    def connected(self) -> bool:
        """Whether the bot is in the room right now (between ``on_join`` and ``on_leave``)."""
        return self.joined and self._link is not None and self._link.connected

    def __repr__(self) -> str:
        return f"<BotRoom {self.name!r} as {self.me.name!r}, {len(self.users)} users>"

    # -- the runner feeds events in through these ---------------------------------

    async def _call(self, event_name: str, *args: Any) -> Ack:
        if self._link is None or not self._link.connected:
            return Ack("The bot is not connected to this room", {"code": "disconnected"})
        return await self._link.call(event_name, *args)

    def _as_user(self, wire: dict[str, Any]) -> User:
        return User.from_wire(wire, bot=int(wire["ID"]) in self.bot.bot_ids)

    async def _joined(self, link: Link, members: list[dict[str, Any]]) -> None:
        self._link = link
        users = [self._as_user(u) for u in members]
        self.users = {u.id: u for u in users}
        if users:
            me = users[-1]
            self.me = User(me.id, me.role, me.name, bot=True)
            self.users[me.id] = self.me
        self.joined = True
        await self.bot._safely("on_join", self.bot.on_join, self)

    async def _user_joined(self, wire: dict[str, Any]) -> None:
        user = self._as_user(wire)
        self.users[user.id] = user
        await self.bot._safely("on_user_joined", self.bot.on_user_joined, self, user)

    async def _user_left(self, wire: dict[str, Any]) -> None:
        user = self.users.pop(int(wire["ID"]), None) or self._as_user(wire)
        await self.bot._safely("on_user_left", self.bot.on_user_left, self, user)

    async def _message(self, data: dict[str, Any]) -> None:
        from_id = int(data.get("from", ROOM_ID))
        sender = self.users.get(from_id) if from_id != ROOM_ID else None
        if self.bot.ignore_bots and from_id != self.me.id and (
            from_id in self.bot.bot_ids or (sender is not None and sender.bot)
        ):
            return
        message = data.get("message") or {}
        # Direct messages carry "to" (the addressed user's ID); broadcasts do not.
        msg = Incoming(sender, from_id, str(message.get("type", "")), message.get("value"), data.get("id"),
                       data.get("time"), direct="to" in data)
        if msg.direct:
            await self.bot._safely("on_direct_message", self.bot.on_direct_message, self, msg)
        else:
            await self.bot._safely("on_room_message", self.bot.on_room_message, self, msg)

    async def _left(self) -> None:
        if not self.joined:
            return
        self.joined = False
        await self.bot._safely("on_leave", self.bot.on_leave, self)

    def _cancel_timers(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        self._timers.clear()


class Bot:
    """Base class of every bot. Subclass it, set ``kind``, override the handlers you need.

    Class attributes: ``kind`` (what ``bots: - kind:`` names), ``Settings``
    (a ``BotSettings`` subclass, validated at start-up), ``ignore_bots``,
    ``handler_timeout`` (seconds a handler or timer callback may take before
    it is cut off and logged, so one stuck call cannot stop the bot; None: no limit).
    Instance attributes: ``settings`` (the validated model), ``log`` (a
    logger), ``clock`` (a ``roomchat.clock.Clock``), ``rooms`` (name ->
    BotRoom), ``bot_ids`` (IDs of the users known to be bots).
    """

    kind: ClassVar[str] = ""
    Settings: ClassVar[type[BotSettings]] = BotSettings
    ignore_bots: ClassVar[bool] = True
    handler_timeout: ClassVar[float | None] = 30.0

    def __init__(self, settings: BotSettings | dict[str, Any] | None = None, *, clock: Clock | None = None,
                 bot_ids: Iterable[int] = ()) -> None:
        self.settings: Any = settings if isinstance(settings, self.Settings) else self.validate_settings(settings or {})
        self.clock: Clock = clock or Clock()
        self.log = logging.getLogger(f"roomchat.bots.{self.kind or type(self).__name__}")
        self.rooms: dict[str, BotRoom] = {}
        self.bot_ids: set[int] = set(bot_ids)

    @classmethod
    def validate_settings(cls, values: dict[str, Any], path: str = "settings", source: str = "<bot settings>") -> Any:
        """The ``Settings`` model of ``values``; a ConfigError naming ``path.<key>`` if they are wrong."""
        try:
            return cls.Settings.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(source, [describe_error(e, path, "setting") for e in exc.errors()]) from None

    # -- handlers: override the ones you need -------------------------------------

    async def on_start(self) -> None:
        """Once, before the bot joins its rooms (load files, open connections)."""

    async def on_join(self, room: BotRoom) -> None:
        """The bot is in ``room`` (after its ``initial-response``): ``room.users`` is filled in."""

    async def on_user_joined(self, room: BotRoom, user: User) -> None:
        """Someone else entered ``room`` (``user.bot`` tells whether it is a bot)."""

    async def on_user_left(self, room: BotRoom, user: User) -> None:
        """Someone left ``room``."""

    async def on_room_message(self, room: BotRoom, msg: Incoming) -> None:
        """A message sent to the whole room (by a user, or by the room itself: ``msg.from_room``)."""

    async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
        """A message sent to the bot alone."""

    async def on_leave(self, room: BotRoom) -> None:
        """The bot's connection to ``room`` closed (it reconnects by itself; ``on_join`` follows)."""

    async def on_stop(self) -> None:
        """Once, when the bot stops (after leaving its rooms)."""

    # -- internals ----------------------------------------------------------------

    def room(self, name: str) -> BotRoom:
        """The BotRoom called ``name`` (made on first use)."""
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = BotRoom(self, name)
        return room

    async def _safely(self, what: str, fn: Callable[..., Any], *args: Any) -> None:
        """Run a handler or timer callback; a failure is logged and goes no further."""
        try:
            await run_within(self.handler_timeout, fn, *args)
        except TimeoutError:
            event(log, "bot_handler_timeout", logging.ERROR, bot=self.kind or type(self).__name__, handler=what,
                  seconds=self.handler_timeout)
        except Exception:
            event(log, "bot_handler_failed", logging.ERROR, bot=self.kind or type(self).__name__, handler=what)
            self.log.exception("bot %s failed in %s", self.kind or type(self).__name__, what)

    def _stop_timers(self) -> None:
        for room in self.rooms.values():
            room._cancel_timers()

