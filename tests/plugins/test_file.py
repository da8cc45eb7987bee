"""The built-in ``file`` type through a real server: a bare URL or {url, name?, size?, mime?}, and the size limit."""

from __future__ import annotations

import pytest
from builtin_helpers import by_loc, nothing_received

ROOMS = {"small-files": {"plugins": {"settings": {"file": {"max_size": 1000}}}}}
GOOD = {"name": "notes.pdf", "size": 12345, "mime": "application/pdf", "url": "https://files.example.org/notes.pdf"}


@pytest.mark.parametrize("value", [
    "https://files.example.org/notes.pdf",                                   # the URL alone
    {"url": "https://files.example.org/notes.pdf"},
    {"url": "https://files.example.org/notes.pdf", "name": "notes.pdf"},
    {**GOOD, "name": "  Report 2024 (final).PDF ", "mime": "Application/PDF"},   # not trimmed, not lowercased
    {**GOOD, "mime": "text/plain; charset=utf-8"},
    {**GOOD, "mime": ""},                                                    # what browsers report for unknown
    {**GOOD, "lastModified": 1700000000000, "type": "application/pdf"},      # other keys kept
    {**GOOD, "size": None, "mime": None},
])
def test_a_file_is_delivered_as_sent(room, value: object) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.send(bob, "file", value)
    assert ack.ok and ack.value == value
    assert bob.receive(type="file").value == value


def test_an_empty_file_is_fine(room) -> None:
    assert room.join("Ann").broadcast("file", {**GOOD, "size": 0, "mime": "text/plain"}).ok


@pytest.mark.parametrize("name", ["../etc/passwd", "dir/file.txt", "C:\\evil.exe", "a\x00b", "tab\tname", ".",
                                  "..", "   ", "", "gpj.\u202eexe", "a\u2067b.txt", "fdp.\u200fexe", "x" * 256, 7])
def test_a_bad_name_is_refused(room, name: object) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("file", {**GOOD, "name": name})
    assert ack.code == "validation_failed"
    assert list(by_loc(ack.errors)) == [("name",)]
    assert nothing_received(bob, "file")


@pytest.mark.parametrize("mime", ["pdf", "application/", "/pdf", "text/plain; charset", "text/pl ain",
                                  "a/b/c", " ", "tëxt/plain", "text/plain\n", 7])
def test_a_bad_mime_type_is_refused(room, mime: str) -> None:
    ack = room.join("Ann").broadcast("file", {**GOOD, "mime": mime})
    assert ack.code == "validation_failed" and list(by_loc(ack.errors)) == [("mime",)]


@pytest.mark.parametrize("mime", ["application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                  "image/svg+xml", "application/x-tar"])
def test_registered_mime_names_pass(room, mime: str) -> None:
    assert room.join("Ann").broadcast("file", {**GOOD, "mime": mime}).ok


@pytest.mark.parametrize("size", [-1, 1.5, "12", True, 2**53])
def test_a_bad_size_is_refused(room, size: object) -> None:
    ack = room.join("Ann").broadcast("file", {**GOOD, "size": size})
    assert ack.code == "validation_failed" and list(by_loc(ack.errors)) == [("size",)]


@pytest.mark.parametrize("url", ["data:application/pdf;base64,AAAA", "file:///etc/passwd", "notes.pdf",
                                 "javascript:alert(1)", "https://files.example.org/\u202efdp.exe",
                                 "https://files.example.org/a\tb.pdf", "https://files.example.org/a\x85.pdf"])
@pytest.mark.parametrize("as_object", [True, False])
def test_a_file_url_must_be_a_plain_http_url(room, url: str, as_object: bool) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("file", {**GOOD, "url": url} if as_object else url)
    assert ack.code == "validation_failed" and list(by_loc(ack.errors)) == [("url",)]
    bob.sync()
    assert bob.messages(type="file") == []


def test_a_file_needs_a_url(room) -> None:
    ack = room.join("Ann").broadcast("file", {"name": "a.txt", "path": "/tmp/a.txt"})
    assert {k: e["type"] for k, e in by_loc(ack.errors).items()} == {("url",): "missing"}
    for value in (None, 12, ["https://files.example.org/a.txt"]):
        assert room.join("Bob").broadcast("file", value).code == "validation_failed"


def test_the_default_size_limit_is_100_mib(room) -> None:
    ann = room.join("Ann")
    assert ann.broadcast("file", {**GOOD, "size": 100 * 1024 * 1024}).ok
    ack = ann.broadcast("file", {**GOOD, "size": 100 * 1024 * 1024 + 1})
    assert ack.code == "validation_failed" and by_loc(ack.errors)[("size",)]["type"] == "less_than_equal"


def test_a_room_sets_its_size_limit(room_named) -> None:
    ann = room_named("small-files").join("Ann")
    assert ann.broadcast("file", {**GOOD, "size": 1000}).ok
    ack = ann.broadcast("file", {**GOOD, "size": 1001})
    assert ack.code == "validation_failed" and "1000 bytes" in ack.errors[0]["msg"]
