"""``text``: a chat line.

Value: a string. Control characters are removed (newlines and tabs stay;
``\\r\\n`` and ``\\r`` become ``\\n``); a text with nothing visible left is refused.
Settings (``plugins.settings.text``, per room under ``rooms.<room>.plugins.settings.text``):
``max_length`` (default 4000 characters, counted after cleaning).

The room's ``max_length`` is part of validation: an over-long text is refused
with ``validation_failed`` (``string_too_long``) before any plugin (the
moderator's filter, say) spends a moment on it. The whole value is the type's
human text (``text=True``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, Strict, ValidationInfo
from pydantic_core import PydanticCustomError

from roomchat import MessageType, hookimpl

from ._fields import SETTINGS, strip_controls

MAX_TEXT = 100_000
"""The hard cap of the value model; rooms choose their limit below it."""


def clean_text(text: str) -> str:
    """``text`` without control characters; refused if nothing visible is left."""
    text = strip_controls(text, keep_newlines=True)
    if not text.strip():
        raise PydanticCustomError("empty_text", "a text must contain visible characters")
    return text


def within_room_limit(text: str, info: ValidationInfo) -> str:
    """Refuse a text longer than the room's ``max_length`` (the type's settings, passed as validation context)."""
    settings = (info.context or {}).get("settings")
    limit = getattr(settings, "max_length", None)
    if limit is not None and len(text) > limit:
        raise PydanticCustomError(
            "string_too_long", "a text is at most {limit} characters in this room (this one has {length})",
            {"limit": limit, "length": len(text)},
        )
    return text


TextValue = Annotated[
    str, Strict(), Field(min_length=1, max_length=MAX_TEXT), AfterValidator(clean_text),
    AfterValidator(within_room_limit),
]


class TextSettings(BaseModel):
    """Settings of the ``text`` plugin."""

    model_config = SETTINGS
    max_length: int = Field(4000, ge=1, le=MAX_TEXT, description="longest text, in characters")


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``text``."""
    register(MessageType("text", TextValue, text=True, description="A chat line: a string"))


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """``max_length``."""
    return TextSettings
