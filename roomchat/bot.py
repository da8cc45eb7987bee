"""The bot SDK: a bot is a class with handlers, commands, actions, timers and per-room state.

A bot is an ordinary user of the rooms it joins: it has an ``ID``, a ``role``
and a ``name``, appears in ``initial-response``, triggers ``user-connected``,
and sends and receives the same events as anyone else. The same class runs
inside ``roomchat serve`` (bots declared in the config's ``bots:``) or as a
process of its own (``roomchat bot run KIND ...``); its code cannot tell which::

    from roomchat.bot import Bot, BotRoom, BotSettings, Incoming, command

    class Echo(Bot):
        kind = "echo"

        class Settings(BotSettings):
            prefix: str = ""

        async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
            await msg.reply(f"{self.settings.prefix}{msg.value}", msg.type)

        @command("shout", staff_only=True)
        async def shout(self, room: BotRoom, msg: Incoming, text: str) -> None:
            \"\"\"Say something to the whole room.\"\"\"
            await room.broadcast("text", text.upper())

Handlers (all optional, all ``async``): ``on_start``, ``on_join``,
``on_user_joined``, ``on_user_left``, ``on_room_message``,
``on_direct_message``, ``on_leave``, ``on_stop``; commands are ``@command``
methods (``roomchat.client.commands``), refused ones go to
``on_command_refused``. A handler that raises is logged and the error goes no
further: the bot, the room and its users carry on. A room's handlers and its
timers' callbacks run one at a time.

Actions live on ``BotRoom``: ``send``, ``broadcast``, ``moderate``,
``call_later`` and ``timers`` (through the bot's clock), ``teachers``,
``leave``; per-room, per-bot state is the dict ``room.state`` (kept while the
bot runs); what must outlive a restart goes in ``self.store``, the bot's own
persistent key-value store (``roomchat.client.store``); a received message
answers itself with ``msg.reply(...)``. Time is ``self.clock``: tests
hand the bot a ``roomchat.clock.FakeClock`` and advance it (docs/bots.md).

Which users are bots: bots are configured, not announced on the wire (a User
on the wire is exactly ``{"ID", "role", "name"}``). The runner tells the bot
the IDs of the configured bots (every ``bots:`` entry of the server's config;
``roomchat bot run --config`` or ``--bot-id``), and ``User.bot`` is set from
them. With ``ignore_bots = True`` (the default) messages from those users
never reach the handlers, so two bots cannot talk each other into a loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from .client import wire
from .client.ack import Ack
from .client.commands import Command, CommandRefused, Commands, Invocation, command, read_command
from .client.message import Incoming
from .client.store import BotStore, bot_namespace
from .client.timers import Timers
from .clock import Callback, Clock, Timer, run_within
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
    "BotStore",
    "Command",
    "CommandRefused",
    "Incoming",
    "Role",
    "Timer",
    "Timers",
    "User",
    "command",
]

log = logging.getLogger("roomchat.bots")

MODERATION_TYPE = "moderation"
"""The message type moderation travels as (``broadcast-message``; the moderation plugin consumes it)."""

MODERATION_ACTIONS = ("mute", "unmute", "kick", "ban", "unban", "lock", "unlock", "warn")
"""What ``BotRoom.moderate`` (and a teacher's ``moderation`` message) can do."""

_NOT_CONNECTED = ("disconnected", "The bot is not connected to this room")


class BotSettings(BaseModel):
    """Base of a bot's settings model: unknown keys are errors; give every field a default."""

    model_config = ConfigDict(extra="forbid")


class Link(Protocol):
    """What a BotRoom sends through: one connection to one room (the runner's ``RoomLink``)."""

    @property
    def connected(self) -> bool: ...

    async def call(self, event_name: str, *args: Any) -> Ack: ...

    async def close(self) -> None: ...


class BotRoom:
    """One room as a bot sees it.

    ``name``; ``me`` (the bot's own User); ``users`` (ID -> User, the bot
    included, in order of joining); ``state`` (a dict for this bot in this
    room, kept while the bot runs, across reconnects); ``clock``;
    ``timers`` (the room's ``Timers``); ``lock`` (held while a handler or a
    timer's callback runs).
    """

    def __init__(self, bot: Bot, name: str) -> None:
        self.bot = bot
        self.name = name
        self.me: User = User(ROOM_ID, Role.STUDENT, "", bot=True)  # until initial-response
        self.users: dict[int, User] = {}
        self.state: dict[str, Any] = {}
        self.clock: Clock = bot.clock
        self.lock = asyncio.Lock()
        self.timers = Timers(bot.clock, lock=self.lock, run=bot._safely, label=f"timer in {name}")
        self.reply_in_room = bot.reply_in_room
        self.joined = False
        self.left = False
        self._link: Link | None = None

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

        Sends a ``moderation`` message, which the server's moderation plugin
        carries out exactly as it does a teacher's (needs that plugin in the
        room). ``seconds`` bounds a mute, ban or lock (None: until undone).
        ``extra`` keys (``rule="flood"``, say) travel to the notices the
        affected user and the room's teachers get. Check ``ack.ok``.
        """
        value: dict[str, Any] = {"action": action, **extra}
        if user_id is not None:
            value["user"] = user_id
        if seconds is not None:
            value["seconds"] = seconds
        if reason:
            value["reason"] = reason
        return await self.broadcast(MODERATION_TYPE, value)

    def call_later(self, seconds: float, callback: Callback, *, group: str = "") -> Timer:
        """Run ``callback`` (sync or async, no arguments) after ``seconds`` of the bot's clock (``timers.call_later``).

        A callback that raises is logged, like a handler. ``timer.cancel()``
        stops it; every timer stops when the bot stops or leaves the room.
        """
        return self.timers.call_later(seconds, callback, group=group)

    def teachers(self) -> list[User]:
        """The teachers and admins present (not bots, not the bot itself)."""
        return [u for u in self.users.values() if u.role.is_staff and not u.bot and u.id != self.me.id]

    def user(self, user_id: int) -> User | None:
        """The user with this ID if present."""
        return self.users.get(user_id)

    async def leave(self) -> None:
        """Leave the room for good: its timers stop, the connection closes and is not made again.

        ``on_leave`` follows; a bot that left all its rooms stops (``on_stop``).
        """
        self.left = True
        self.timers.close()
        if self._link is not None:
            await self._link.close()

    @property
    def connected(self) -> bool:
        """Whether the bot is in the room right now (between ``on_join`` and ``on_leave``)."""
        return self.joined and self._link is not None and self._link.connected

    def __repr__(self) -> str:
        return f"<BotRoom {self.name!r} as {self.me.name!r}, {len(self.users)} users>"

    # -- the runner feeds events in through these ---------------------------------

    async def _call(self, event_name: str, *args: Any) -> Ack:
        if self._link is None or not self._link.connected:
            return Ack.refusal(*_NOT_CONNECTED)
        return await self._link.call(event_name, *args)

    def _is_bot(self, user_id: int) -> bool:
        return user_id in self.bot.bot_ids

    async def _joined(self, link: Link, members: Any) -> None:
        async with self.lock:
            self._link = link
            users = wire.read_users(members, self._is_bot)
            self.users = {u.id: u for u in users}
            if users:
                me = users[-1]
                self.me = User(me.id, me.role, me.name, bot=True)
                self.users[me.id] = self.me
            self.joined = True
            await self.bot._safely("on_join", self.bot.on_join, self)

    async def _user_joined(self, data: Any) -> None:
        user = wire.read_user(data, self._is_bot)
        if user is None:
            return
        async with self.lock:
            self.users[user.id] = user
            await self.bot._safely("on_user_joined", self.bot.on_user_joined, self, user)

    async def _user_left(self, data: Any) -> None:
        user = wire.read_user(data, self._is_bot)
        if user is None:
            return
        async with self.lock:
            user = self.users.pop(user.id, None) or user
            await self.bot._safely("on_user_left", self.bot.on_user_left, self, user)

    async def _message(self, data: Any) -> None:
        msg = wire.read_message(data, self.users, room=self)
        if msg is None:
            return
        sender = msg.sender
        if self.bot.ignore_bots and msg.from_id != self.me.id and (
            self._is_bot(msg.from_id) or (sender is not None and sender.bot)
        ):
            return
        async with self.lock:
            await self.bot._route(self, msg)

    async def _left(self) -> None:
        if not self.joined:
            return
        self.joined = False
        async with self.lock:
            await self.bot._safely("on_leave", self.bot.on_leave, self)


_COMMANDS: dict[type, Commands] = {}


class Bot:
    """Base class of every bot. Subclass it, set ``kind``, override the handlers you need, add ``@command``s.

    Class attributes: ``kind`` (what ``bots: - kind:`` names), ``Settings``
    (a ``BotSettings`` subclass, validated at start-up), ``ignore_bots``,
    ``handler_timeout`` (seconds a handler or timer callback may take before
    it is cut off and logged, so one stuck call cannot stop the bot; None: no
    limit), ``reply_in_room`` (``msg.reply`` answers in the room rather than
    directly), and how commands arrive: ``command_prefixes``,
    ``default_command``, ``command_type`` and ``command_key``,
    ``room_commands``, ``command_help``.
    Instance attributes: ``settings`` (the validated model), ``log`` (a
    logger), ``clock`` (a ``roomchat.clock.Clock``), ``store`` (the bot's own
    persistent ``BotStore``: the server's database for a bot it runs, the
    database ``roomchat bot run`` opens for an external one, memory when the
    bot is built by hand), ``rooms`` (name -> BotRoom), ``bot_ids`` (IDs of
    the users known to be bots), ``commands``.
    """

    kind: ClassVar[str] = ""
    Settings: ClassVar[type[BotSettings]] = BotSettings
    ignore_bots: ClassVar[bool] = True
    handler_timeout: ClassVar[float | None] = 30.0
    reply_in_room: ClassVar[bool] = False
    command_prefixes: ClassVar[tuple[str, ...]] = ("/",)
    """A text that starts with one of these is a command (``""``: every text)."""
    default_command: ClassVar[str | None] = None
    """The command a prefix alone means (``/quiz`` alone is the quiz's ``status``)."""
    command_type: ClassVar[str | None] = None
    """A message type whose every message is a command: its value ``{command_key: name, <argument>: ...}`` or a name."""
    command_key: ClassVar[str] = "command"
    room_commands: ClassVar[bool] = False
    """True: commands are read from room (broadcast) messages too, not only from direct ones."""
    command_help: ClassVar[str] = "Commands:"
    """The first line of ``help_text()``."""

    def __init__(self, settings: BotSettings | dict[str, Any] | None = None, *, clock: Clock | None = None,
                 bot_ids: Iterable[int] = (), store: BotStore | None = None) -> None:
        self.settings: Any = (settings if isinstance(settings, self.Settings)
                              else self.validate_settings(settings if isinstance(settings, dict) else {}))
        self.clock: Clock = clock or Clock()
        self.log = logging.getLogger(f"roomchat.bots.{self.kind or type(self).__name__}")
        self.rooms: dict[str, BotRoom] = {}
        self.bot_ids: set[int] = set(bot_ids)
        self.store: BotStore = store if store is not None else BotStore.in_memory(
            bot_namespace(self.kind or type(self).__name__))
        self.commands: Commands = self.command_table()

    @classmethod
    def validate_settings(cls, values: dict[str, Any], path: str = "settings", source: str = "<bot settings>") -> Any:
        """The ``Settings`` model of ``values``; a ConfigError naming ``path.<key>`` if they are wrong."""
        try:
            return cls.Settings.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(source, [describe_error(e, path, "setting") for e in exc.errors()]) from None

    @classmethod
    def command_table(cls) -> Commands:
        """The class's ``@command`` methods (read once per class; TypeError when one cannot be a command)."""
        table = _COMMANDS.get(cls)
        if table is None:
            table = _COMMANDS[cls] = Commands.of(cls)
        return table

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
        """A message sent to the bot alone (that is not a command)."""

    async def on_command_refused(self, room: BotRoom, msg: Incoming, refusal: CommandRefused) -> None:
        """A command that was not carried out (unknown, forbidden, bad arguments, or refused by its handler).

        By default the sender gets ``refusal.message`` as a ``text`` (``msg.reply``).
        """
        await msg.reply(refusal.message)

    async def on_leave(self, room: BotRoom) -> None:
        """The bot's connection to ``room`` closed (it reconnects by itself, unless it ``leave()``-d)."""

    async def on_stop(self) -> None:
        """Once, when the bot stops (after leaving its rooms)."""

    # -- commands -------------------------------------------------------------------

    def read_command(self, msg: Incoming) -> Invocation | None:
        """The command ``msg`` gives (by ``command_type`` or a text's prefix), or None; CommandRefused if it is
        a command message that names none."""
        return read_command(msg.type, msg.value, command_type=self.command_type, key=self.command_key,
                            prefixes=self.command_prefixes, default=self.default_command)

    async def run_command(self, room: BotRoom, msg: Incoming, command: Command, arguments: Mapping[str, Any]) -> None:
        """Carry a command out: call its handler with the validated ``arguments``. Override it to wrap every command."""
        await command.handler(self, room, msg, **arguments)

    def help_text(self, user: User | None = None) -> str:
        """The generated help: ``command_help``, then each command ``user`` may use with its arguments."""
        prefix = next(iter(self.command_prefixes), "")
        if prefix and prefix[-1].isalnum():
            prefix += " "
        return self.commands.help(user, header=self.command_help, prefix=prefix)

    # -- internals ----------------------------------------------------------------

    def room(self, name: str) -> BotRoom:
        """The BotRoom called ``name`` (made on first use)."""
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = BotRoom(self, name)
        return room

    async def _route(self, room: BotRoom, msg: Incoming) -> None:
        """A message: to its command, or to ``on_direct_message`` / ``on_room_message``."""
        if len(self.commands) and not msg.from_room and (msg.direct or self.room_commands):
            try:
                call = self.read_command(msg)
            except CommandRefused as refusal:
                await self._safely("on_command_refused", self.on_command_refused, room, msg, refusal)
                return
            if call is not None:
                await self._safely(f"command {call.name}", self._command, room, msg, call)
                return
        if msg.direct:
            await self._safely("on_direct_message", self.on_direct_message, room, msg)
        else:
            await self._safely("on_room_message", self.on_room_message, room, msg)

    async def _command(self, room: BotRoom, msg: Incoming, call: Invocation) -> None:
        try:
            found, arguments = self.commands.resolve(call, msg.sender)
            await self.run_command(room, msg, found, arguments)
        except CommandRefused as refusal:
            event(log, "bot_command_refused", bot=self.kind or type(self).__name__, room=room.name,
                  command=refusal.name or call.name, code=refusal.code)
            await self.on_command_refused(room, msg, refusal)

    async def _safely(self, what: str, fn: Any, *args: Any) -> None:
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
            room.timers.close()
