"""The bot SDK is documented and tested, call by call (as tests/test_hookspecs.py does for the hooks).

Every public method and attribute of ``Bot``, ``BotRoom``, ``Incoming``,
``Ack``, ``Timers`` and ``CommandRefused``, and every parameter of
``@command``, is named in its own section of docs/bots.md and used by some
test. A new SDK call that is neither fails here.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from roomchat.bot import Ack, Bot, BotRoom, CommandRefused, Incoming, Timers, command
from roomchat.clock import Clock

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "bots.md").read_text(encoding="utf-8")
TESTS = {path: path.read_text(encoding="utf-8") for path in sorted((ROOT / "tests").rglob("test_*.py"))
         if path.name != Path(__file__).name}


def public(kind: type, *instances: object) -> set[str]:
    """The public names of a class and of its instances, less what every object (or exception) has."""
    base = set(dir(Exception)) if issubclass(kind, BaseException) else set(dir(object))
    names = {n for n in dir(kind) if not n.startswith("_")}
    for instance in instances:
        names |= {n for n in vars(instance) if not n.startswith("_")}
    return names - base


def _bot_room() -> BotRoom:
    return BotRoom(Bot(), "room")


SURFACE: dict[str, set[str]] = {
    "Bot": public(Bot, Bot()),
    "BotRoom": public(BotRoom, _bot_room()),
    "Incoming": public(Incoming),
    "Ack": public(Ack),
    "Timers": public(Timers, Timers(Clock())),
    "@command": set(inspect.signature(command).parameters) | public(CommandRefused, CommandRefused("c", "m")),
}
CALLS = sorted((section, name) for section, names in SURFACE.items() for name in names)


def section(title: str) -> str:
    """The text of docs/bots.md's ``### `title``` section."""
    start = DOC.index(f"### `{title}`\n")
    end = min(i for i in (DOC.find("\n## ", start), DOC.find("\n### ", start + 1), len(DOC)) if i != -1)
    return DOC[start:end]


def test_the_surface_is_what_the_issue_names() -> None:
    assert {"reply", "sender", "from_id"} <= SURFACE["Incoming"]
    assert {"ok", "code", "errors", "value", "data"} <= SURFACE["Ack"]
    assert {"call_later", "cancel", "pending", "close"} <= SURFACE["Timers"]
    assert {"name", "aliases", "staff_only", "roles", "help"} <= SURFACE["@command"]
    assert {"send", "broadcast", "moderate", "call_later", "timers", "leave", "teachers"} <= SURFACE["BotRoom"]
    assert {"on_command_refused", "run_command", "help_text", "command_table", "commands"} <= SURFACE["Bot"]


@pytest.mark.parametrize(("title", "name"), CALLS)
def test_every_sdk_call_is_documented_in_its_section(title: str, name: str) -> None:
    assert re.search(rf"(?:[`.]|`await ){re.escape(name)}\b", section(title)), \
        f"docs/bots.md, section `{title}`, does not document {name!r}"


def used_by_a_test(name: str) -> list[str]:
    patterns = [rf"\.{name}\b", rf"\b{name}=", rf"def {name}\(", rf"^\s+{name}(: [^=]+)? = ", rf"\b{name}\("]
    return [path.name for path, text in TESTS.items() if any(re.search(p, text, re.MULTILINE) for p in patterns)]


@pytest.mark.parametrize(("title", "name"), CALLS)
def test_every_sdk_call_is_used_by_a_test(title: str, name: str) -> None:
    if title == "@command" and name == "name":
        assert any(re.search(r'@command\("', text) for text in TESTS.values())
        return
    assert used_by_a_test(name), f"no test uses {title}'s {name!r}: add one that runs it against a real server"
