"""``visits``: a third-party plugin that refuses joins and keeps state, on roomchat's public API alone.

A room may cap how often one user comes in: with ``max_visits: 3`` (and
``per_seconds: 3600``, an hour), a user's fourth join within the hour is
refused with ``forbidden``, saying when they may come back. Each visit is
greeted with its number, from the room (ID 0), to the visitor only. Staff
(teachers, admins) and the server's bots are never counted or refused.

It is what a plugin from PyPI could be, and uses nothing but ``roomchat``:

- ``roomchat_check_join`` refuses the join (the client's ``connect_error``
  says ``forbidden``), in the rooms that run the plugin;
- ``roomchat_user_joined`` greets, with ``chat.send``;
- the visits live in the plugin's own store (``chat.store``): per room and
  user, a hash of visit times, forgotten ``per_seconds`` after the last one;
  in a cluster every server counts the same visits;
- time is the server's clock (``chat.clock``: a test moves a FakeClock);
- it is a class: the server makes one instance, with its ``Chat``.

Load it with ``plugins: {load: ["visits.py:Visits"]}`` and set it per room::

    rooms:
      exam:
        plugins: {settings: {visits: {max_visits: 3, per_seconds: 3600}}}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from roomchat import Chat, Refusal, User, hookimpl


class VisitSettings(BaseModel):
    """Settings of the ``visits`` plugin (per room)."""

    model_config = ConfigDict(extra="forbid")

    max_visits: int | None = Field(None, ge=1, description="visits a user may make within per_seconds; null: any")
    per_seconds: float = Field(3600.0, gt=0, le=30 * 24 * 3600, description="the window visits are counted in")


class Visits:
    """Counts visits per room and user; refuses one too many; greets each with its number."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    @hookimpl
    def roomchat_settings_model(self) -> type[BaseModel]:
        """``max_visits`` and ``per_seconds``."""
        return VisitSettings

    @hookimpl
    async def roomchat_check_join(self, chat: Chat, room: str, user: User) -> None:
        """Refuse a user who used up the room's visits (``forbidden``, with when to come back)."""
        settings: VisitSettings = chat.settings(room)
        if settings.max_visits is None or not self._counted(user):
            return
        recent = await self._recent(room, user, settings)
        if len(recent) >= settings.max_visits:
            wait = max(1, round(min(recent) + settings.per_seconds - chat.clock.now()))
            raise Refusal("forbidden", f"You have visited room {room!r} {len(recent)} times already; "
                                       f"come back in {wait} seconds", retry_after=wait)

    @hookimpl
    async def roomchat_user_joined(self, chat: Chat, room: str, user: User) -> None:
        """Count the visit and greet the visitor with its number."""
        if not self._counted(user):
            return
        settings: VisitSettings = chat.settings(room)
        now = chat.clock.now()
        await chat.store.hash_set(_key(room, user), repr(now), now, ttl=settings.per_seconds)
        count = len(await self._recent(room, user, settings))
        await chat.send(room, "text", f"Welcome, {user.name}: visit {count} this {_span(settings.per_seconds)}",
                        to=user.id)

    def _counted(self, user: User) -> bool:
        return not (user.role.is_staff or user.bot or user.id in self.chat.bot_ids)

    async def _recent(self, room: str, user: User, settings: VisitSettings) -> list[float]:
        """The times of the user's visits to the room within the window (the store keeps older ones a while)."""
        visits: dict[str, Any] = await self.chat.store.hash_get_all(_key(room, user))
        since = self.chat.clock.now() - settings.per_seconds
        return [when for when in visits.values() if isinstance(when, (int, float)) and when > since]


def _key(room: str, user: User) -> str:
    return f"{room}:{user.id}"


def _span(seconds: float) -> str:
    return "hour" if seconds == 3600 else "day" if seconds == 86400 else f"{seconds:g} seconds"
