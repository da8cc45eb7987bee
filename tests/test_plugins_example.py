"""The example plugin package, installed with pip, is found through its entry point.

examples/roomchat-dice is pip-installed into a throwaway ``--target``
directory (the project's venv is left alone), which is then put on
PYTHONPATH of a ``roomchat plugins`` run, of a real ``roomchat serve`` and of
a pytest run of the package's own tests (which use roomchat's shipped
fixtures through the pytest11 entry point).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from roomchat.testing import ChatClient, RoomchatProcess

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "roomchat-dice"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a process that has roomchat-dice installed (and nothing else changed)."""
    tmp = tmp_path_factory.mktemp("dice")
    source = tmp / "src"
    # Build from a copy, so the build leaves nothing behind in the repository.
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    target = tmp / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), str(source)],
        capture_output=True, check=False, text=True, timeout=300,
    )
    assert result.returncode == 0, f"pip could not install the example:\n{result.stdout}\n{result.stderr}"
    assert not (target / "roomchat").exists(), "--no-deps: roomchat itself comes from the project"
    path = os.pathsep.join(p for p in [str(target), os.environ.get("PYTHONPATH", "")] if p)
    return {**os.environ, "PYTHONPATH": path}


def test_the_example_is_not_installed_in_the_test_environment() -> None:
    from importlib.metadata import entry_points

    assert "dice" not in {ep.name for ep in entry_points(group="roomchat")}


def test_roomchat_plugins_lists_it_as_an_installed_package(installed, tmp_path) -> None:
    config = tmp_path / "roomchat.yaml"
    config.write_text("rooms: {}\n")
    out = subprocess.run([sys.executable, "-m", "roomchat", "plugins", "--config", str(config), "--json"],
                         capture_output=True, text=True, env=installed, timeout=60, check=True).stdout
    dice = {p["name"]: p for p in json.loads(out)}["dice"]
    assert dice["origin"] == "package roomchat-dice 0.1.0"
    assert dice["module"] == "roomchat_dice.plugin"
    assert dice["types"] == ["dice"]
    text = subprocess.run([sys.executable, "-m", "roomchat", "plugins", "--config", str(config)],
                          capture_output=True, text=True, env=installed, timeout=60, check=True).stdout
    assert "dice  (package roomchat-dice 0.1.0)" in text and "types: dice" in text


def test_it_works_in_a_running_server(installed) -> None:
    config = {"rooms": {"games": {"admit": ["guests"], "plugins": {"settings": {"dice": {"max_dice": 2}}}}}}
    with RoomchatProcess(config, env=installed) as server:
        with ChatClient(server.url, room="games", name="Ann") as ann, ChatClient(server.url, room="games", name="Bob") as bob:
            assert ann.broadcast("dice", {"dice": "2d4"})["msg"] == "Message sent"
            answer = bob.wait_message()
            assert answer["from"] == 0
            assert answer["message"]["value"]["roller"] == ann.id
            assert 2 <= answer["message"]["value"]["total"] <= 8
            refused = ann.broadcast("dice", {"dice": "3d4"})  # this room allows two dice
            assert refused["data"]["code"] == "validation_failed"


def test_its_own_tests_pass_with_the_shipped_fixtures(installed) -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                            capture_output=True, check=False, text=True, env=installed, cwd=EXAMPLE, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
