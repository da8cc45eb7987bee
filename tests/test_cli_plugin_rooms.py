"""Per-room opt-in: ``enabled: all`` with ``disabled: [...]`` in a room, and ``plugins.rooms`` (a plugin
kept to some rooms). Through a real ``roomchat serve`` (a plugin kept out of a room does not run there
and runs elsewhere, rooms created on first join included) and ``roomchat check`` (errors name the file,
the key path, the unknown plugin and the installed ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clikit import roomchat, write_yaml

from roomchat.testing import ChatClient, RoomchatProcess

LOUD = '''
from roomchat import MessageType, hookimpl

def shout(ctx):
    ctx.value = ctx.value.upper()

@hookimpl
def roomchat_register_message_types(register):
    register(MessageType("shout", str, handlers=[shout]))
'''

TAGGER = '''
from roomchat import hookimpl

@hookimpl
def roomchat_check_message(ctx):
    if ctx.type == "text" and isinstance(ctx.value, str):
        ctx.value = ctx.value + " [tagged]"
'''


def config() -> dict[str, Any]:
    """loud only in stage and the created room 'pop-up'; tagger everywhere but quiet."""
    guests = {"admit": ["guests"], "rate_limit": None}
    return {
        "server": {"create_rooms": True, "new_room": guests},
        "plugins": {"load": ["loud.py", "tagger.py"], "rooms": {"loud": ["stage", "pop-up"]}},
        "rooms": {
            "stage": guests,
            "hall": guests,
            "quiet": {**guests, "plugins": {"enabled": "all", "disabled": ["tagger"]}},
        },
    }


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    (tmp_path / "loud.py").write_text(LOUD)
    (tmp_path / "tagger.py").write_text(TAGGER)
    return write_yaml(tmp_path / "roomchat.yaml", data)


def delivered(url: str, room: str, type_: str, value: str) -> Any:
    """What a second member of ``room`` receives when the first broadcasts ``type_``/``value``."""
    with ChatClient(url, room=room, name="Ann") as ann, ChatClient(url, room=room, name="Bob") as bob:
        assert ann.broadcast(type_, value)["msg"] == "Message sent"
        return bob.wait_message()["message"]["value"]


def test_plugins_run_only_in_the_rooms_that_opt_in(tmp_path) -> None:
    with RoomchatProcess(write(tmp_path, config())) as server:
        assert delivered(server.url, "stage", "shout", "hi") == "HI"
        assert delivered(server.url, "pop-up", "shout", "hi") == "HI", "a created room named in plugins.rooms"
        for room in ("hall", "quiet", "elsewhere"):  # not in plugins.rooms.loud: shout is an unknown type there
            assert delivered(server.url, room, "shout", "hi") == "hi", room
        for room in ("stage", "hall", "elsewhere"):
            assert delivered(server.url, room, "text", "x") == "x [tagged]", room
        assert delivered(server.url, "quiet", "text", "x") == "x", "tagger is disabled in quiet"


def test_check_accepts_the_per_room_forms(tmp_path) -> None:
    done = roomchat("check", str(write(tmp_path, config())))
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr


def _broken(change) -> dict[str, Any]:
    data = config()
    change(data)
    return data


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c["rooms"]["quiet"]["plugins"].update(disabled=["tager"]),
     "rooms.quiet.plugins.disabled: no plugin is called 'tager' (installed: "),
    (lambda c: c["plugins"]["rooms"].update(lod=["stage"]),
     "plugins.rooms.lod: no plugin is called 'lod' (installed: "),
    (lambda c: c["rooms"]["hall"].update(plugins={"enabled": ["text", "loudd"]}),
     "rooms.hall.plugins.enabled: no plugin is called 'loudd' (installed: "),
    (lambda c: c["server"]["new_room"].update(plugins={"disabled": ["nope"]}),
     "server.new_room.plugins.disabled: no plugin is called 'nope'"),
    (lambda c: c["rooms"]["hall"].update(plugins={"enabled": ["text", "loud"]}),
     ("rooms.hall.plugins.enabled: lists 'loud', but plugins.rooms.loud keeps it to stage, pop-up; "
     "add 'hall' there, or take 'loud' out of this list")),
    (lambda c: c["rooms"]["hall"].update(plugins={"enabled": ["text"], "disabled": ["tagger"]}),
     "rooms.hall.plugins: disabled goes with enabled: all"),
])
def test_check_names_the_file_the_key_and_the_unknown_plugin(tmp_path, change, expected) -> None:
    path = write(tmp_path, _broken(change))
    for command in (["check", str(path)], ["serve", str(path), "--port", "0"]):
        done = roomchat(*command)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"{path}: invalid configuration\n"), done.stderr
        assert expected in done.stderr and "Traceback" not in done.stderr
        if "installed: " in expected:
            assert "loud, moderation" in done.stderr and "tagger" in done.stderr, "the installed names, sorted"


def test_a_plugin_kept_to_a_room_that_does_not_exist_is_a_warning(tmp_path) -> None:
    data = config()
    data["server"]["create_rooms"] = False
    data["plugins"]["rooms"]["loud"] = ["stage", "stgae"]
    done = roomchat("check", str(write(tmp_path, data)))
    assert done.returncode == 0, done.stderr
    assert "plugins.rooms.loud.1: there is no room called 'stgae' under rooms:" in done.stderr
