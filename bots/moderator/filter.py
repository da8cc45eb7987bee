"""The moderator's server-side half: a plugin that enforces block and redact before delivery.

A bot sees a message only after it was delivered, so it cannot stop one. The
filter can: it runs in the pipeline (``roomchat_check_message``) of every
room a moderator bot has configured, and

- refuses a message a ``block`` rule caught (``forbidden``, with the rule's
  name and a sentence saying why), or redacts it (``redact`` rules) so the
  room gets the cleaned value;
- tells the moderator bot about every offence with a ``moderator-flag``
  message from the room (ID 0), which no client can send; the bot decides
  the consequence (warn, mute, kick, ban), explains it and reports it.

The bot configures the filter itself when it joins a room: it sends its
rules, as a ``moderator-config`` message, to itself; the filter validates
them with the same model, keeps them (in its plugin's store, so every server
of a cluster sees them) and consumes the message. So the rules
live in one place, the bot's settings, and work the same with the bot in
the server's process or in its own. Only a bot or a teacher or admin may
configure a room; a ``null`` value switches the room's filter off.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from roomchat import Chat, MessageContext, MessageType, Refusal, User, hookimpl
from roomchat.logs import event

from .rules import Declared, RoomFilter, Verdict, content_of
from .settings import FilterSettings

log = logging.getLogger("roomchat.moderator")

CONFIG_TYPE = "moderator-config"
FLAG_TYPE = "moderator-flag"
REFRESH_SECONDS = 30.0
"""How often a server re-reads a room's rules from the shared store (another server may have changed them)."""


def store_key(room: str) -> str:
    """Where a room's filter settings are kept in the plugin's store."""
    return f"filter:{room}"


@dataclass
class _Room:
    filter: RoomFilter | None
    raw: str  # the stored JSON, to tell whether the rules changed
    loaded: float


def _build(stored: Any) -> RoomFilter | None:
    if not isinstance(stored, dict):
        return None
    try:
        settings = FilterSettings.model_validate(stored.get("settings") or {})
    except ValueError:
        event(log, "filter_settings_invalid", logging.ERROR)
        return None
    return RoomFilter(settings, moderator_id=int(stored.get("moderator", 0)) or None)


class ModeratorFilter:
    """The filter of one server (one instance per server): its rooms' rules, cached from the plugin's store."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.rooms: dict[str, _Room] = {}

    def cached(self, room: str) -> _Room | None:
        """The room's entry if it is fresh enough to use without reading the store."""
        entry = self.rooms.get(room)
        if entry is None or self.chat.clock.monotonic() - entry.loaded > REFRESH_SECONDS:
            return None
        return entry

    async def load(self, room: str) -> _Room:
        """Read the room's rules from the store (keeping per-user history when they did not change)."""
        stored = await self.chat.store.get(store_key(room))
        raw = json.dumps(stored, sort_keys=True) if stored is not None else ""
        entry = self.rooms.get(room)
        if entry is None or entry.raw != raw:
            entry = _Room(_build(stored), raw, 0.0)
            self.rooms[room] = entry
        entry.loaded = self.chat.clock.monotonic()
        return entry

    async def configure(self, room: str, settings: FilterSettings | None, moderator: int) -> None:
        """Store a room's rules (None: switch the filter off) and use them at once."""
        if settings is None:
            await self.chat.store.delete(store_key(room))
        else:
            await self.chat.store.set(store_key(room), {"moderator": moderator,
                                                        "settings": settings.model_dump(mode="json")})
        await self.load(room)

    # -- the pipeline -------------------------------------------------------------------

    @hookimpl(trylast=True)  # after moderation's mute and lock checks: a refused message is no offence
    def roomchat_check_message(self, ctx: MessageContext) -> Awaitable[None] | None:
        """Block, redact and flag: synchronous (and free) in rooms without a moderator."""
        entry = self.cached(ctx.room)
        if entry is None:
            return self._load_and_check(ctx)
        return self._check(entry.filter, ctx)

    async def _load_and_check(self, ctx: MessageContext) -> None:
        entry = await self.load(ctx.room)
        pending = self._check(entry.filter, ctx)
        if pending is not None:
            await pending

    def _check(self, room_filter: RoomFilter | None, ctx: MessageContext) -> Awaitable[None] | None:
        if room_filter is None:
            return None
        sender = ctx.sender
        if not room_filter.applies(sender.id, sender.role, sender.bot, ctx.type, direct=not ctx.is_broadcast):
            return None
        if ctx.target is not None and ctx.target in self.chat.bot_ids:
            return None  # only the bot reads it: quiz answers and commands may repeat, and hurt nobody
        content = content_of(ctx.wire_value, _declared_text(ctx), room_filter.settings.skip_keys)
        if content is None:
            return None  # a vote, a reaction, a poll-close: an interaction, never judged as text
        verdict = room_filter.check(sender.id, content, self.chat.clock.monotonic(), ctx.target)
        if not verdict.hits:
            return None
        if verdict.changed:
            ctx.value = verdict.value
        if not verdict.counted and verdict.blocked_by is None:
            return None
        return self._flag_and_enforce(room_filter, ctx, verdict)

    async def _flag_and_enforce(self, room_filter: RoomFilter, ctx: MessageContext, verdict: Verdict) -> None:
        if verdict.counted:
            await self._flag(room_filter, ctx, verdict)
        if verdict.blocked_by is not None:
            hit = verdict.blocked_by
            raise Refusal("forbidden", f"Not sent: {hit.reason}.", rule=hit.rule)

    async def _flag(self, room_filter: RoomFilter, ctx: MessageContext, verdict: Verdict) -> None:
        event(log, "flagged", room=ctx.room, user=ctx.sender.id, rules=",".join(h.rule for h in verdict.counted),
              outcome=verdict.outcome, dry_run=verdict.dry_run)
        if room_filter.moderator_id is None:
            return
        value = {
            "user": ctx.sender.as_wire(),
            "type": ctx.type,
            "to": ctx.target,
            "id": ctx.ref,  # judged before delivery gives it an id
            "outcome": verdict.outcome,
            "dry_run": verdict.dry_run,
            "hits": [h.as_wire() for h in verdict.hits],
        }
        await self.chat.send(ctx.room, FLAG_TYPE, value, to=room_filter.moderator_id)

    # -- configuration by the bot ---------------------------------------------------------

    async def _configure(self, ctx: MessageContext) -> None:
        """Handler of ``moderator-config``: store the room's rules, answer in the ack, deliver nothing."""
        sender = ctx.sender
        if not (sender.bot or sender.role.is_staff):
            ctx.refuse("forbidden", "Only a bot, a teacher or an admin may set this room's moderator rules")
        settings: FilterSettings | None = ctx.value
        await self.configure(ctx.room, settings, sender.id)
        event(log, "filter_configured", room=ctx.room, by=sender.id, active=settings is not None,
              dry_run=bool(settings and settings.dry_run))
        ctx.value = {"active": settings is not None, "room": ctx.room, "moderator": sender.id}
        ctx.consume()

    @hookimpl
    def roomchat_register_message_types(self, register: Callable[[MessageType], None]) -> None:
        """``moderator-config`` (a bot sets its room's rules) and ``moderator-flag`` (the filter tells the bot)."""
        register(MessageType(
            CONFIG_TYPE, FilterSettings | None, [self._configure], direct=True, broadcast=False,
            description="A moderator bot sets the room's filter rules (sent to itself; consumed; null switches off)",
        ))
        register(MessageType(
            FLAG_TYPE, FlagValue, roles=(),
            description="Sent by the room to its moderator bot when a rule fired; no client may send it",
        ))

    @hookimpl
    def roomchat_user_left(self, room: str, user: User) -> None:
        """Forget the flood and repeat history of a user who left."""
        entry = self.rooms.get(room)
        if entry is not None and entry.filter is not None:
            entry.filter.forget(user.id)


def _declared_text(ctx: MessageContext) -> Declared:
    """What the message's type declares as its human text (None for a type not registered in the room)."""
    # MessageType normalises what a type declares to True, False, None or a tuple of field paths
    return cast(Declared, ctx.message_type.text) if ctx.message_type is not None else None


class FlagHit(BaseModel):
    """One rule that fired (``rules.RuleHit.as_wire``)."""

    model_config = ConfigDict(extra="forbid")
    rule: str = Field(description="words:<list>, flood, repeat, shouting or links")
    action: Literal["block", "redact", "allow"] = Field(description="what the filter did to the message")
    penalty: str = Field(description="escalate, none, or a fixed step (warn, mute 5m, ...)")
    reason: str = Field(description="why, in words the user can read")
    counted: bool = Field(description="false for a repeat within the grace period: enforced, not a new offence")


class FlagValue(BaseModel):
    """The value of a ``moderator-flag``: who sent what kind of message, what the filter did, which rules fired."""

    model_config = ConfigDict(extra="forbid")
    user: dict[str, Any] = Field(description="the sender, as the protocol shows users: {ID, role, name}")
    type: str = Field(description="the flagged message's type (never its value)")
    to: int | None = Field(description="the addressed user of a direct message; null for a broadcast")
    id: str | None = Field(description="a reference to the flagged message (its ctx.ref: it is judged before "
                                       "delivery gives it an id)")
    outcome: Literal["blocked", "redacted", "delivered"]
    dry_run: bool
    hits: list[FlagHit]
