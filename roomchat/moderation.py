"""Moderation in the core: mute, unmute, kick, ban, unban, warn, and room locks.

A built-in plugin, registered like any other (``BUILTIN_PLUGINS``). Teachers,
admins and bots act through one message type, ``moderation``, sent with
``broadcast-message`` (or ``message`` to the user it is about); the server
carries it out and consumes it, so nobody receives the message itself::

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

Enforced by the server, on every message (``roomchat_check_message``):
a muted user's messages are refused with ``muted`` (direct messages to a
teacher or admin still pass, so they can ask why); in a locked room a
student may not broadcast, and may send direct messages only to teachers,
admins and bots (``forbidden``). A ban is checked on every join
(``ChatServer.check_admission``). Admins are never restricted.

The affected user is told by a ``moderation`` message from the room (ID 0),
and so are the room's teachers and admins (the actor excepted); a lock or
unlock is told to the whole room. A notice's value is
``{"action", "user", "by", "reason", "seconds"?, "until"? (ms), ...extra}``.

State lives behind ``roomchat.state.base.ModerationStore`` (``server.state.moderation``);
time comes from ``server.clock``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, StrictInt

from .errors import Refusal
from .hookspecs import hookimpl
from .logs import event
from .messagetypes import MessageType
from .protocol import Message
from .state.base import ModerationStore, Sanction
from .users import ROOM_ID, Role, User

if TYPE_CHECKING:
    from .context import MessageContext
    from .server import ChatServer

log = logging.getLogger("roomchat.moderation")

TYPE = "moderation"
USER_ACTIONS = frozenset({"mute", "unmute", "kick", "ban", "unban", "warn"})
ROOM_ACTIONS = frozenset({"lock", "unlock"})
MUST_BE_PRESENT = frozenset({"kick", "warn"})
LOCK_SUBJECT = 0


class ModerationValue(BaseModel):
    """The value of a ``moderation`` message. Extra keys are kept and passed on to the notices."""

    model_config = ConfigDict(extra="allow")

    action: Literal["mute", "unmute", "kick", "ban", "unban", "warn", "lock", "unlock"]
    user: StrictInt | None = Field(None, description="the ID of the user it is about (not for lock/unlock)")
    seconds: PositiveFloat | None = Field(None, description="how long a mute, ban or lock lasts (none: until undone)")
    reason: str = Field("", max_length=500, description="told to the user and the room's teachers")
    scope: Literal["all", "broadcast", "direct"] = Field("all", description="lock only: what students may not do")


def store(server: ChatServer) -> ModerationStore:
    """The server's moderation state."""
    return server.state.moderation


# -- registration -----------------------------------------------------------------


@hookimpl
def roomchat_register_message_types(register: Any) -> None:
    """The ``moderation`` type: teachers, admins and bots act on users and the room."""
    register(MessageType(
        TYPE, ModerationValue, handlers=[_moderate],
        description="mute, unmute, kick, ban, unban, warn a user, or lock/unlock the room (teachers, admins, bots)",
    ))


# -- enforcement: every message, every join ----------------------------------------------


@hookimpl
def roomchat_check_message(ctx: MessageContext) -> Awaitable[None] | None:
    """Refuse a muted user's messages (``muted``) and what a locked room forbids students (``forbidden``).

    Runs on every message, so the common case (an admin, a bot, or a room with
    no mute and no lock, as far as the store's synchronous hint knows) returns
    at once without awaiting anything.
    """
    sender = ctx.sender
    if sender.role is Role.ADMIN or sender.bot or not store(ctx.server).may_restrict(ctx.room):
        return None
    return _check(ctx)


async def _check(ctx: MessageContext) -> None:
    sender = ctx.sender
    mute, lock = await store(ctx.server).restrictions(ctx.room, sender.id)
    if mute is None and lock is None:
        return
    now = ctx.server.clock.now()
    target = await _target_user(ctx) if ctx.target is not None else None
    if mute is not None:
        if not mute.active(now):
            await store(ctx.server).remove("mute", ctx.room, sender.id)
        elif _binds(mute, sender) and (target is None or not target.role.is_staff):
            raise Refusal("muted", f"You are muted in this room{_until_text(mute, now)}{_reason_text(mute)}",
                          until=_ms(mute.until))
    if lock is None or sender.role is not Role.STUDENT:
        return
    if not lock.active(now):
        await store(ctx.server).remove("lock", ctx.room, LOCK_SUBJECT)
        return
    if ctx.is_broadcast and lock.scope in ("all", "broadcast"):
        raise Refusal("forbidden", "The room is locked: students may not send messages to the whole room")
    if target is not None and lock.scope in ("all", "direct") and not (target.role.is_staff or target.bot):
        raise Refusal("forbidden", "The room is locked: students may send direct messages only to teachers")


async def _target_user(ctx: MessageContext) -> User | None:
    assert ctx.target is not None
    return await ctx.server.state.presence.member(ctx.room, ctx.target)


async def check_banned(server: ChatServer, room: str, user: User) -> None:
    """Refuse a join with ``banned`` while the user is banned from the room (admins never are)."""
    if user.role is Role.ADMIN:
        return
    ban = await store(server).get("ban", room, user.id)
    if ban is None:
        return
    now = server.clock.now()
    if not ban.active(now):
        await store(server).remove("ban", room, user.id)
        return
    if not _binds(ban, user):
        return
    raise Refusal("banned", f"You are banned from room {room!r}{_until_text(ban, now)}{_reason_text(ban)}",
                  until=_ms(ban.until))


# -- acting: the moderation message type -----------------------------------------------


async def _moderate(ctx: MessageContext) -> None:
    actor = ctx.sender
    if not (actor.role.is_staff or actor.bot):
        raise Refusal("forbidden", "Only teachers, admins and bots may moderate this room")
    value = ModerationValue.model_validate(ctx.value)
    if value.action in ROOM_ACTIONS:
        await _room_action(ctx, value)
    else:
        await _user_action(ctx, value)
    ctx.consume()


async def _user_action(ctx: MessageContext, value: ModerationValue) -> None:
    server, room, actor = ctx.server, ctx.room, ctx.sender
    user_id = value.user if value.user is not None else ctx.target
    if user_id is None:
        ctx.invalid(f"say whom to {value.action}: give 'user', their ID", loc=("user",))
    if user_id == actor.id:
        raise Refusal("forbidden", "You cannot moderate yourself")
    target = await server.state.presence.member(room, user_id) if user_id != ROOM_ID else None
    if target is None and (value.action in MUST_BE_PRESENT or user_id == ROOM_ID):
        raise Refusal("user_not_found", f"User {user_id} is not in this room")
    if target is not None:
        _check_rank(actor, target)
    now = server.clock.now()
    until = now + value.seconds if value.seconds is not None and value.action in ("mute", "ban") else None
    sanction = Sanction(until, actor.id, value.reason, by_admin=actor.role is Role.ADMIN and not actor.bot)
    moderation = store(server)
    if value.action in ("mute", "ban"):
        await moderation.put(value.action, room, user_id, sanction, value.seconds)
    elif value.action in ("unmute", "unban"):
        await moderation.remove(value.action[2:], room, user_id)  # type: ignore[arg-type]
    notice = _notice(value, actor, user_id, until)
    await _tell(ctx, notice, user_id)
    if value.action in ("kick", "ban"):
        for sid in await server.state.presence.sids(room, user_id):
            await server.sio.disconnect(sid)
    event(log, "moderation", room=room, action=value.action, user=user_id, by=actor.id,
          seconds=value.seconds or "", bot=actor.bot)


async def _room_action(ctx: MessageContext, value: ModerationValue) -> None:
    server, room, actor = ctx.server, ctx.room, ctx.sender
    moderation = store(server)
    until = None
    if value.action == "lock":
        until = server.clock.now() + value.seconds if value.seconds is not None else None
        await moderation.put("lock", room, LOCK_SUBJECT, Sanction(until, actor.id, value.reason, value.scope),
                             value.seconds)
    else:
        await moderation.remove("lock", room, LOCK_SUBJECT)
    notice = _notice(value, actor, None, until)
    await server.delivery.to_room(room, ROOM_ID, Message(TYPE, notice))
    event(log, "moderation", room=room, action=value.action, scope=value.scope, by=actor.id, bot=actor.bot)


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


async def _tell(ctx: MessageContext, notice: dict[str, Any], user_id: int) -> None:
    """The affected user first, then the room's teachers and admins (not bots, not the actor)."""
    server, room = ctx.server, ctx.room
    message = Message(TYPE, notice)
    await server.delivery.to_user(room, user_id, ROOM_ID, message)
    for member in await server.state.presence.members(room):
        if member.role.is_staff and not member.bot and member.id not in (ctx.sender.id, user_id):
            await server.delivery.to_user(room, member.id, ROOM_ID, message)


def _ms(when: float | None) -> int | None:
    return int(when * 1000) if when is not None else None


def _until_text(sanction: Sanction, now: float) -> str:
    if sanction.until is None:
        return ""
    left = max(1, round(sanction.until - now))
    return f" for {left} more second{'s' if left != 1 else ''}"


def _reason_text(sanction: Sanction) -> str:
    return f" ({sanction.reason})" if sanction.reason else ""
