"""The built-in ``video`` type through a real server (it shares ``image``'s model; see test_image.py)."""

from __future__ import annotations

import base64

import pytest
from builtin_helpers import by_loc

ROOMS = {"quicktime": {"plugins": {"settings": {"video": {"data_types": ["video/quicktime"], "max_data_bytes": 50}}}}}


def data_uri(payload: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


@pytest.mark.parametrize("value", [
    "https://example.org/talk.webm",
    {"url": "https://example.org/talk.webm", "alt": "The talk", "width": 1920, "height": 1080},
    {"url": "https://example.org/talk.webm", "poster": "https://example.org/talk.jpg", "duration": 61.5},
])
def test_a_video_by_url_is_delivered_as_sent(room, value: object) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("video", value).ok
    assert bob.receive(type="video").value == value


def test_a_video_data_uri_must_hold_video(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("video", {"url": data_uri(b"\x00\x00\x00\x18ftypmp42", "video/mp4")}).ok
    assert bob.receive(type="video").value["url"].startswith("data:video/mp4;base64,")
    ack = ann.broadcast("video", {"url": data_uri(b"\x89PNG", "image/png")})
    assert ack.code == "validation_failed" and by_loc(ack.errors)[("url",)]["type"] == "data_uri_type"
    bob.sync()
    assert len(bob.messages(type="video")) == 1  # only the first


def test_video_refusals_name_their_fields(room) -> None:
    ack = room.join("Ann").broadcast("video", {"url": "rtmp://example.org/live", "height": 99999, "poster": "x"})
    assert ack.code == "validation_failed"
    assert set(by_loc(ack.errors)) == {("url",), ("height",)}


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://example.org/\u202e4pm.exe", "rtmp://example.org/live"])
def test_an_unsafe_bare_url_is_refused(room, url: str) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("video", url)
    assert ack.code == "validation_failed" and list(by_loc(ack.errors)) == [("url",)]
    bob.sync()
    assert bob.messages(type="video") == []


def test_a_room_sets_its_inline_types_and_limit(room, room_named) -> None:
    clip = data_uri(b"q" * 50, "video/quicktime")
    assert room.join("Ann").broadcast("video", {"url": clip}).errors[0]["type"] == "data_uri_type"
    ann = room_named("quicktime").join("Ann")
    assert ann.broadcast("video", {"url": clip}).ok
    assert ann.broadcast("video", {"url": data_uri(b"q" * 51, "video/quicktime")}).errors[0]["type"] == (
        "data_uri_too_large")
