"""``text``: a chat line.

Value: a string. Control characters are removed (newlines and tabs stay;
``\\r\\n`` and ``\\r`` become ``\\n``); a text with nothing visible left is refused.
Settings (``plugins.settings.text``, per room under ``rooms.<room>.plugins.settings.text``):
``max_length`` (default 4000 characters, counted after cleaning).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, Strict
from pydantic_core import PydanticCustomError

from roomchat import MessageContext, MessageType, hookimpl

from ._fields import SETTINGS, strip_controls

MAX_TEXT = 100_000
"""The hard cap of the value model; rooms choose their limit below it."""


def clean_text(text: str) -> str:
    """``text`` without control characters; refused if nothing visible is left."""
    text = strip_controls(text, keep_newlines=True)
    if not text.strip():
        raise PydanticCustomError("empty_text", "a text must contain visible characters")
    return text


TextValue = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_TEXT), AfterValidator(clean_text)]


class TextSettings(BaseModel):
    """Settings of the ``text`` plugin."""

    model_config = SETTINGS
    max_length: int = Field(4000, ge=1, le=MAX_TEXT, description="longest text, in characters")


def check_length(ctx: MessageContext) -> None:
    """Refuse a text longer than this room's ``max_length``."""
    limit = ctx.settings.max_length
    if len(ctx.value) > limit:
        ctx.invalid(f"a text is at most {limit} characters in this room (this one has {len(ctx.value)})",
                    type="string_too_long")


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``text``."""
    register(MessageType("text", TextValue, [check_length], description="A chat line: a string"))


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """``max_length``."""
    return TextSettings
