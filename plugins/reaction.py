"""``reaction``: an emoji, on an earlier message or on the room.

Value: the emoji alone (``"👍"``), or ``{"emoji", "message"?, ...}`` whose other
keys are kept; delivered as sent. ``message`` names what the reaction is on:
usually the ``id`` of a delivered message (every ``message`` event carries
one), but any id the clients agree on (a string without white space or
invisible characters, or an integer); without it the reaction is on the
room. The server keeps no history, so it checks the id's form, not that the
message exists or that the sender saw it. ``emoji`` is one emoji: a
pictograph (optionally with a skin tone or presentation selector), a flag, a
keycap, or such elements joined by ZWJ (👩‍💻), at most 16 code points.
Reactions are delivered like any message, to one user or to the room;
clients group them under ``message``.
Settings: ``allowed`` (default: any emoji), a room's own short list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, PlainValidator, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from roomchat import MessageContext, MessageType, hookimpl

from ._fields import OPEN, SETTINGS, as_sent, bare_as, identifier

MAX_EMOJI = 16
"""Code points in the longest emoji accepted (a family with skin tones is about 10)."""

# Extended_Pictographic, approximately: symbols, dingbats and the emoji planes,
# without the regional indicators (flags) and skin-tone modifiers handled below.
_PICTOGRAPH = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u231a\u231b\u2328\u23cf\u23e9-\u23f3"
    "\u23f8-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe\u2600-\u27bf\u2934\u2935\u2b05-\u2b07"
    "\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299"
    "\U0001f000-\U0001f1e5\U0001f200-\U0001f3fa\U0001f400-\U0001faff"
)
_ELEMENT = (
    "(?:[0-9#*]\ufe0f?\u20e3"                             # keycap: 1️⃣
    "|[\U0001f1e6-\U0001f1ff]{2}"                          # flag: two regional indicators
    "|\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"        # subdivision flag (tag sequence)
    f"|[{_PICTOGRAPH}][\ufe0e\ufe0f]?[\U0001f3fb-\U0001f3ff]?\ufe0f?)"  # pictograph, selector, skin tone
)
_EMOJI = re.compile(f"{_ELEMENT}(?:\u200d{_ELEMENT})*")
MAX_ID = 128


def message_id(value: Any) -> str | int:
    """An id: a string of 1 to 128 characters without white space or invisible ones, or an integer >= 0."""
    if type(value) is int and 0 <= value <= 2**53 - 1:
        return value
    if type(value) is not str or not 1 <= len(value) <= MAX_ID:
        raise PydanticCustomError("message_id", "must be a message's id: a string of 1 to {max} characters, "
                                  "or an integer", {"max": MAX_ID})
    return identifier(value)


MessageId = Annotated[
    str | int,
    PlainValidator(message_id),
    WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1, "maxLength": MAX_ID},
                              {"type": "integer", "minimum": 0}],
                    "description": "what the reaction is on: a delivered message's id, say"}),
]


def one_emoji(text: str) -> str:
    """``text`` if it is a single emoji, else a ``not_emoji`` error."""
    if not _EMOJI.fullmatch(text):
        raise PydanticCustomError("not_emoji", "must be a single emoji, like 👍 or 🎉")
    return text


Emoji = Annotated[str, Field(min_length=1, max_length=MAX_EMOJI), AfterValidator(one_emoji)]


class ReactionValue(BaseModel):
    """An emoji reaction, on the message whose id is ``message`` (or on the room)."""

    model_config = OPEN
    emoji: Emoji
    message: MessageId | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_emoji(cls, value: Any) -> Any:
        return bare_as("emoji", (str,), value, "a reaction is an emoji, or an object with an emoji")


class ReactionSettings(BaseModel):
    """Settings of the ``reaction`` plugin."""

    model_config = SETTINGS
    allowed: list[Emoji] | None = Field(None, description="the only emoji accepted in this room; null: any")


def check_allowed(ctx: MessageContext) -> None:
    """Refuse an emoji that is not on this room's list."""
    allowed = ctx.settings.allowed
    emoji = ctx.value if isinstance(ctx.value, str) else ctx.value["emoji"]
    if allowed is not None and emoji not in allowed:
        ctx.invalid(f"this room accepts only these reactions: {' '.join(allowed)}", ("emoji",), "emoji_not_allowed")


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``reaction``."""
    value = as_sent(ReactionValue, {"type": "string", "description": "the emoji alone: a reaction on the room"})
    register(MessageType("reaction", value, [check_allowed],
                         text=False,  # an interaction, not something someone wrote: never judged as text
                         description="An emoji: alone, or {emoji, message?: the id of the message it is on}"))


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """``allowed``."""
    return ReactionSettings
