"""``file``: a file shared by link.

Value: its URL alone (``"https://example.org/notes.pdf"``), or an object
``{"url", "name"?, "size"?, "mime"?, ...}`` whose other keys are kept:
``url`` an http(s) URL, ``name`` a bare file name (no path separators,
control or text-direction characters), ``size`` in bytes (an integer >= 0),
``mime`` a MIME type (``type/subtype``, parameters allowed; ``""`` for
unknown, as browsers report it). Delivered as sent. The server does not fetch
the file: name, size and type are what the sender claims.
Settings: ``max_size`` (default 100 MiB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator

from roomchat import MessageContext, MessageType, hookimpl

from ._fields import MAX_HTTP_URL, OPEN, SETTINGS, as_sent, bare_as, file_name, http_url, mime_type

MAX_SIZE = 2**53 - 1
"""The largest integer every JSON client reads exactly."""


class FileValue(BaseModel):
    """A file: an http(s) URL to fetch it from, and what the sender says it is (name, size, MIME type)."""

    model_config = OPEN
    url: Annotated[str, Field(min_length=1, max_length=MAX_HTTP_URL), AfterValidator(http_url)]
    name: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(file_name)] | None = None
    size: Annotated[int, Field(ge=0, le=MAX_SIZE, description="in bytes")] | None = None
    mime: Annotated[str, Field(max_length=255, description="type/subtype, e.g. application/pdf; empty: unknown"),
                    AfterValidator(mime_type)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_url(cls, value: Any) -> Any:
        return bare_as("url", (str,), value, "a file is a URL, or an object with a url")


class FileSettings(BaseModel):
    """Settings of the ``file`` plugin."""

    model_config = SETTINGS
    max_size: int = Field(100 * 1024 * 1024, ge=0, le=MAX_SIZE, description="largest file, in bytes")


def check_size(ctx: MessageContext) -> None:
    """Refuse a file larger than this room's ``max_size`` (a file that gives no size passes)."""
    limit = ctx.settings.max_size
    size = ctx.value.get("size") if isinstance(ctx.value, dict) else None
    if size is not None and size > limit:
        ctx.invalid(f"files are at most {limit} bytes in this room", ("size",), "less_than_equal")


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``file``."""
    value = as_sent(FileValue, {"type": "string", "description": "the file's http(s) URL alone"})
    register(MessageType("file", value, [check_size],
                         text=("name",),  # the human text the moderator reads
                         description="A file shared by link: its URL, or {url, name?, size?, mime?}"))


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """``max_size``."""
    return FileSettings
