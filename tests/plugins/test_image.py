"""The built-in ``image`` type through a real server: URLs, data URIs, alt text, dimensions, room limits."""

from __future__ import annotations

import base64

import pytest
from builtin_helpers import by_loc, nothing_received

ROOMS = {
    "small-inline": {"plugins": {"settings": {"image": {"max_data_bytes": 100}}}},
    "links-only": {"plugins": {"settings": {"image": {"max_data_bytes": 0}}}},
    "svg-ok": {"plugins": {"settings": {"image": {"data_types": ["image/png", "image/svg+xml"]}}}},
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


def data_uri(payload: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


def test_an_image_by_url_is_delivered_normalised(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("image", {"url": "HTTPS://example.org/cat.png?size=2", "alt": "  A cat\x00 on a mat\n ",
                                  "width": 640, "height": 480})
    assert ack.ok
    expected = {"url": "https://example.org/cat.png?size=2", "alt": "A cat on a mat", "width": 640, "height": 480}
    assert ack.value == expected
    assert bob.receive(type="image").value == expected


def test_optional_fields_arrive_as_null(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.send(bob, "image", {"url": "http://example.org/a.gif"}).ok
    assert bob.receive(type="image").value == {"url": "http://example.org/a.gif", "alt": None, "width": None,
                                               "height": None}


def test_a_small_data_uri_is_accepted_with_its_type_lowercased(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    uri = data_uri(PNG, "IMAGE/PNG")
    assert ann.broadcast("image", {"url": uri}).ok
    assert bob.receive(type="image").value["url"] == "data:image/png" + uri[len("data:IMAGE/PNG"):]


@pytest.mark.parametrize(("url", "error"), [
    ("ftp://example.org/a.png", "url_scheme"),
    ("javascript:alert(1)", "url_scheme"),
    ("/relative/a.png", "url_scheme"),
    ("https://", "url_parsing"),
    ("https://user:secret@example.org/a.png", "url_credentials"),
    ("https://example.org/a cat.png", "url_parsing"),
    ("https://example.org/" + "a" * 2100, "url_too_long"),
    (data_uri(b"\x00\x00", "video/mp4"), "data_uri_type"),
    ("data:image/png;base64,***", "data_uri"),
    ("data:image/png,rawtext", "data_uri"),
    ("data:image/png;base64,", "data_uri"),
])
def test_a_bad_url_is_refused_on_its_field(room, url: str, error: str) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("image", {"url": url})
    assert ack.code == "validation_failed"
    assert by_loc(ack.errors)[("url",)]["type"] == error
    assert nothing_received(bob, "image")


def test_every_bad_field_is_named(room) -> None:
    ann = room.join("Ann")
    ack = ann.broadcast("image", {"alt": "x" * 1001, "width": 0, "height": "480", "title": "extra"})
    errors = by_loc(ack.errors)
    assert ack.code == "validation_failed"
    assert set(errors) == {("url",), ("alt",), ("width",), ("height",), ("title",)}
    assert errors[("url",)]["type"] == "missing"
    assert errors[("title",)]["type"] == "extra_forbidden"


@pytest.mark.parametrize("width", [0, -1, 32769, 1.5, True, "640", None])
def test_dimensions_are_positive_integers_within_bounds(room, width: object) -> None:
    ann = room.join("Ann")
    ack = ann.broadcast("image", {"url": "https://example.org/a.png", "width": width})
    if width is None:
        assert ack.ok  # null is the same as absent
    else:
        assert ack.code == "validation_failed" and [e["loc"] for e in ack.errors] == [["width"]]


@pytest.mark.parametrize("value", ["https://example.org/a.png", None, ["https://example.org/a.png"]])
def test_the_value_must_be_an_object(room, value: object) -> None:
    assert room.join("Ann").broadcast("image", value).code == "validation_failed"


def test_the_default_inline_limit_is_32_kib(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("image", {"url": data_uri(PNG.ljust(32768, b"\x00"))}).ok
    assert bob.receive(type="image")
    ack = ann.broadcast("image", {"url": data_uri(PNG.ljust(32769, b"\x00"))})
    assert ack.code == "validation_failed"
    assert ack.errors[0]["loc"] == ["url"] and ack.errors[0]["type"] == "data_uri_too_large"
    assert "32768" in ack.errors[0]["msg"]


def test_svg_data_uris_are_refused_by_default(room) -> None:
    svg = data_uri(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")
    ack = room.join("Ann").broadcast("image", {"url": svg})
    assert ack.code == "validation_failed" and ack.errors[0]["type"] == "data_uri_type"


def test_a_room_sets_its_inline_limit(room_named) -> None:
    ann = room_named("small-inline").join("Ann")
    assert ann.broadcast("image", {"url": data_uri(b"x" * 100)}).ok
    ack = ann.broadcast("image", {"url": data_uri(b"x" * 101)})
    assert ack.code == "validation_failed" and "100 bytes" in ack.errors[0]["msg"]


def test_a_room_can_accept_links_only(room_named) -> None:
    ann = room_named("links-only").join("Ann")
    assert ann.broadcast("image", {"url": "https://example.org/a.png"}).ok
    ack = ann.broadcast("image", {"url": data_uri(PNG)})
    assert ack.code == "validation_failed" and ack.errors[0]["type"] == "data_uri_not_allowed"


def test_a_room_chooses_its_inline_types(room_named) -> None:
    ann, bob = room_named("svg-ok").join("Ann"), room_named("svg-ok").join("Bob")
    assert ann.broadcast("image", {"url": data_uri(b"<svg/>", "image/svg+xml")}).ok
    assert bob.receive(type="image").value["url"].startswith("data:image/svg+xml;base64,")
    assert ann.broadcast("image", {"url": data_uri(PNG, "image/jpeg")}).errors[0]["type"] == "data_uri_type"
