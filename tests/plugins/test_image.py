"""The built-in ``image`` type through a real server: bare URLs, objects, data URIs, alt text, room limits."""

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


@pytest.mark.parametrize("value", [
    "https://example.org/cat.png",                      # what a client that knows only the seed sends
    "HTTPS://example.org/cat.png?size=2#top",
    {"url": "https://example.org/cat.png", "alt": "  A cat\non a mat ", "width": 640, "height": 480},
    {"url": "http://example.org/a.gif"},                # nothing filled in
    {"url": "https://example.org/a.png", "caption": "mine", "thumb": {"w": 10}},  # other keys kept
    {"url": "https://example.org/a.png", "alt": None, "width": None},
])
def test_an_image_is_delivered_as_sent(room, value: object) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("image", value)
    assert ack.ok and ack.value == value
    assert bob.receive(type="image").value == value


def test_a_bare_url_goes_to_one_user_too(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.send(bob, "image", "https://example.org/a.gif").ok
    assert bob.receive(type="image").value == "https://example.org/a.gif"


@pytest.mark.parametrize("as_object", [False, True])
def test_a_small_data_uri_is_accepted_as_sent(room, as_object: bool) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    uri = data_uri(PNG, "IMAGE/PNG")
    value = {"url": uri} if as_object else uri
    assert ann.broadcast("image", value).ok
    assert bob.receive(type="image").value == value


UNSAFE_URLS = [
    ("ftp://example.org/a.png", "url_scheme"),
    ("javascript:alert(1)", "url_scheme"),
    ("JavaScript:alert(1)", "url_scheme"),
    (" javascript:alert(1)", "url_characters"),
    ("vbscript:msgbox(1)", "url_scheme"),
    ("/relative/a.png", "url_scheme"),
    ("//example.org/a.png", "url_scheme"),
    ("https://", "url_parsing"),
    ("https://user:secret@example.org/a.png", "url_credentials"),
    ("https://example.org/a cat.png", "url_characters"),
    ("https://example.org/\u202egnp.exe", "url_characters"),   # right-to-left override
    ("https://example.org/a\u2066b\u2069.png", "url_characters"),  # isolates
    ("https://exa\u200bmple.org/a.png", "url_characters"),       # zero-width space
    ("https://example.org/a.png\x00", "url_characters"),
    ("https://example.org/a\x1b[31m.png", "url_characters"),
    ("https://example.org\\@evil.example/a.png", "url_characters"),  # browsers read \ as /
    ("data:image/png;name=\u202egnp.exe;base64,iVBORw0KGgo=", "url_characters"),
    ("https://example.org/" + "a" * 2100, "url_too_long"),
    (data_uri(b"\x00\x00", "video/mp4"), "data_uri_type"),
    ("data:image/png;base64,***", "data_uri"),
    ("data:image/png,rawtext", "data_uri"),
    ("data:image/png;base64,", "data_uri"),
]


@pytest.mark.parametrize(("url", "error"), UNSAFE_URLS)
@pytest.mark.parametrize("as_object", [True, False])
def test_a_bad_url_is_refused_on_its_field(room, url: str, error: str, as_object: bool) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("image", {"url": url} if as_object else url)
    assert ack.code == "validation_failed"
    assert by_loc(ack.errors)[("url",)]["type"] == error
    assert nothing_received(bob, "image")


def test_every_bad_field_is_named(room) -> None:
    ann = room.join("Ann")
    ack = ann.broadcast("image", {"alt": "x" * 1001, "width": 0, "height": "480", "title": "extra"})
    errors = by_loc(ack.errors)
    assert ack.code == "validation_failed"
    assert set(errors) == {("url",), ("alt",), ("width",), ("height",)}  # an unknown key is no error
    assert errors[("url",)]["type"] == "missing"


def test_control_characters_in_alt_text_are_refused(room) -> None:
    ack = room.join("Ann").broadcast("image", {"url": "https://example.org/a.png", "alt": "a\x1b[2Jcat"})
    assert ack.code == "validation_failed" and by_loc(ack.errors)[("alt",)]["type"] == "control_characters"


@pytest.mark.parametrize("width", [0, -1, 32769, 1.5, True, "640", None])
def test_dimensions_are_positive_integers_within_bounds(room, width: object) -> None:
    ann = room.join("Ann")
    ack = ann.broadcast("image", {"url": "https://example.org/a.png", "width": width})
    if width is None:
        assert ack.ok  # null is the same as absent
    else:
        assert ack.code == "validation_failed" and [e["loc"] for e in ack.errors] == [["width"]]


@pytest.mark.parametrize("value", [None, 42, True, ["https://example.org/a.png"], {}])
def test_the_value_must_be_a_url_or_an_object_with_one(room, value: object) -> None:
    ack = room.join("Ann").broadcast("image", value)
    assert ack.code == "validation_failed" and "url" in ack.errors[0]["msg"] + str(ack.errors[0]["loc"])


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
