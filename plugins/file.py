"""``file``: a file shared by link.

Value: ``{"name", "size", "mime", "url"}``: ``name`` a bare file name (trimmed;
no path separators, control or text-direction characters), ``size`` in bytes
(an integer >= 0), ``mime`` a MIME type ``type/subtype`` (lowercased, no
parameters), ``url`` an http(s) URL. The server does not fetch the file: size
and type are what the sender claims.
Settings: ``max_size`` (default 100 MiB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from roomchat import MessageContext, MessageType, hookimpl

from ._fields import MAX_HTTP_URL, SETTINGS, STRICT, file_name, http_url, mime_type

MAX_SIZE = 2**53 - 1
"""The largest integer every JSON client reads exactly."""


class FileValue(BaseModel):
    """A file: its name, size in bytes, MIME type and an http(s) URL to fetch it from."""

    model_config = STRICT
    name: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(file_name)]
    size: Annotated[int, Field(ge=0, le=MAX_SIZE, description="in bytes")]
    mime: Annotated[str, Field(min_length=3, max_length=255, description="type/subtype, e.g. application/pdf"),
                    AfterValidator(mime_type)]
    url: Annotated[str, Field(min_length=1, max_length=MAX_HTTP_URL), AfterValidator(http_url)]


class FileSettings(BaseModel):
    """Settings of the ``file`` plugin."""

    model_config = SETTINGS
    max_size: int = Field(100 * 1024 * 1024, ge=0, le=MAX_SIZE, description="largest file, in bytes")


def check_size(ctx: MessageContext) -> None:
    """Refuse a file larger than this room's ``max_size``."""
    limit = ctx.settings.max_size
    if ctx.value["size"] > limit:
        ctx.invalid(f"files are at most {limit} bytes in this room", ("size",), "less_than_equal")


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``file``."""
    register(MessageType("file", FileValue, [check_size],
                         description="A file shared by link: {name, size, mime, url}"))


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """``max_size``."""
    return FileSettings
