"""``reaction``: an emoji on an earlier message.

Value: ``{"message": <id>, "emoji": <one emoji>}``. ``message`` is the ``id``
of a delivered message (every ``message`` event carries one); the server keeps
no history, so it checks the id's form, not that the message exists or that
the sender saw it. ``emoji`` is one emoji: a pictograph (optionally with a
skin tone or presentation selector), a flag, a keycap, or such elements
joined by ZWJ (👩‍💻), at most 16 code points. Reactions are delivered like any
message, to one user or to the room; clients group them under ``message``.
Settings: ``allowed`` (default: any emoji), a room's own short list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from roomchat import MessageContext, MessageType, hookimpl

from ._fields import SETTINGS, STRICT

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
_MESSAGE_ID = r"^[A-Za-z0-9_-]+$"


def one_emoji(text: str) -> str:
    """``text`` if it is a single emoji, else a ``not_emoji`` error."""
    if not _EMOJI.fullmatch(text):
        raise PydanticCustomError("not_emoji", "must be a single emoji, like 👍 or 🎉")
    return text


Emoji = Annotated[str, Field(min_length=1, max_length=MAX_EMOJI), AfterValidator(one_emoji)]


class ReactionValue(BaseModel):
    """An emoji reaction to the delivered message whose ``id`` is ``message``."""

    model_config = STRICT
    message: str = Field(min_length=1, max_length=64, pattern=_MESSAGE_ID, description="a delivered message's id")
    emoji: Emoji


class ReactionSettings(BaseModel):
    """Settings of the ``reaction`` plugin."""

    model_config = SETTINGS
    allowed: list[Emoji] | None = Field(None, description="the only emoji accepted in this room; null: any")


def check_allowed(ctx: MessageContext) -> None:
    """Refuse an emoji that is not on this room's list."""
    allowed = ctx.settings.allowed
    if allowed is not None and ctx.value["emoji"] not in allowed:
        ctx.invalid(f"this room accepts only these reactions: {' '.join(allowed)}", ("emoji",), "emoji_not_allowed")


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``reaction``."""
    register(MessageType("reaction", ReactionValue, [check_allowed],
                         description="An emoji on an earlier message: {message: <its id>, emoji}"))


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """``allowed``."""
    return ReactionSettings
