"""``moderation``: mute, unmute, kick, ban, unban, warn, and room locks (the built-in plugin ``moderation``).

A plugin like any other, on the public API only (``roomchat.Chat``): it
refuses joins with ``roomchat_check_join``, refuses messages with
``roomchat_check_message``, keeps its sanctions in its own namespaced store
and kicks with ``chat.disconnect``. Teachers, admins and bots act through one
message type, ``moderation``, sent with ``broadcast-message`` (or ``message``
to the user it is about); the plugin carries it out and consumes it, so
nobody receives the message itself::

    {"type": "moderation", "value": {"action": "mute", "user": 7, "seconds": 300, "reason": "flooding"}}

Actions: ``mute`` (for ``seconds``, or until ``unmute``), ``unmute``,
``kick`` (closes every connection of the user in the room; they may come
back), ``ban`` (kick, and refuse them with ``banned`` until ``seconds`` pass
or ``unban``), ``unban``, ``warn`` (only tells them), ``lock`` / ``unlock``
the room (``scope``: ``all`` (default), ``broadcast`` or ``direct``).
Any other keys of the value (``rule``, say) travel on to the notices.

Who may: teachers, admins and bots (``User.bot``: configured bots); students
get ``forbidden``. Admins cannot be moderated, teachers only by an admin, and
bots cannot moderate bots.

Enforced on every message: a muted user's messages are refused with
``muted`` (direct messages to a teacher or admin still pass, so they can ask
why); in a locked room a student may not broadcast, and may send direct
messages only to teachers, admins and bots (``forbidden``). A ban is checked
on every join. Admins are never restricted. A room that does not run this
plugin (``plugins.enabled`` / ``disabled``) has no moderation at all.

The affected user is told by a ``moderation`` message from the room (ID 0),
and so are the room's teachers and admins (the actor excepted); a lock or
unlock is told to the whole room. A notice's value is
``{"action", "user", "by", "reason", "seconds"?, "until"? (ms), ...extra}``.

Sanctions live in the plugin's store (``chat.store``): ``mute:<room>:<user>``,
``ban:<room>:<user>`` and ``lock:<room>``, each a JSON object
(``Sanction.as_json``) kept a little longer than it lasts; whether one is
still in force is decided by the server's clock (``chat.clock``). The store
outlives a restart, and so do they; ``restricting`` lists the mute and lock
keys put, so a server that starts again knows which rooms' messages to check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, StrictInt

from roomchat import ROOM_ID, Chat, MessageContext, MessageType, Refusal, Role, User, hookimpl
from roomchat.logs import event

TYPE = "moderation"
USER_ACTIONS = frozenset({"mute", "unmute", "kick", "ban", "unban", "warn"})
ROOM_ACTIONS = frozenset({"lock", "unlock"})
MUST_BE_PRESENT = frozenset({"kick", "warn"})
SLACK = 5.0
"""Seconds a sanction is kept past its end: the server's clock, not the store's expiry, says when it ends."""
INDEX = "restricting"
"""The store's key of ``{mute or lock key: room}``: what a server starting again reads (one server only)."""


class ModerationValue(BaseModel):
    """The value of a ``moderation`` message. Extra keys are kept and passed on to the notices."""

    model_config = ConfigDict(extra="allow")

    action: Literal["mute", "unmute", "kick", "ban", "unban", "warn", "lock", "unlock"]
    user: StrictInt | None = Field(None, description="the ID of the user it is about (not for lock/unlock)")
    seconds: PositiveFloat | None = Field(None, description="how long a mute, ban or lock lasts (none: until undone)")
    reason: str = Field("", max_length=500, description="told to the user and the room's teachers")
    scope: Literal["all", "broadcast", "direct"] = Field("all", description="lock only: what students may not do")


@dataclass(frozen=True, slots=True)
class Sanction:
    """A mute or a ban of one user in one room, or a room's lock.

    ``until``: when it ends, in seconds since the epoch of the server's clock
    (None: until undone); ``by``: the ID of who imposed it; ``scope`` (locks):
    ``all``, ``broadcast`` or ``direct``; ``by_admin``: an admin imposed it
    (only those bind a teacher).
    """

    until: float | None
    by: int
    reason: str = ""
    scope: str = ""
    by_admin: bool = False

    def active(self, now: float) -> bool:
        """Whether it is still in force at ``now`` (read from the server's clock)."""
        return self.until is None or now < self.until

    def as_json(self) -> dict[str, Any]:
        """The JSON object kept in the store."""
        return {"until": self.until, "by": self.by, "reason": self.reason, "scope": self.scope,
                "by_admin": self.by_admin}

    @classmethod
    def from_json(cls, data: Any) -> Sanction | None:
        """``as_json``'s inverse (None for nothing stored)."""
        if not isinstance(data, dict):
            return None
        return cls(data.get("until"), int(data.get("by", 0)), data.get("reason", ""), data.get("scope", ""),
                   bool(data.get("by_admin", False)))


def mute_key(room: str, user_id: int) -> str:
    """Where a user's mute in a room is kept in the plugin's store."""
    return f"mute:{room}:{user_id}"


def ban_key(room: str, user_id: int) -> str:
    """Where a user's ban from a room is kept."""
    return f"ban:{room}:{user_id}"


def lock_key(room: str) -> str:
    """Where a room's lock is kept."""
    return f"lock:{room}"


class Moderation:
    """The plugin, one instance per server: its ``Chat``, and which rooms may have a mute or a lock."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        # room -> the keys of its mutes and locks this server put, while nobody else writes the store: every
        # message of a room without one passes without a read (a cluster's store is shared: always read).
        self._restricting: dict[str, set[str]] = {}

    # -- registration ---------------------------------------------------------------------

    @hookimpl
    async def roomchat_startup(self, chat: Chat) -> None:
        """Learn which rooms have a mute or a lock from before a restart (the store keeps them)."""
        if chat.store.shared:
            return  # a cluster's store is always read
        index = await chat.store.get(INDEX)
        if not isinstance(index, dict) or not index:
            return
        keys = list(index)
        live = {key: index[key] for key, raw in zip(keys, await chat.store.get_many(keys), strict=True)
                if raw is not None}
        for key, room in live.items():
            self._restricting.setdefault(room, set()).add(key)
        if len(live) != len(index):
            await chat.store.set(INDEX, live)

    @hookimpl
    def roomchat_register_message_types(self, register: Callable[[MessageType], None]) -> None:
        """The ``moderation`` type: teachers, admins and bots act on users and the room."""
        register(MessageType(
            TYPE, ModerationValue, handlers=[self._moderate],
            description="mute, unmute, kick, ban, unban, warn a user, or lock/unlock the room (teachers, admins, bots)",
        ))

    # -- enforcement: every join, every message --------------------------------------------

    @hookimpl
    async def roomchat_check_join(self, chat: Chat, room: str, user: User) -> None:
        """Refuse a join with ``banned`` while the user is banned from the room (admins never are)."""
        if user.role is Role.ADMIN:
            return
        ban = Sanction.from_json(await chat.store.get(ban_key(room, user.id)))
        if ban is None:
            return
        now = chat.clock.now()
        if not ban.active(now):
            await chat.store.delete(ban_key(room, user.id))
            return
        if not _binds(ban, user):
            return
        raise Refusal("banned", f"You are banned from room {room!r}{_until_text(ban, now)}{_reason_text(ban)}",
                      until=_ms(ban.until))

    @hookimpl
    def roomchat_check_message(self, ctx: MessageContext) -> Awaitable[None] | None:
        """Refuse a muted user's messages (``muted``) and what a locked room forbids students (``forbidden``).

        Runs on every message, so the common case (an admin, a bot, or a room
        with no mute and no lock) returns at once without awaiting anything.
        """
        sender = ctx.sender
        if sender.role is Role.ADMIN or sender.bot or not self._may_restrict(ctx.room):
            return None
        return self._check(ctx)

    def _may_restrict(self, room: str) -> bool:
        return room in self._restricting or self.chat.store.shared

    async def _check(self, ctx: MessageContext) -> None:
        sender, store, room = ctx.sender, self.chat.store, ctx.room
        raw_mute, raw_lock = await store.get_many([mute_key(room, sender.id), lock_key(room)])
        mute, lock = Sanction.from_json(raw_mute), Sanction.from_json(raw_lock)
        if mute is None:
            self._forget(room, mute_key(room, sender.id))
        if lock is None:
            self._forget(room, lock_key(room))
        if mute is None and lock is None:
            return
        now = self.chat.clock.now()
        target = await self.chat.member(room, ctx.target) if ctx.target is not None else None
        if mute is not None:
            if not mute.active(now):
                await self._remove(room, mute_key(room, sender.id))
            elif _binds(mute, sender) and (target is None or not target.role.is_staff):
                raise Refusal("muted", f"You are muted in this room{_until_text(mute, now)}{_reason_text(mute)}",
                              until=_ms(mute.until))
        if lock is None or sender.role is not Role.STUDENT:
            return
        if not lock.active(now):
            await self._remove(room, lock_key(room))
            return
        if ctx.is_broadcast and lock.scope in ("all", "broadcast"):
            raise Refusal("forbidden", "The room is locked: students may not send messages to the whole room")
        if target is not None and lock.scope in ("all", "direct") and not (target.role.is_staff or target.bot):
            raise Refusal("forbidden", "The room is locked: students may send direct messages only to teachers")

    # -- the store ----------------------------------------------------------------------------

    async def _put(self, room: str, key: str, sanction: Sanction, seconds: float | None) -> None:
        store = self.chat.store
        await store.set(key, sanction.as_json(), ttl=seconds + SLACK if seconds is not None else None)
        if not key.startswith("ban:"):
            self._restricting.setdefault(room, set()).add(key)
            if not store.shared:  # for the next start (roomchat_startup); the keys that went are pruned then
                index = await store.get(INDEX)
                await store.set(INDEX, {**(index if isinstance(index, dict) else {}), key: room})

    async def _remove(self, room: str, key: str) -> None:
        await self.chat.store.delete(key)
        self._forget(room, key)

    def _forget(self, room: str, key: str) -> None:
        keys = self._restricting.get(room)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._restricting[room]

    # -- acting: the moderation message type ----------------------------------------------

    async def _moderate(self, ctx: MessageContext) -> None:
        actor = ctx.sender
        if not (actor.role.is_staff or actor.bot):
            raise Refusal("forbidden", "Only teachers, admins and bots may moderate this room")
        value: ModerationValue = ctx.value
        if value.action in ROOM_ACTIONS:
            await self._room_action(ctx, value)
        else:
            await self._user_action(ctx, value)
        ctx.consume()

    async def _user_action(self, ctx: MessageContext, value: ModerationValue) -> None:
        chat, room, actor = self.chat, ctx.room, ctx.sender
        user_id = value.user if value.user is not None else ctx.target
        if user_id is None:
            ctx.invalid(f"say whom to {value.action}: give 'user', their ID", loc=("user",))
        if user_id == actor.id:
            raise Refusal("forbidden", "You cannot moderate yourself")
        target = await chat.member(room, user_id) if user_id != ROOM_ID else None
        if target is None and (value.action in MUST_BE_PRESENT or user_id == ROOM_ID):
            raise Refusal("user_not_found", f"User {user_id} is not in this room")
        if target is not None:
            _check_rank(actor, target)
        now = chat.clock.now()
        until = now + value.seconds if value.seconds is not None and value.action in ("mute", "ban") else None
        sanction = Sanction(until, actor.id, value.reason, by_admin=actor.role is Role.ADMIN and not actor.bot)
        if value.action == "mute":
            await self._put(room, mute_key(room, user_id), sanction, value.seconds)
        elif value.action == "ban":
            await self._put(room, ban_key(room, user_id), sanction, value.seconds)
        elif value.action == "unmute":
            await self._remove(room, mute_key(room, user_id))
        elif value.action == "unban":
            await self._remove(room, ban_key(room, user_id))
        notice = _notice(value, actor, user_id, until)
        await self._tell(ctx, notice, user_id)
        if value.action in ("kick", "ban"):
            await chat.disconnect(room, user_id)
        event(chat.log, "moderation", room=room, action=value.action, user=user_id, by=actor.id,
              seconds=value.seconds or "", bot=actor.bot)

    async def _room_action(self, ctx: MessageContext, value: ModerationValue) -> None:
        chat, room, actor = self.chat, ctx.room, ctx.sender
        until = None
        if value.action == "lock":
            until = chat.clock.now() + value.seconds if value.seconds is not None else None
            await self._put(room, lock_key(room), Sanction(until, actor.id, value.reason, value.scope), value.seconds)
        else:
            await self._remove(room, lock_key(room))
        await chat.send(room, TYPE, _notice(value, actor, None, until))
        event(chat.log, "moderation", room=room, action=value.action, scope=value.scope, by=actor.id, bot=actor.bot)

    async def _tell(self, ctx: MessageContext, notice: dict[str, Any], user_id: int) -> None:
        """The affected user first, then the room's teachers and admins (not bots, not the actor)."""
        chat, room = self.chat, ctx.room
        await chat.send(room, TYPE, notice, to=user_id)
        for member in await chat.members(room):
            if member.role.is_staff and not member.bot and member.id not in (ctx.sender.id, user_id):
                await chat.send(room, TYPE, notice, to=member.id)


def _binds(sanction: Sanction, user: User) -> bool:
    """Teachers are bound only by what an admin imposed (it may have been imposed while they were away)."""
    return user.role is not Role.TEACHER or sanction.by_admin


def _check_rank(actor: User, target: User) -> None:
    if target.role is Role.ADMIN:
        raise Refusal("forbidden", "Admins cannot be moderated")
    if target.role is Role.TEACHER and not (actor.role is Role.ADMIN and not actor.bot):
        raise Refusal("forbidden", "Only an admin may moderate a teacher")
    if target.bot and actor.bot:
        raise Refusal("forbidden", "Bots cannot moderate bots")


def _notice(value: ModerationValue, actor: User, user_id: int | None, until: float | None) -> dict[str, Any]:
    notice: dict[str, Any] = {"action": value.action}
    if user_id is not None:
        notice["user"] = user_id
    notice["by"] = actor.id
    notice["reason"] = value.reason
    if value.seconds is not None and value.action in ("mute", "ban", "lock"):
        notice["seconds"] = value.seconds
        notice["until"] = _ms(until)
    if value.action in ("lock", "unlock"):
        notice["scope"] = value.scope
    notice.update(value.model_extra or {})
    return notice


def _ms(when: float | None) -> int | None:
    return int(when * 1000) if when is not None else None


def _until_text(sanction: Sanction, now: float) -> str:
    if sanction.until is None:
        return ""
    left = max(1, round(sanction.until - now))
    return f" for {left} more second{'s' if left != 1 else ''}"


def _reason_text(sanction: Sanction) -> str:
    return f" ({sanction.reason})" if sanction.reason else ""

