"""Config errors name the line: ``config/roomchat.yaml:42: rooms.lobby.max_users: ...``.

Through the real ``roomchat`` command (``check``, ``serve``, ``bot run --settings``): the config's own keys,
plugin and bot settings checked at start-up, question banks, YAML anchors and merge keys, a key with a dot in
its name; and ``roomchat.yamlfile`` itself: YAML 1.2 booleans kept, an alias not walked twice.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from clikit import roomchat

from roomchat.config import parse_config
from roomchat.errors import ConfigError
from roomchat.positions import Problem, key_lines
from roomchat.testing import free_port
from roomchat.yamlfile import parse_yaml, read_yaml


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_lines(stderr: str) -> list[str]:
    """The problem lines of a ``roomchat`` error (the ``FILE: invalid configuration`` header left out)."""
    return [line for line in stderr.splitlines()[1:] if line.strip()]


STRUCTURE = """\
server:
  port: 8000
rooms:
  lobby:
    admit: [guests]
    max_users: 0
  lab.1:
    admit: [guests]
    colour: blue
users:
  - ID: 1
    role: TEACHER
    token: tok-teacher-tess
"""


def test_check_puts_every_problem_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "roomchat.yaml", STRUCTURE)
    done = roomchat("check", str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[0] == f"{path}: invalid configuration"
    assert sorted(error_lines(done.stderr)) == sorted([
        f"{path}:6: rooms.lobby.max_users: Input should be greater than 0 (got 0)",
        f"{path}:9: rooms.lab.1.colour: unknown key (check its spelling, or remove it)",  # a dot in the room's name
        f"{path}:11: users.0.name: Field required",  # missing: at the user's entry
    ])


PLUGIN_SETTINGS = """\
server:
  port: 8000
plugins:
  settings:
    reaction:
      allowed: ["👍", thumbs]
rooms:
  lobby:
    admit: [guests]
    plugins:
      disabled: [reactoin]
"""

BOT_SETTINGS = """\
rooms:
  lobby:
    admit: [users, guests]
bots:
  - kind: greeter
    ID: 900
    name: Greeter
    rooms: [lobby]
    settings:
      message: "Hi {nmae}"
      colour: blue
"""


@pytest.mark.parametrize("command", ["check", "serve"])
def test_plugin_settings_checked_at_start_up_name_their_lines(tmp_path: Path, command: str) -> None:
    path = write(tmp_path / "roomchat.yaml", PLUGIN_SETTINGS)
    done = roomchat(*([command, str(path)] if command == "check" else
                      [command, "--config", str(path), "--port", str(free_port())]))
    assert done.returncode == 2, done.stderr
    lines = error_lines(done.stderr)
    assert f"{path}:6: plugins.settings.reaction.allowed.1: must be a single emoji, like 👍 or 🎉 (got 'thumbs')" \
        in lines, done.stderr
    assert any(line.startswith(f"{path}:11: rooms.lobby.plugins.disabled: no plugin is called 'reactoin'")
               for line in lines), done.stderr


@pytest.mark.parametrize("command", ["check", "serve"])
def test_bot_settings_checked_at_start_up_name_their_lines(tmp_path: Path, command: str) -> None:
    path = write(tmp_path / "roomchat.yaml", BOT_SETTINGS)
    done = roomchat(*([command, str(path)] if command == "check" else
                      [command, "--config", str(path), "--port", str(free_port())]))
    assert done.returncode == 2, done.stderr
    lines = error_lines(done.stderr)
    assert any(line.startswith(f"{path}:10: bots.0.settings.message: use only the placeholders")
               for line in lines), done.stderr
    assert f"{path}:11: bots.0.settings.colour: unknown setting (check its spelling, or remove it)" in lines


def test_a_quiz_bank_names_its_own_line_inside_the_bots_settings(tmp_path: Path) -> None:
    write(tmp_path / "bank.yaml", """\
        title: Sums
        questions:
          - question: 1+1?
            answer: "2"
          - question: 2+2?
            answr: "4"
        """)
    path = write(tmp_path / "roomchat.yaml", """\
        rooms:
          class:
            admit: [users, guests]
        bots:
          - kind: quiz
            ID: 5
            name: Q
            rooms: [class]
            settings:
              banks:
                sums: bank.yaml
        """)
    done = roomchat("check", str(path))
    assert done.returncode == 2
    bank = tmp_path / "bank.yaml"
    assert error_lines(done.stderr) == [
        (f"{path}:10: bots.0.settings.banks: bank 'sums' ({bank}:6): question 2 (questions.1), key 'answr': "
        "unknown key (check its spelling, or remove it)"),
        (f"{path}:10: bots.0.settings.banks: bank 'sums' ({bank}:5): question 2 (questions.1): give either "
        "'answer' (one) or 'answers' (a list), not both and not neither"),
    ]


def test_bot_run_settings_file_names_its_lines(tmp_path: Path) -> None:
    settings = write(tmp_path / "greeter.yaml", "message: 'Hello {name}'\nmesage: typo\n")
    done = roomchat("bot", "run", "greeter", "--settings", str(settings), "--url", f"http://127.0.0.1:{free_port()}",
                    "--token", "x" * 10, "--room", "lobby")
    assert done.returncode == 2
    assert error_lines(done.stderr) == [(f"{settings}:2: settings.mesage: unknown setting (check its spelling, "
                                        "or remove it)")]


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "roomchat.yaml", """\
        rooms:
          a: &room
            admit: [guests]
            max_users: 0
          b: *room
          c:
            <<: *room
            max_users: -1
        """)
    done = roomchat("check", str(path))
    assert done.returncode == 2
    assert sorted(error_lines(done.stderr)) == sorted([
        f"{path}:4: rooms.a.max_users: Input should be greater than 0 (got 0)",
        f"{path}:5: rooms.b.max_users: Input should be greater than 0 (got 0)",  # the alias's line
        f"{path}:8: rooms.c.max_users: Input should be greater than 0 (got -1)",  # its own key, not the merged one
    ])


def test_a_syntax_error_is_at_its_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "roomchat.yaml", "rooms:\n  lobby:\n    admit: [guests\n    max_users: 3\n")
    done = roomchat("check", str(path))
    assert done.returncode == 2
    [line] = error_lines(done.stderr)
    assert line.startswith(f"{path}:4:14: not valid YAML: expected ',' or ']'"), line


# -- roomchat.yamlfile and roomchat.positions ---------------------------------------------------------


def test_yaml_12_booleans_are_kept(tmp_path: Path) -> None:
    data = read_yaml(write(tmp_path / "b.yaml", "a: no\nb: yes\nc: off\nd: true\ne: FALSE\n"))
    assert data == {"a": "no", "b": "yes", "c": "off", "d": True, "e": False}


def test_an_alias_is_walked_once(tmp_path: Path) -> None:
    """Nine levels of ten aliases are 10**9 paths in the data; their key lines are a few dozen."""
    levels = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = write(tmp_path / "laughs.yaml", "\n".join(levels) + "\n")
    data = read_yaml(path)
    assert len(data["l8"]) == 10 and data["l8"][0] is data["l7"]  # shared, as PyYAML builds it
    lines = key_lines(str(path))
    assert lines is not None and len(lines.lines) <= 9 * 11
    assert lines.line_of_key(["l8", 9, 9, 9]) == 8  # an alias item: at its anchor (l7's line), insides not walked
    assert lines.line_of_key(["l8"]) == 9


def test_a_config_not_read_from_a_file_has_no_lines() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"rooms": {"lobby": {"max_users": 0}}}, "<test>")
    assert str(info.value) == ("<test>: invalid configuration\n"
                               "  - rooms.lobby.max_users: Input should be greater than 0 (got 0)")
    assert info.value.places == ["<test>"]


def test_reading_a_file_again_replaces_its_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "roomchat.yaml", "rooms:\n  lobby:\n    max_users: 0\n")
    read_yaml(path)
    write(path, "# moved down\n\nrooms:\n  lobby:\n    max_users: 0\n")
    with pytest.raises(ConfigError) as info:
        parse_config(read_yaml(path), str(path))
    assert info.value.places == [f"{path}:5"]


def test_a_problem_stays_a_string() -> None:
    problem = Problem("question 2 (questions.1): no answer", key=("questions", 1))
    assert problem == "question 2 (questions.1): no answer" and problem.startswith("question 2")
    text = parse_yaml("questions:\n  - q\n  - r\n", "<bank>")
    assert text == {"questions": ["q", "r"]}
    error = ConfigError("<bank>", [problem, "questions: too few"])
    assert error.places == ["<bank>:3", "<bank>:1"]
