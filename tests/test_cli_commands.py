"""The ``roomchat`` command line, run as a process: the config given the same way to every command,
``--version``, help text on every command and flag, plugins and schema without a config, the
"run `roomchat check`" hint only where check can help, a question bank's every problem, and the
warnings of ``roomchat check``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from clikit import one_line, roomchat, write_yaml

from roomchat.cli import build_parser
from roomchat.testing import free_port
from roomchat.testing.servers import wait_healthy

ROOT = Path(__file__).resolve().parent.parent
GUESTS = {"admit": ["guests"]}
HINT = "run `roomchat check"


def guest_config(tmp_path: Path, **extra: Any) -> Path:
    return write_yaml(tmp_path / "roomchat.yaml", {"rooms": {"lobby": GUESTS}, **extra})


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    """A folder with no config/roomchat.yaml, for commands run without a config."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


NO_DEFAULT: dict[str, str | None] = {"ROOMCHAT_CONFIG": None}  # with no config/roomchat.yaml in the folder: no config


# -- the config file, given the same way everywhere ----------------------------------------------


@pytest.mark.parametrize("form", ["positional", "option"])
def test_check_takes_the_config_either_way(tmp_path, form) -> None:
    path = str(guest_config(tmp_path))
    done = roomchat("check", path) if form == "positional" else roomchat("check", "--config", path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{path}: OK (1 rooms")


@pytest.mark.parametrize("command", ["plugins", "schema"])
def test_plugins_and_schema_read_the_configs_plugins_either_way(tmp_path, command) -> None:
    (tmp_path / "shout.py").write_text("from roomchat import MessageType, hookimpl\n"
                                       "@hookimpl\ndef roomchat_register_message_types(register):\n"
                                       "    register(MessageType('shout', str))\n")
    path = str(guest_config(tmp_path, plugins={"load": ["shout.py"]}))
    forms = [["--config", path]] + ([[path]] if command == "plugins" else [])
    for form in forms:
        done = roomchat(command, *form, *(["--json"] if command == "plugins" else []))
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        names = [p["name"] for p in found] if command == "plugins" else list(found)
        assert "shout" in names, form


@pytest.mark.parametrize("form", ["positional", "option"])
def test_serve_takes_the_config_either_way(tmp_path, form) -> None:
    path, port = str(guest_config(tmp_path)), free_port()
    given = [path] if form == "positional" else ["--config", path]
    with subprocess.Popen([sys.executable, "-m", "roomchat", "serve", *given, "--port", str(port)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc=proc)
        finally:
            proc.terminate()
            proc.wait(20)


def test_two_different_config_files_are_refused_in_one_line(tmp_path) -> None:
    a, b = guest_config(tmp_path), write_yaml(tmp_path / "other.yaml", {})
    done = roomchat("check", str(a), "--config", str(b))
    assert done.returncode == 2
    assert one_line(done.stderr) == (f"roomchat check: two config files given ({a} and {b}); "
                                     "give one, as FILE or --config FILE")


def test_schema_with_a_file_for_a_type_says_to_use_config(tmp_path) -> None:
    path = guest_config(tmp_path)
    done = roomchat("schema", str(path))
    assert done.returncode == 2
    assert f"no message type {str(path)!r}" in done.stderr and f"give --config {path}" in one_line(done.stderr)


# -- --version and help -----------------------------------------------------------------------------


def test_version() -> None:
    done = roomchat("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"roomchat {version('roomchat')}"


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (sub-)command of the parser, with its words: ("serve",), ("bot",), ("bot", "run"), ..."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from commands(sub, (*path, name))


def every_parser() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """``roomchat`` itself (the empty tuple) and every sub-command."""
    root = build_parser()
    return {(): root, **dict(commands(root))}


ALL_COMMANDS = list(every_parser())


def test_the_meta_test_sees_every_command() -> None:
    assert {(), ("serve",), ("check",), ("token",), ("plugins",), ("schema",), ("bot",), ("bot", "run")} <= set(
        ALL_COMMANDS)


@pytest.mark.parametrize("words", ALL_COMMANDS, ids=lambda words: " ".join(["roomchat", *words]))
def test_every_command_and_flag_has_help_text(words) -> None:
    parser = every_parser()[words]
    assert parser.description and parser.description.strip(), f"roomchat {' '.join(words)} has no description"
    undocumented = [action.option_strings or [action.dest] for action in parser._actions
                    if not isinstance(action, argparse._HelpAction)
                    and (not action.help or action.help == argparse.SUPPRESS)]
    assert not undocumented, f"roomchat {' '.join(words)}: no help for {undocumented}"
    shown = roomchat(*words, "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert " ".join(parser.description.split()) in text
    for action in parser._actions:
        for option in action.option_strings:
            assert option in text
        if action.help and not isinstance(action, argparse._SubParsersAction):
            assert " ".join(action.help.split("%")[0].split()) in text, action.help


def test_the_top_level_help_lists_every_command_with_a_line() -> None:
    text = roomchat("--help").stdout
    for name in ("serve", "check", "token", "plugins", "schema", "bot"):
        assert any(line.split()[:1] == [name] and len(line.split()) > 1 for line in text.splitlines()), name
    assert "--version" in text


# -- plugins and schema without a config file -----------------------------------------------------


def test_plugins_and_schema_without_a_config_list_what_is_installed(empty_dir) -> None:
    listed = roomchat("plugins", "--json", cwd=empty_dir, env=NO_DEFAULT)
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert {"text", "poll", "moderation", "default_rooms"} <= set(plugins)
    assert plugins["text"]["origin"] == "built-in" and "quiz" in plugins["quiz"]["bots"]
    schemas = roomchat("schema", "text", cwd=empty_dir, env=NO_DEFAULT)
    assert schemas.returncode == 0, schemas.stderr
    assert json.loads(schemas.stdout)["plugin"] == "text"


def test_a_named_config_that_is_missing_is_one_line_without_the_check_hint(empty_dir) -> None:
    for command in (["serve", "nothere.yaml"], ["check", "nothere.yaml"], ["plugins", "--config", "nothere.yaml"]):
        done = roomchat(*command, cwd=empty_dir, env=NO_DEFAULT)
        assert done.returncode == 2
        assert one_line(done.stderr) == (f"roomchat {command[0]}: there is no config file at nothere.yaml; "
                                         f"give one: roomchat {command[0]} FILE")


def test_serve_without_any_config_says_which_file_it_looked_for(empty_dir) -> None:
    done = roomchat("serve", cwd=empty_dir, env=NO_DEFAULT)
    assert done.returncode == 2
    assert "there is no config file at config/roomchat.yaml (no config file was given, and this is the default)" in \
        one_line(done.stderr)


# -- the "run roomchat check" hint -----------------------------------------------------------------


def test_the_check_hint_where_check_validates_what_failed(tmp_path) -> None:
    path = write_yaml(tmp_path / "roomchat.yaml", {"rooms": {"lobby": {"admitt": ["guests"]}}})
    for command in (["serve", str(path)], ["plugins", str(path)], ["schema", "--config", str(path)]):
        done = roomchat(*command)
        assert done.returncode == 2 and "rooms.lobby.admitt: unknown key" in done.stderr
        assert done.stderr.rstrip().endswith(f"Fix the file and run `roomchat check {path}` to validate it."), command
    checked = roomchat("check", str(path))
    assert checked.returncode == 2 and "rooms.lobby.admitt" in checked.stderr and HINT not in checked.stderr


def test_no_check_hint_where_check_cannot_validate_what_failed(tmp_path) -> None:
    settings = write_yaml(tmp_path / "echo.yaml", {"prefx": ">"})
    done = roomchat("bot", "run", "echo", "--url", "http://127.0.0.1:9", "--token", "t" * 10, "--room", "lobby",
                    "--settings", str(settings))
    assert done.returncode == 2 and "settings.prefx: unknown setting" in done.stderr and HINT not in done.stderr
    unknown = roomchat("schema", "nosuchtype", "--config", str(guest_config(tmp_path)))
    assert unknown.returncode == 2 and HINT not in unknown.stderr
    token = roomchat("token", "--id", "1", "--name", "A", env={"ROOMCHAT_JWT_SECRET": ""})
    assert token.returncode == 2 and HINT not in token.stderr
    assert one_line(token.stderr) == "roomchat token: set ROOMCHAT_JWT_SECRET to the server's JWT secret first"


# -- a question bank: every problem, one per line --------------------------------------------------


def test_check_reports_every_problem_of_a_bank_one_per_line(tmp_path) -> None:
    write_yaml(tmp_path / "bad.yaml", {"questions": [
        {"question": "2+2?", "options": ["three", "four"], "answer": "five"},      # not an option
        {"question": "Capital of France?", "answr": "Paris"},                      # unknown key, no answer
        {"question": "Fine?", "answer": "yes"},
        {"question": "Late?", "answer": "no", "time_limit": -3},                   # not positive
    ]})
    path = write_yaml(tmp_path / "roomchat.yaml", {
        "rooms": {"class": {"admit": ["users", "guests"]}},
        "bots": [{"kind": "quiz", "ID": 5, "name": "Q", "rooms": ["class"], "settings": {"banks": {"bad": "bad.yaml"}}}],
    })
    done = roomchat("check", str(path))
    assert done.returncode == 2
    # each at the config's banks key (line 13) and at the bank's own line of the question or key
    prefix = f"{path}:13: bots.0.settings.banks: bank 'bad' ({tmp_path / 'bad.yaml'}"
    assert done.stderr.splitlines() == [
        f"{path}: invalid configuration",
        prefix + ":2): question 1 (questions.0): answer 'five' is not one of the options; give an option's text or "
                 "its letter (A to B)",
        prefix + ":8): question 2 (questions.1), key 'answr': unknown key (check its spelling, or remove it)",
        prefix + ":7): question 2 (questions.1): give either 'answer' (one) or 'answers' (a list), not both and not "
                 "neither",
        prefix + ":13): question 4 (questions.3), key 'time_limit': Input should be greater than 0",
    ]


# -- roomchat check's warnings --------------------------------------------------------------------


def warnings_of(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.removeprefix("  - ") for line in done.stderr.splitlines() if line.startswith("  - ")]


@pytest.mark.parametrize(("config", "expected"), [
    ({}, [("rooms: nobody can join anything: no rooms are configured and server.create_rooms is off "
          "(list rooms under rooms:, or turn on server.create_rooms)")]),
    ({"rooms": {"staff": {"admit": ["guests"], "roles": ["TEACHER"]}}},
     ["rooms.staff: nobody can enter this room (guests are STUDENTs and its roles are TEACHER)",
      ("rooms: nobody can join anything: no room admits anyone who can exist (see above; add 'guests' or 'jwt' to "
      "a room's admit, or users whose roles the room allows)")]),
    ({"rooms": {"class": {"admit": ["users"]}, "lobby": GUESTS}},
     ["rooms.class: nobody can enter this room (no users are configured under users:)"]),
    ({"users": [{"ID": 1, "name": "Ann", "role": "STUDENT", "token": "ann-token-1"}],
      "rooms": {"staff": {"admit": ["users"], "roles": ["TEACHER", "ADMIN"]}},
      "server": {"create_rooms": True, "new_room": {"admit": []}}},
     ["rooms.staff: nobody can enter this room (no user under users: has one of its roles (TEACHER, ADMIN))",
      "server.new_room: nobody can enter a room created on first join (its admit list is empty)",
      ("rooms: nobody can join anything: no room admits anyone who can exist (see above; add 'guests' or 'jwt' to "
      "a room's admit, or users whose roles the room allows)")]),
])
def test_check_warns_when_nobody_can_join(tmp_path, config, expected) -> None:
    path = write_yaml(tmp_path / "roomchat.yaml", config)
    done = roomchat("check", str(path))
    assert done.returncode == 0, done.stderr
    assert f"{path}: {len(expected)} warning" in done.stderr
    assert warnings_of(done) == expected
    strict = roomchat("check", "--strict", str(path))
    assert strict.returncode == 1 and warnings_of(strict) == expected


@pytest.mark.parametrize("config", [
    {"rooms": {"lobby": GUESTS}},
    {"rooms": {"exam": {"admit": ["jwt"]}}},
    {"server": {"create_rooms": True}},
])
def test_check_is_quiet_when_someone_can_join(tmp_path, config) -> None:
    done = roomchat("check", "--strict", str(write_yaml(tmp_path / "roomchat.yaml", config)))
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_default_config_checks_without_warnings() -> None:
    done = roomchat("check", "--strict", "config/roomchat.yaml", cwd=ROOT)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_an_external_bot_whose_kind_is_not_installed_here_is_a_warning(tmp_path) -> None:
    path = guest_config(tmp_path, bots=[{"kind": "parrot", "ID": 7, "name": "P", "rooms": ["lobby"],
                                         "run": "external", "token": "parrot-token", "settings": {"word": "x"}}])
    path.write_text(path.read_text().replace("- guests", "- users\n    - guests"))
    done = roomchat("check", str(path))
    assert done.returncode == 0, done.stderr
    assert warnings_of(done) == [("bots.0.kind: no bot of kind 'parrot' is installed here, so its settings are not "
                                 "checked; `roomchat bot run --config` checks them where it runs (or load its plugin "
                                 "under plugins.load)")]
