"""``reaction``: an emoji, on an earlier message or on the room.

Value: the emoji alone (``"👍"``), or ``{"emoji", "message"?, ...}`` whose other
keys are kept; delivered as sent. ``message`` names what the reaction is on:
usually the ``id`` of a delivered message (every ``message`` event carries
one), but any id the clients agree on (a string without white space or
invisible characters, or an integer); without it the reaction is on the
room. The server keeps no history, so it checks the id's form, not that the
message exists or that the sender saw it. ``emoji`` is one emoji: a
pictograph (Unicode's Extended_Pictographic, from ICU; optionally with a skin
tone or presentation selector), a flag, a keycap, or such elements joined by
ZWJ (👩‍💻), at most 16 code points.
Reactions are delivered like any message, to one user or to the room;
clients group them under ``message``.
Settings: ``allowed`` (default: any emoji), a room's own short list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

import icu
from pydantic import AfterValidator, BaseModel, Field, PlainValidator, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from roomchat import MessageContext, MessageType, hookimpl

from ._fields import OPEN, SETTINGS, as_sent, bare_as, identifier

MAX_EMOJI = 16
"""Code points in the longest emoji accepted (a family with skin tones is about 10)."""


def _code_points(property_set: str) -> str:
    """The body of a ``re`` character class holding ICU's ``property_set`` (``[:Extended_Pictographic:]``).

    The emoji properties come from ICU (PyICU-wheels, the same ICU as roomchat/names.py), so they follow
    Unicode as ICU is upgraded. Extended_Pictographic takes in the code points Unicode keeps for emoji
    not yet encoded (1FC00..1FFFD, and the unassigned ones of the emoji blocks): emoji newer than this ICU
    are accepted as well. It replaced a hand-written approximation that let in 773 code points that are
    not pictographs (arrows, brackets, check marks and squared letters such as 🄰) and missed ⎈ and the
    reserved ranges.
    """
    return "".join(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}"
                   for lo, hi in icu.UnicodeSet(property_set).ranges())


_PICTOGRAPH = _code_points("[:Extended_Pictographic:]")
_SKIN_TONE = _code_points("[:Emoji_Modifier:]")
_FLAG_LETTER = _code_points("[:Regional_Indicator:]")
# One element of an emoji ZWJ sequence, after UTS #51's grammar (emoji_zwj_element and friends).
_ELEMENT = (
    "(?:[0-9#*]\ufe0f?\u20e3"                             # keycap: 1️⃣
    f"|[{_FLAG_LETTER}]{{2}}"                               # flag: two regional indicators
    "|\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"        # subdivision flag (tag sequence)
    f"|[{_PICTOGRAPH}][\ufe0e\ufe0f]?[{_SKIN_TONE}]?\ufe0f?)"  # pictograph, selector, skin tone
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
