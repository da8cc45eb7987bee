"""What ``image`` and ``video`` share: the value model, the settings, and the data URI check.

Value: a URL alone (``"https://example.org/cat.png"``), or an object
``{"url", "alt"?, "width"?, "height"?, ...}`` whose other keys are kept.
``url`` is an http(s) URL or a base64 data URI of the type's own kind
(``data:image/png;base64,...`` for an image). The value is delivered as sent.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from roomchat import MessageContext

from ._fields import OPEN, SETTINGS, as_sent, bare_as, media_url, parse_data_uri, plain_text

MAX_ALT = 1000
MAX_DIMENSION = 32768
MAX_DATA_URI = 1_500_000
"""The hard cap of a URL field's length; a room's ``max_message_bytes`` usually bounds it well below."""

Dimension = Annotated[int, Field(ge=1, le=MAX_DIMENSION, description="in pixels")]


class MediaValue(BaseModel):
    """A picture or a clip, by URL or inline as a data URI. Subclasses set ``kind``."""

    model_config = OPEN
    kind: ClassVar[str] = ""

    url: str = Field(min_length=1, max_length=MAX_DATA_URI,
                     description="an http(s) URL, or a base64 data URI of this kind (data:<kind>/...;base64,...)")
    alt: Annotated[str, Field(max_length=MAX_ALT), AfterValidator(plain_text)] | None = Field(
        None, description="a description for people who cannot see it"
    )
    width: Dimension | None = None
    height: Dimension | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_url(cls, value: Any) -> Any:
        return bare_as("url", (str,), value, f"an {cls.kind} is a URL, or an object with a url")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return media_url(url, cls.kind)


def media_value(model: type[MediaValue]) -> Any:
    """The value type of a media message: ``model``, or its URL alone; delivered as sent."""
    bare = {"type": "string",
            "description": f"the {model.kind}'s URL alone: an http(s) URL or a data:{model.kind}/ URI"}
    return as_sent(model, bare)


def url_of(value: str | dict[str, Any]) -> str:
    """The URL of a validated media or file value (a bare URL, or an object's ``url``)."""
    return value if isinstance(value, str) else value["url"]


class MediaSettings(BaseModel):
    """Settings of a media type: how large an inline (data URI) file may be, and of which types."""

    model_config = SETTINGS
    max_data_bytes: int = Field(32 * 1024, ge=0, description="largest data URI, decoded; 0 accepts only http(s) URLs")
    data_types: list[str] = Field(default_factory=list, description="MIME types accepted in data URIs")


async def check_data_uri(ctx: MessageContext) -> None:
    """Refuse an inline file too large for this room or of a type it does not accept."""
    data = parse_data_uri(url_of(ctx.value))
    if data is None:
        return
    settings: MediaSettings = ctx.settings
    if settings.max_data_bytes == 0:
        ctx.invalid("this room accepts only http(s) URLs here, not data URIs", ("url",), "data_uri_not_allowed")
    if data.size > settings.max_data_bytes:
        ctx.invalid(f"an inline file is at most {settings.max_data_bytes} bytes in this room "
                    f"(this one has {data.size}); link to it with an http(s) URL instead",
                    ("url",), "data_uri_too_large")
    if data.mime not in {t.lower() for t in settings.data_types}:
        ctx.invalid(f"this room accepts data URIs of {', '.join(settings.data_types) or 'no type'}, not {data.mime}",
                    ("url",), "data_uri_type")
