"""``video``: a clip, by http(s) URL or as a (very small) inline data URI.

Value: its URL alone, or ``{"url", "alt"?, "width"?, "height"?, ...}`` (see
``_media``), delivered as sent; a data URI must be ``data:video/<subtype>;base64,...``.
Settings: ``max_data_bytes`` (default 32768, decoded; 0: URLs only) and
``data_types`` (default MP4, WebM, Ogg).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from roomchat import MessageType, hookimpl

from ._media import MediaSettings, MediaValue, check_data_uri, media_value


class VideoValue(MediaValue):
    """A video: ``url`` is http(s) or ``data:video/...;base64,...``."""

    kind = "video"


class VideoSettings(MediaSettings):
    """Settings of the ``video`` plugin."""

    data_types: list[str] = Field(
        default_factory=lambda: ["video/mp4", "video/webm", "video/ogg"],
        description="MIME types accepted in data URIs",
    )


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``video``."""
    register(MessageType("video", media_value(VideoValue), [check_data_uri],
                         text=("alt",),  # the human text the moderator reads
                         description="A video: its URL, or {url, alt?, width?, height?}; "
                                     "url is http(s) or a data:video/ URI"))


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """``max_data_bytes``, ``data_types``."""
    return VideoSettings
