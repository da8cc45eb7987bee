"""``typing``: "Ann is typing…", ephemeral and throttled.

Value: ``true`` or ``false``, or ``{"typing": true | false, ...}`` (other keys
kept), or ``null`` (a bare "I am typing"); delivered as sent, to the room
(broadcast) or to one user. The server keeps nothing but the last state each user sent to each audience.
Throttle: a user's repeat of the same state to the same audience within
``min_interval`` seconds is consumed silently (the ack says it was sent,
nobody receives it), so an eager client does not flood the room. A *change*
of state always goes through at once, so a "stopped typing" is never lost.
Typing messages still count towards the room's ``rate_limit`` (checked before
any plugin), so a client should send one when the state changes and repeat
``typing: true`` at most every few seconds while it lasts, not on every key
press. Time is read from the server's clock (``chat.clock``). History and logging plugins should
not keep these messages.
Settings: ``min_interval`` (default 1.0 seconds; 0 turns throttling off).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, StrictBool, model_validator

from roomchat import MessageContext, MessageType, hookimpl

from ._fields import OPEN, SETTINGS, as_sent, bare_as


class TypingValue(BaseModel):
    """Whether the sender is typing now."""

    model_config = OPEN
    typing: StrictBool

    @model_validator(mode="before")
    @classmethod
    def _bare_state(cls, value: Any) -> Any:
        if value is None:
            return {"typing": True}
        return bare_as("typing", (bool,), value, "a typing message is true, false, null, or {\"typing\": true|false}")


def is_typing(value: Any) -> bool:
    """The state a validated typing value says: ``true``/``false``, ``null`` (typing), or the object's ``typing``."""
    if value is None:
        return True
    return value if isinstance(value, bool) else value["typing"]


class TypingSettings(BaseModel):
    """Settings of the ``typing`` plugin."""

    model_config = SETTINGS
    min_interval: float = Field(1.0, ge=0, le=3600, description="seconds between two equal typing messages")


def throttle_key(ctx: MessageContext) -> str:
    """Per room, sender and audience (the room, or one user), in the plugin's store."""
    audience = "*" if ctx.target is None else str(ctx.target)
    return f"{ctx.room}:{ctx.sender.id}:{audience}"


async def throttle(ctx: MessageContext) -> None:
    """Consume a repeat of the last state sent within ``min_interval``; pass the rest and remember them."""
    interval = ctx.settings.min_interval
    if interval == 0:
        return
    store, now, key, typing = ctx.chat.store, ctx.chat.clock.now(), throttle_key(ctx), is_typing(ctx.value)
    last = await store.get(key)
    if last is not None and last["typing"] == typing and now - last["at"] < interval:
        ctx.consume()
        return
    # The store's expiry only clears old entries; the decision above uses the server's clock.
    await store.set(key, {"typing": typing, "at": now}, ttl=max(60.0, 10 * interval))


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``typing``."""
    value = as_sent(TypingValue, {"type": ["boolean", "null"], "description": "the state alone; null: typing"})
    register(MessageType("typing", value, [throttle],
                         text=False,
                         description="Typing indicator: true/false, or {typing: bool}; repeats within min_interval "
                                     "are dropped"))


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """``min_interval``."""
    return TypingSettings
