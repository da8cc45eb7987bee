"""``image``: a picture, by http(s) URL or as a small inline data URI.

Value: its URL alone, or ``{"url", "alt"?, "width"?, "height"?, ...}`` (see
``_media``), delivered as sent; a data URI must be ``data:image/<subtype>;base64,...``.
Settings: ``max_data_bytes`` (default 32768, decoded; 0: URLs only) and
``data_types`` (default PNG, JPEG, GIF, WebP, AVIF; SVG is left out because it
can carry scripts).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from roomchat import MessageType, hookimpl

from ._media import MediaSettings, MediaValue, check_data_uri, media_value


class ImageValue(MediaValue):
    """An image: ``url`` is http(s) or ``data:image/...;base64,...``."""

    kind = "image"


class ImageSettings(MediaSettings):
    """Settings of the ``image`` plugin."""

    data_types: list[str] = Field(
        default_factory=lambda: ["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"],
        description="MIME types accepted in data URIs",
    )


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``image``."""
    register(MessageType("image", media_value(ImageValue), [check_data_uri],
                         text=("alt",),  # the human text the moderator reads
                         description="An image: its URL, or {url, alt?, width?, height?}; "
                                     "url is http(s) or a data:image/ URI"))


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """``max_data_bytes``, ``data_types``."""
    return ImageSettings
