"""Discovery from the config (``plugins.load``: a .py file, a module), ``roomchat plugins``,
``roomchat schema``, ``GET /schema``, and start-up refusing bad plugin settings."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from roomchat.testing import ChatClient, RoomchatProcess

SPUD = '''
from typing import Annotated, Literal
from pydantic import BaseModel, ConfigDict, Field
from roomchat import MessageType, hookimpl

class Spud(BaseModel):
    """A potato, as sent."""
    model_config = ConfigDict(extra="forbid")
    kind: Literal["baked", "mashed", "fried"]
    grams: Annotated[int, Field(gt=0, le=2000)] = 200

class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_grams: int = 1000

def weigh(ctx):
    if ctx.value.grams > ctx.settings.max_grams:
        ctx.invalid(f"at most {ctx.settings.max_grams} grams here", loc=("grams",))

@hookimpl
def roomchat_register_message_types(register):
    register(MessageType("spud", Spud, handlers=[weigh], description="Pass a potato"))

@hookimpl
def roomchat_settings_model():
    return Settings
'''

SHOUT = '''
from roomchat import MessageType, hookimpl

def shout(ctx):
    ctx.value = ctx.value.upper()

@hookimpl
def roomchat_register_message_types(register):
    register(MessageType("shout", str, handlers=[shout]))
'''


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Any]:
    """A config beside a plugin file (spud.py) and a plugin module on PYTHONPATH (shoutpkg.loud)."""
    (tmp_path / "spud.py").write_text(SPUD)
    (tmp_path / "lib" / "shoutpkg").mkdir(parents=True)
    (tmp_path / "lib" / "shoutpkg" / "__init__.py").write_text("")
    (tmp_path / "lib" / "shoutpkg" / "loud.py").write_text(SHOUT)
    config = {
        "plugins": {"load": ["spud.py", "shoutpkg.loud"], "settings": {"spud": {"max_grams": 500}}},
        "rooms": {"kitchen": {"admit": ["guests"]}},
    }
    return {"dir": tmp_path, "config": config, "env": {"PYTHONPATH": str(tmp_path / "lib")}}


def _write(setup: dict[str, Any]) -> Path:
    path = setup["dir"] / "roomchat.yaml"
    path.write_text(yaml.safe_dump(setup["config"]))
    return path


def roomchat(setup: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **setup["env"]}
    return subprocess.run([sys.executable, "-m", "roomchat", *args], capture_output=True, check=False, text=True, env=env,
                          timeout=60, cwd=setup["dir"].parent)


def test_plugins_lists_each_plugin_its_types_and_origin(setup) -> None:
    path = _write(setup)
    listed = {p["name"]: p for p in json.loads(roomchat(setup, "plugins", "--config", str(path), "--json").stdout)}
    assert listed["spud"]["origin"] == "config: spud.py" and listed["spud"]["types"] == ["spud"]
    assert listed["loud"]["origin"] == "config: shoutpkg.loud" and listed["loud"]["module"] == "shoutpkg.loud"
    assert listed["default_rooms"]["origin"] == "built-in"
    assert "roomchat_resolve_room" in listed["default_rooms"]["hooks"]
    assert "roomchat_settings_model" in listed["spud"]["hooks"]
    text = roomchat(setup, "plugins", "--config", str(path)).stdout
    assert "spud  (config: spud.py)\n    types: spud\n" in text
    assert text.index("default_rooms") < text.index("spud"), "built-ins first"


def test_schema_prints_every_type_as_json_schema(setup) -> None:
    path = _write(setup)
    every = json.loads(roomchat(setup, "schema", "--config", str(path)).stdout)
    assert {"spud", "shout"} <= set(every)
    spud = every["spud"]
    assert spud["plugin"] == "spud" and spud["description"] == "Pass a potato"
    assert spud["schema"]["properties"]["kind"]["enum"] == ["baked", "mashed", "fried"]
    assert spud["schema"]["required"] == ["kind"] and spud["schema"]["additionalProperties"] is False
    assert every["shout"]["schema"]["type"] == "string"
    one = json.loads(roomchat(setup, "schema", "spud", "--config", str(path)).stdout)
    assert one == spud
    missing = roomchat(setup, "schema", "yam", "--config", str(path))
    assert missing.returncode == 2 and "no message type 'yam'" in missing.stderr and "spud" in missing.stderr


def test_the_running_server_serves_the_same_schemas_and_runs_the_plugins(setup) -> None:
    path = _write(setup)
    printed = json.loads(roomchat(setup, "schema", "--config", str(path)).stdout)
    with RoomchatProcess(path, env=setup["env"]) as server:
        with urllib.request.urlopen(f"{server.url}/schema") as reply:
            assert reply.headers["content-type"] == "application/json"
            assert json.load(reply) == printed
        with urllib.request.urlopen(f"{server.url}/schema/spud") as reply:
            assert json.load(reply) == printed["spud"]
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{server.url}/schema/yam")
        assert missing.value.code == 404
        with ChatClient(server.url, room="kitchen", name="Ann") as ann, ChatClient(server.url, room="kitchen", name="Bob") as bob:
            assert ann.broadcast("shout", "hi")["msg"] == "Message sent"
            assert bob.wait_message()["message"] == {"type": "shout", "value": "HI"}
            refused = ann.broadcast("spud", {"kind": "baked", "grams": 600})  # global max_grams: 500
            assert refused["data"] == {"code": "validation_failed",
                                       "errors": [{"loc": ["grams"], "msg": "at most 500 grams here", "type": "value_error"}]}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c["plugins"]["settings"]["spud"].update(max_grams="lots"), "plugins.settings.spud.max_grams"),
    (lambda c: c["rooms"]["kitchen"].update(plugins={"settings": {"spud": {"max_gram": 1}}}),
     "rooms.kitchen.plugins.settings.spud.max_gram: unknown setting"),
    (lambda c: c["plugins"]["load"].append("nothere.py"), "plugins.load: no plugin file at"),
    (lambda c: c["plugins"]["load"].append("no_such_module_xyz"), "plugins.load: cannot import 'no_such_module_xyz'"),
])
def test_bad_plugin_config_stops_start_up_naming_the_key(setup, change, expected) -> None:
    change(setup["config"])
    path = _write(setup)
    for command in (["check", str(path)], ["serve", "--config", str(path), "--port", "0"]):
        result = roomchat(setup, *command)
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr and "Traceback" not in result.stderr


def test_a_type_registered_twice_stops_start_up_naming_both_plugins(setup) -> None:
    (setup["dir"] / "spud2.py").write_text(SPUD)
    setup["config"]["plugins"]["load"].append("spud2.py")
    result = roomchat(setup, "check", str(_write(setup)))
    assert result.returncode == 2
    assert "'spud' is registered twice (by spud and spud2)" in result.stderr


def test_disabled_plugins_are_not_loaded(setup) -> None:
    setup["config"]["plugins"]["disable"] = ["loud"]
    path = _write(setup)
    listed = [p["name"] for p in json.loads(roomchat(setup, "plugins", "--config", str(path), "--json").stdout)]
    assert "spud" in listed and "loud" not in listed
