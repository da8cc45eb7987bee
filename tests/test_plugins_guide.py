"""The tutorial of docs/plugins.md works when followed to the letter.

The guide's files (code blocks marked ``<!-- tutorial-file: NAME -->``) are
written into an empty folder and used as a reader would: ``roomchat check``,
``roomchat plugins``, the server with the guide's client script, the guide's
tests with the shipped fixtures, and the package pip-installed into a
throwaway ``--target`` and found through its entry point. The guide's
finished files must be those of examples/potato, word for word, and potato
itself stays open: no built-in registers it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from roomchat.testing import ChatClient, RoomchatProcess
from roomchat.testing.pytest_plugin import RoomHarness

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "examples" / "potato"


def block(marker: str) -> str:
    """The body of the first fenced block after ``<!-- marker ... -->``."""
    found = re.search(rf"<!-- {re.escape(marker)}[^>]*-->\n```[a-z]*\n(.*?)^```", DOC, re.DOTALL | re.MULTILINE)
    assert found, f"docs/plugins.md has no block marked {marker!r}"
    return found.group(1)


def roomchat(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roomchat", *args], capture_output=True, check=False, text=True, cwd=folder,
                          env={**os.environ, **(env or {})}, timeout=60)


@pytest.mark.parametrize(("marker", "path"), [
    ("potato.py:", "my_potato.py"),
    ("tutorial-file: roomchat.yaml step 3", "roomchat.yaml"),
    ("tutorial-file: send.py", "send.py"),
    ("tutorial-file: tests/test_my_potato.py", "tests/test_my_potato.py"),
])
def test_the_finished_files_are_examples_potato_word_for_word(marker: str, path: str) -> None:
    assert block(marker) == (EXAMPLE / path).read_text(encoding="utf-8")


def test_no_builtin_types_potato() -> None:
    """The seed names potato as a free type: the tutorial's plugin is an example, never loaded by default."""
    assert "potato" not in json.loads(roomchat(ROOT, "schema", "--config", "config/roomchat.yaml").stdout)
    assert "my_potato" not in roomchat(ROOT, "plugins", "--config", "config/roomchat.yaml").stdout


def test_step_1_a_type_loaded_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "roomchat.yaml").write_text(block("tutorial-file: roomchat.yaml"))
    (tmp_path / "my_potato.py").write_text(block("tutorial-file: my_potato.py step 1"))
    check = roomchat(tmp_path, "check", "roomchat.yaml")
    assert check.returncode == 0, check.stderr
    listed = {p["name"]: p for p in json.loads(roomchat(tmp_path, "plugins", "--config", "roomchat.yaml", "--json").stdout)}
    assert listed["my_potato"]["origin"] == "config: my_potato.py" and listed["my_potato"]["types"] == ["potato"]
    schema = json.loads(roomchat(tmp_path, "schema", "potato", "--config", "roomchat.yaml").stdout)
    assert schema["plugin"] == "my_potato" and schema["schema"]["required"] == ["variety", "weight_grams"]

    with RoomchatProcess(tmp_path / "roomchat.yaml") as server:
        with ChatClient(server.url, room="kitchen", name="Bob") as bob:
            script = block("tutorial-file: send.py").replace("http://127.0.0.1:8000", server.url)
            (tmp_path / "send.py").write_text(script)
            sent = subprocess.run([sys.executable, "send.py"], capture_output=True, check=False, text=True, cwd=tmp_path, timeout=60)
            assert sent.returncode == 0, sent.stderr
            assert sent.stdout.count("ack:") == 2 and "'Message sent'" in sent.stdout
            assert bob.wait_message()["message"] == {"type": "potato", "value": {"variety": "King Edward", "weight_grams": 180}}
            bad = bob.broadcast("potato", {"variety": "", "weight_grams": "heavy"})
            assert bad == json.loads(block("tutorial-output: refusal"))


def test_step_3_settings_are_checked_as_the_guide_says(tmp_path: Path) -> None:
    (tmp_path / "roomchat.yaml").write_text(block("tutorial-file: roomchat.yaml step 3"))
    (tmp_path / "my_potato.py").write_text(block("potato.py:"))
    assert roomchat(tmp_path, "check", "roomchat.yaml").returncode == 0
    bad = block("tutorial-file: roomchat.yaml step 3").replace("{max_weight_grams: 1500}", "{max_weight_grams: lots}")
    assert "lots" in bad, "the guide's file changed: change the line above with it"
    (tmp_path / "roomchat.yaml").write_text(bad)  # as written: the error's line is the guide's file's
    result = roomchat(tmp_path, "check", "roomchat.yaml")
    assert result.returncode == 2
    assert block("tutorial-output: bad setting") in result.stderr


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The my-potato folder as it stands after step 5."""
    folder = tmp_path_factory.mktemp("my-potato")
    (folder / "src" / "roomchat_my_potato").mkdir(parents=True)
    (folder / "src" / "roomchat_my_potato" / "__init__.py").write_text(block("potato.py:"))
    (folder / "pyproject.toml").write_text(block("tutorial-file: pyproject.toml"))
    (folder / "README.md").write_text("# roomchat-my-potato\n")
    (folder / "tests").mkdir()
    test = block("tutorial-file: tests/test_my_potato.py")
    assert "import my_potato\n" in test
    (folder / "tests" / "test_my_potato.py").write_text(
        test.replace("import my_potato\n", "import roomchat_my_potato as my_potato\n"))
    config = yaml.safe_load(block("tutorial-file: roomchat.yaml step 3"))
    del config["plugins"]["load"]
    (folder / "roomchat.yaml").write_text(yaml.safe_dump(config))
    return folder


def test_step_4_the_guides_tests_pass_with_the_shipped_fixtures(tmp_path: Path) -> None:
    (tmp_path / "my_potato.py").write_text(block("potato.py:"))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_my_potato.py").write_text(block("tutorial-file: tests/test_my_potato.py"))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], capture_output=True, check=False,
                            text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_step_5_the_package_is_found_through_its_entry_point(package: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                              "--disable-pip-version-check", "--target", str(target), str(package)],
                             capture_output=True, check=False, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    env = {"PYTHONPATH": str(target)}
    listed = roomchat(package, "plugins", "--config", "roomchat.yaml", env=env).stdout
    assert "my_potato  (package roomchat-my-potato 0.1.0)\n    types: potato\n" in listed
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                           capture_output=True, check=False, text=True, cwd=package, env={**os.environ, **env}, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def example_plugin() -> object:
    """examples/potato/my_potato.py, imported from its file as plugins.load would."""
    spec = importlib.util.spec_from_file_location("my_potato_example", EXAMPLE / "my_potato.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def kitchen(roomchat_start) -> RoomHarness:  # type: ignore[no-untyped-def]
    """A room running the finished example, with a weight limit of 1000 g."""
    return roomchat_start(plugins={"my_potato": example_plugin()}, settings={"my_potato": {"max_weight_grams": 1000}})


def test_the_example_thanks_the_sender_only(kitchen: RoomHarness) -> None:
    ann, bob = kitchen.join("Ann"), kitchen.join("Bob")
    assert ann.broadcast("potato", {"variety": "Maris Piper", "weight_grams": 80}).ok
    assert bob.receive(type="potato").value == {"variety": "Maris Piper", "weight_grams": 80, "fries": 10}
    reply = ann.receive(type="text")
    assert reply.from_room and reply.value == "Thanks for the Maris Piper! That makes 10 fries."
    bob.sync()
    assert bob.messages(type="text") == []


@pytest.mark.parametrize(("value", "field"), [
    ({"variety": "", "weight_grams": 100}, "variety"),
    ({"variety": "Russet", "weight_grams": 0}, "weight_grams"),
    ({"variety": "Russet", "weight_grams": "100"}, "weight_grams"),  # strict: a string is not a number
    ({"variety": "Russet"}, "weight_grams"),
    ({"variety": "Russet", "weight_grams": 100, "peeled": True}, "peeled"),
    ({"variety": "Russet", "weight_grams": 1001}, "weight_grams"),  # over the room's limit
])
def test_the_example_refuses_a_bad_potato_field_by_field(kitchen: RoomHarness, value: dict, field: str) -> None:
    ann, bob = kitchen.join("Ann"), kitchen.join("Bob")
    ack = ann.broadcast("potato", value)
    assert ack.code == "validation_failed"
    assert [e["loc"] for e in ack.errors] == [[field]]
    bob.sync()
    assert bob.messages() == []
    assert ann.messages(type="text") == []  # no thanks for a refused potato


TESTING_SECTION = DOC[DOC.index("## Testing a plugin"):DOC.index("## JSON Schema for client authors")]


@pytest.mark.parametrize("kit", ["ChatClient", "RoomchatProcess", "RoomchatThread"])
def test_the_guide_lists_every_public_method_of_the_test_kit(kit: str) -> None:
    import roomchat.testing

    cls = getattr(roomchat.testing, kit)
    public = [name for name in dir(cls) if not name.startswith("_")]
    assert public
    missing = [name for name in public if f"`{name}" not in TESTING_SECTION and f"{name}()" not in TESTING_SECTION]
    assert not missing, f"docs/plugins.md, 'Testing a plugin', does not describe {kit}.{missing}"


def test_the_guides_process_example_runs(tmp_path: Path) -> None:
    code = TESTING_SECTION[TESTING_SECTION.index("from roomchat.testing import ChatClient, JoinRefused"):]
    code = code[:code.index("```")]
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/plugins.md", "exec"), namespace)  # noqa: S102 - the guide's own example
    namespace["test_a_guest_cannot_enter_a_room_of_tokens"](tmp_path)  # type: ignore[operator]
