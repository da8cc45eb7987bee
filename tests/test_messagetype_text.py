"""``MessageType.text``: how a type declares which part of its value is human text (docs/plugins.md)."""

from __future__ import annotations

from typing import Any

import pytest

from roomchat import MessageType


def test_field_paths_name_strings_and_lists_of_strings() -> None:
    kind = MessageType("note", dict[str, Any], text=("title", "body.lines"))
    value = {"title": "Hi", "body": {"lines": ["one", 2, "three"], "id": "n-1"}, "tag": "x"}
    assert kind.texts(value) == ["Hi", "one", "three"]
    changed = kind.map_texts(value, str.upper)
    assert changed == {"title": "HI", "body": {"lines": ["ONE", 2, "THREE"], "id": "n-1"}, "tag": "x"}
    assert value["title"] == "Hi" and value["body"]["lines"][0] == "one"      # a new value; the old one is kept
    assert kind.texts({"title": None, "body": "not an object"}) == []


def test_the_value_itself_no_text_or_nothing_declared() -> None:
    assert MessageType("t", str, text=True).texts("hello") == ["hello"]
    assert MessageType("t", str, text=True).map_texts("hello", str.upper) == "HELLO"
    assert MessageType("one", dict[str, Any], text="caption").text == ("caption",)
    assert MessageType("vote", dict[str, Any], text=False).texts({"poll": "p-1"}) == []
    assert MessageType("empty", dict[str, Any], text=()).text is False
    assert MessageType("undeclared", dict[str, Any]).text is None


@pytest.mark.parametrize("paths", [("a..b",), ("",), (3,), (".a",)])
def test_a_bad_field_path_is_refused_at_registration(paths: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError, match="field path"):
        MessageType("bad", dict[str, Any], text=paths)
