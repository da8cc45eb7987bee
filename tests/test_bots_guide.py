"""docs/bots.md's example bots, the greeter, the echo bot and the dice bot's commands, work as printed.

Each block marked ``<!-- bots-guide: NAME -->`` is written to a file, loaded
by ``plugins.load`` in place of the built-in of the same kind, and run by
``roomchat serve``; a real client then sees the bot do what the guide says.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from roomchat.testing import ChatClient, RoomchatProcess

GUIDE = (Path(__file__).resolve().parent.parent / "docs" / "bots.md").read_text(encoding="utf-8")


def snippet(name: str) -> str:
    found = re.search(rf"<!-- bots-guide: {re.escape(name)} -->\n```python\n(.*?)^```", GUIDE, re.DOTALL | re.MULTILINE)
    assert found, f"docs/bots.md has no block marked {name!r}"
    return found.group(1)


def serve_snippet(tmp_path: Path, name: str, bot: dict) -> RoomchatProcess:
    """A server whose ``bot`` comes from the guide's block ``name`` (the built-in of that kind switched off)."""
    plugin = tmp_path / f"guide_{name}"  # not the built-in's plugin name, which is disabled
    plugin.write_text(snippet(name), encoding="utf-8")
    return RoomchatProcess({
        "rooms": {"lobby": {"admit": ["users", "guests"]}},
        "plugins": {"load": [str(plugin)], "disable": [bot["kind"]]},
        "bots": [{"ID": 903, "name": "Bot", "rooms": ["lobby"], **bot}],
    })


def test_the_echo_bot_of_the_guide_runs_as_printed(tmp_path: Path) -> None:
    with (serve_snippet(tmp_path, "echo.py", {"kind": "echo", "settings": {"prefix": "echo: "}}) as server,
          ChatClient(server.url, room="lobby", name="Ann") as ann):
        assert ann.send(903, "text", "hello")["msg"] == "Message sent"
        back = ann.wait_message(lambda data: data["from"] == 903)
        assert back["message"] == {"type": "text", "value": "echo: hello"} and back["to"] == ann.id
        assert ann.send(903, "potato", {"n": 2})["msg"] == "Message sent"
        assert ann.wait_message(lambda data: data["from"] == 903, count=2)["message"] == {"type": "potato",
                                                                                           "value": {"n": 2}}


@pytest.mark.parametrize("private", [True, False])
def test_the_greeter_of_the_guide_runs_as_printed(tmp_path: Path, private: bool) -> None:
    bot = {"kind": "greeter", "settings": {"message": "Hi {name}, welcome to {room}", "private": private}}
    with (serve_snippet(tmp_path, "greeter.py", bot) as server,
          ChatClient(server.url, room="lobby", name="Ann") as ann):
        welcome = ann.wait_message(lambda data: data["from"] == 903)
        assert welcome["message"] == {"type": "text", "value": "Hi Ann, welcome to lobby"}
        assert ("to" in welcome) is private


def test_the_dice_bot_of_the_guide_runs_its_commands_as_printed(tmp_path: Path) -> None:
    plugin = tmp_path / "guide_dice.py"
    plugin.write_text(snippet("dice.py"), encoding="utf-8")
    with (RoomchatProcess({
            "rooms": {"lobby": {"admit": ["users", "guests"], "rate_limit": None}},
            "plugins": {"load": [str(plugin)]},
            "bots": [{"kind": "dice", "ID": 904, "name": "Dice", "rooms": ["lobby"]}]}) as server,
          ChatClient(server.url, room="lobby", name="Ann") as ann):
        if 904 not in [u["ID"] for u in ann.users]:
            ann.wait_for("user-connected", lambda p: p["data"]["ID"] == 904)

        def ask(text: str, count: int) -> str:
            ann.send(904, "text", text)
            return ann.wait_message(lambda data: data["from"] == 904, count=count)["message"]["value"]

        rolled = ask("/roll 20", 1)
        assert rolled.startswith("Ann rolled ") and 1 <= int(rolled.split()[-1]) <= 20
        assert ask("/roll many", 2) == ("roll: sides: Input should be a valid integer, unable to parse string as an "
                                        "integer. Usage: roll [sides]")
        assert ask("/reset", 3) == "Only teachers and admins may use reset"
