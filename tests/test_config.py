"""The YAML config: a bad file stops start-up with messages naming the file, the line, the key path
and what was expected (``roomchat check`` and ``roomchat serve``); unknown keys are errors; YAML 1.1
booleans (``yes``, ``no``, ``on``, ``off``) stay strings.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from chatkit import Joiner

from roomchat.cli import main
from roomchat.config import load_config
from roomchat.errors import ConfigError
from roomchat.testing import RoomchatProcess, free_port


def write(tmp_path: Path, text: str, name: str = "roomchat.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def check(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``roomchat check PATH`` as a process."""
    return subprocess.run([sys.executable, "-m", "roomchat", "check", str(path)], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def check_here(path: Path, capsys: pytest.CaptureFixture[str]) -> subprocess.CompletedProcess[str]:
    """``roomchat check PATH`` through the same entry point, in this process (fast)."""
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["roomchat", "check", str(path)], code, out, err)


GOOD = """\
server:
  create_rooms: false
users:
  - {ID: 1, name: Tess, role: TEACHER, token: tok-teacher-tess}
rooms:
  lobby:
    title: Lobby
    admit: [users, guests]
"""

# (YAML, the line (and column) the error is at, what its line must contain): the key path first (or
# "not valid YAML"), what was expected, what was found. The line must read FILE:LINE: KEY.PATH: ...
BAD: dict[str, tuple[str, str, list[str]]] = {
    "unknown-room-key": (
        "rooms:\n  lobby:\n    admitt: [guests]\n",
        "3", ["rooms.lobby.admitt", "unknown key"]),
    "unknown-top-key": (
        "romos:\n  lobby: {}\n",
        "1", ["romos", "unknown key"]),
    "unknown-server-key": (
        "server:\n  create_room: true\n",
        "2", ["server.create_room", "unknown key"]),
    "unknown-rate-key": (
        "rooms:\n  r:\n    rate_limit: {messages: 5, seconds: 10}\n",
        "3", ["rooms.r.rate_limit.seconds", "unknown key"]),
    "unknown-user-key": (
        "users:\n  - {ID: 1, name: Tess, role: TEACHER, token: tok-teacher-tess, email: t@example.org}\n",
        "2", ["users.0.email", "unknown key"]),
    "negative-max-users": (
        "rooms:\n  r:\n    max_users: -1\n",
        "3", ["rooms.r.max_users", "greater than 0", "-1"]),
    "bad-message-types": (
        "rooms:\n  r:\n    message_types: closed\n",
        "3", ["rooms.r.message_types", "'open' or 'known'", "closed"]),
    "bad-admit": (
        "rooms:\n  r:\n    admit: [everyone]\n",
        "3", ["rooms.r.admit.0", "'users', 'jwt' or 'guests'", "everyone"]),
    "bad-role": (
        "users:\n  - {ID: 1, name: Tess, role: BOSS, token: tok-teacher-tess}\n",
        "2", ["users.0.role", "'ADMIN', 'TEACHER' or 'STUDENT'", "BOSS"]),
    "bad-room-role": (
        "rooms:\n  r:\n    roles: [TEACHER, PARENT]\n",
        "3", ["rooms.r.roles.1", "PARENT"]),
    "missing-user-name": (
        "users:\n  - {ID: 1, role: TEACHER, token: tok-teacher-tess}\n",
        "2", ["users.0.name", "required"]),
    "short-token": (
        "users:\n  - {ID: 1, name: Tess, role: TEACHER, token: abc}\n",
        "2", ["users.0.token", "at least 8"]),
    "duplicate-ids": (
        ("users:\n  - {ID: 1, name: A, role: TEACHER, token: tok-aaaaaaaa}\n"
        "  - {ID: 1, name: B, role: STUDENT, token: tok-bbbbbbbb}\n"),
        "3", ["users.1.ID", "listed twice", "users.0.ID"]),
    "id-in-guest-range": (
        "auth: {guest_id_start: 100}\nusers:\n  - {ID: 100, name: A, role: TEACHER, token: tok-aaaaaaaa}\n",
        "3", ["users.0.ID", "guest range", "guest_id_start"]),
    "bot-id-twice": (
        ("bots:\n  - {kind: echo, ID: 900, name: One, rooms: [r]}\n"
         "  - {kind: echo, ID: 900, name: Two, rooms: [r]}\n"),
        "3", ["bots.1.ID", "listed twice", "bots.0.ID"]),
    "bot-has-a-users-id": (
        ("users:\n  - {ID: 7, name: A, role: TEACHER, token: tok-aaaaaaaa}\n"
         "bots:\n  - {kind: echo, ID: 7, name: Echo, rooms: [r]}\n"),
        "4", ["bots.0.ID", "listed twice", "users.0.ID"]),
    "bot-in-guest-range": (
        "auth: {guest_id_start: 100}\nbots:\n  - {kind: echo, ID: 100, name: Echo, rooms: [r]}\n",
        "3", ["bots.0.ID", "guest range", "guest_id_start"]),
    "guest-ids-past-javascript": (
        "auth: {guest_id_start: 9000000000000000}\n",
        "1", ["auth.guest_id_start", "2**53", "JavaScript"]),
    "name-with-a-control-character": (
        'users:\n  - {ID: 1, name: "Tess\\nAdmin", role: TEACHER, token: tok-aaaaaaaa}\n',
        "2", ["users.0.name", "control characters"]),
    "name-of-invisible-characters": (
        'bots:\n  - {kind: echo, ID: 900, name: "\\u200b\\u202e", rooms: [r]}\n',
        "2", ["bots.0.name", "visible character"]),
    "name-too-long": (
        "users:\n  - {ID: 1, name: " + "x" * 65 + ", role: TEACHER, token: tok-aaaaaaaa}\n",
        "2", ["users.0.name", "at most 64"]),
    "zero-id": (
        "users:\n  - {ID: 0, name: Room, role: ADMIN, token: tok-aaaaaaaa}\n",
        "2", ["users.0.ID", "greater than 0"]),
    "not-a-number": (
        "server:\n  port: eighty\n",
        "2", ["server.port", "integer", "eighty"]),
    "port-out-of-range": (
        "server:\n  port: 70000\n",
        "2", ["server.port", "65535"]),
    "bool-expected": (
        "server:\n  create_rooms: maybe\n",
        "2", ["server.create_rooms", "boolean", "maybe"]),
    "rooms-a-list": (
        "rooms: [lobby]\n",
        "1", ["rooms", "dictionary"]),
    "top-level-a-list": (
        "- rooms\n",
        "1", ["(top level)", "dictionary"]),
    "yaml-syntax": (
        "rooms:\n  lobby: {admit: [guests]\n",
        "3:1", ["not valid YAML", "expected ',' or '}'"]),
    "tab-indent": (
        "rooms:\n\tlobby: {}\n",
        "2:1", ["not valid YAML", "found character"]),
    "missing-env-token": (
        "users:\n  - {ID: 1, name: Tess, role: TEACHER, token: {env: RC_TEST_NOT_SET_ANYWHERE}}\n",
        "2", ["users.0.token", "RC_TEST_NOT_SET_ANYWHERE", "not set"]),
    "bad-env-ref": (
        "users:\n  - {ID: 1, name: Tess, role: TEACHER, token: {variable: X}}\n",
        "2", ["users.0.token"]),
}


def test_the_default_config_is_valid(repo_root: Path, clean_env: dict[str, str]) -> None:
    done = check(repo_root / "config" / "roomchat.yaml", clean_env)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def test_a_good_config_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD)
    done = check_here(path, capsys)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{path}: OK") and "1 rooms" in done.stdout and "1 users" in done.stdout


def test_check_exits_2_on_a_bad_file(tmp_path: Path, clean_env: dict[str, str]) -> None:
    path = write(tmp_path, BAD["unknown-room-key"][0])
    done = check(path, clean_env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"{path}: invalid configuration",
                                        f"{path}:3: rooms.lobby.admitt: unknown key (check its spelling, or remove it)"]


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_config_names_file_key_and_expectation(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      case: str) -> None:
    text, where, expected = BAD[case]
    path = write(tmp_path, text)
    done = check_here(path, capsys)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.startswith(f"{path}: invalid configuration\n")
    line = next((line for line in done.stderr.splitlines() if line.startswith(f"{path}:{where}: {expected[0]}")), None)
    assert line is not None, (where, expected[0], done.stderr)
    for part in expected:
        assert part in line, (part, line)
    assert "Traceback" not in done.stderr
    assert "roomchat check" not in done.stderr, "no hint to run the command that just ran"


def test_every_problem_is_listed_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "server:\n  port: -5\n  colour: blue\nrooms:\n  r:\n    max_users: 0\n")
    done = check_here(path, capsys)
    assert done.returncode == 2
    for part in ("2: server.port", "3: server.colour", "6: rooms.r.max_users"):
        assert f"{path}:{part}: " in done.stderr


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.yaml"
    done = check_here(path, capsys)
    assert done.returncode == 2 and done.stderr == f"roomchat check: there is no config file at {path}; " \
                                                   "give one: roomchat check FILE\n"


def test_an_empty_file_is_the_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_here(write(tmp_path, ""), capsys).returncode == 0


def test_serve_with_a_bad_file_exits_with_the_message(tmp_path: Path, clean_env: dict[str, str]) -> None:
    path = write(tmp_path, "rooms:\n  lobby:\n    max_users: lots\n")
    port = free_port()
    done = subprocess.run([sys.executable, "-m", "roomchat", "serve", "--config", str(path), "--port", str(port)],
                          capture_output=True, text=True, env=clean_env, timeout=60, check=False)
    assert done.returncode == 2
    assert f"{path}:3: rooms.lobby.max_users: " in done.stderr and "lots" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_with_a_missing_token_variable_exits(tmp_path: Path, clean_env: dict[str, str]) -> None:
    path = write(tmp_path, "users:\n  - {ID: 1, name: Tess, role: TEACHER, token: {env: RC_TEST_UNSET_TOKEN}}\n")
    with pytest.raises(RuntimeError) as info:
        RoomchatProcess(path, env=clean_env).start()
    assert "RC_TEST_UNSET_TOKEN" in str(info.value) and f"{path}:2: users.0.token: " in str(info.value)


# -- YAML 1.1 booleans stay strings ------------------------------------------------------------


YES_NO = """\
server:
  create_rooms: yes          # a real boolean field still accepts yes
users:
  - {ID: 1, name: no, role: TEACHER, token: tok-teacher-tess}
  - {ID: 2, name: Yes, role: STUDENT, token: tok-student-yes}
  - {ID: 3, name: off, role: STUDENT, token: tok-student-off}
rooms:
  no:
    title: yes
    admit: [users, guests]
"""


def test_yes_and_no_stay_strings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, YES_NO))
    assert [u.name for u in config.users] == ["no", "Yes", "off"]
    assert list(config.rooms) == ["no"] and config.rooms["no"].title == "yes"
    assert config.server.create_rooms is True


def test_yes_and_no_on_the_wire(tmp_path: Path) -> None:
    with RoomchatProcess(write(tmp_path, YES_NO)) as server:
        joiner = Joiner(server, "websocket")
        try:
            assert joiner("no", token="tok-teacher-tess").me == {"ID": 1, "role": "TEACHER", "name": "no"}
            assert joiner("no", token="tok-student-yes").users[1]["name"] == "Yes"
        finally:
            joiner.close_all()


def test_true_and_false_are_still_booleans(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "users:\n  - {ID: 1, name: true, role: TEACHER, token: tok-aaaaaaaa}\n"))
    assert "users.0.name" in str(info.value)
