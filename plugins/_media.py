"""What ``image`` and ``video`` share: the value model, the settings, and the data URI check.

Value: ``{"url": ..., "alt": ..., "width": ..., "height": ...}``; ``url`` is an
http(s) URL or a base64 data URI of the type's own kind (``data:image/png;base64,...``
for an image); ``alt``, ``width`` and ``height`` are optional (null when absent).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, Field, field_validator

from roomchat import MessageContext

from ._fields import SETTINGS, STRICT, media_url, optional_line, parse_data_uri

MAX_ALT = 1000
MAX_DIMENSION = 32768
MAX_DATA_URI = 1_500_000
"""The hard cap of a URL field's length; a room's ``max_message_bytes`` usually bounds it well below."""

Dimension = Annotated[int, Field(ge=1, le=MAX_DIMENSION, description="in pixels")]


class MediaValue(BaseModel):
    """A picture or a clip, by URL or inline as a data URI. Subclasses set ``kind``."""

    model_config = STRICT
    kind: ClassVar[str] = ""

    url: str = Field(min_length=1, max_length=MAX_DATA_URI,
                     description="an http(s) URL, or a base64 data URI of this kind (data:<kind>/...;base64,...)")
    alt: Annotated[str, Field(max_length=MAX_ALT), AfterValidator(optional_line)] | None = Field(
        None, description="a description for people who cannot see it (control characters removed)"
    )
    width: Dimension | None = None
    height: Dimension | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return media_url(url, cls.kind)


class MediaSettings(BaseModel):
    """Settings of a media type: how large an inline (data URI) file may be, and of which types."""

    model_config = SETTINGS
    max_data_bytes: int = Field(32 * 1024, ge=0, description="largest data URI, decoded; 0 accepts only http(s) URLs")
    data_types: list[str] = Field(default_factory=list, description="MIME types accepted in data URIs")


async def check_data_uri(ctx: MessageContext) -> None:
    """Refuse an inline file too large for this room or of a type it does not accept."""
    data = parse_data_uri(ctx.value["url"])
    if data is None:
        return
    settings: MediaSettings = ctx.settings
    if settings.max_data_bytes == 0:
        ctx.invalid("this room accepts only http(s) URLs here, not data URIs", ("url",), "data_uri_not_allowed")
    if data.size > settings.max_data_bytes:
        ctx.invalid(f"an inline file is at most {settings.max_data_bytes} bytes in this room "
                    f"(this one has {data.size}); link to it with an http(s) URL instead",
                    ("url",), "data_uri_too_large")
    if data.mime not in settings.data_types:
        ctx.invalid(f"this room accepts data URIs of {', '.join(settings.data_types) or 'no type'}, not {data.mime}",
                    ("url",), "data_uri_type")
