"""docs/protocol.md is the protocol a clone carries: complete, and its examples run.

The names it must list are taken from the code, not from a list kept here:
event names from the constants of roomchat/protocol.py, join keys from the
fields of ``protocol.JoinRequest``, and refusal codes from every
``Refusal(...)``, ``ctx.refuse(...)``, ``Refusal`` subclass and refused
connection in roomchat/, plugins/ and bots/. Its JavaScript and Python
examples (the README shows the same two) run against ``roomchat serve`` with
the default config, and a refused join ends in a sentence, not a traceback.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from roomchat import protocol
from roomchat.testing import RoomchatProcess

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
JS_DIR = ROOT / "tests" / "js"
NODE, NPM = shutil.which("node"), shutil.which("npm")
DEFAULT_URL = "http://127.0.0.1:8000"


def section(title: str) -> str:
    """The text under the doc's heading ``title`` (any level), up to the next heading of that level or higher."""
    found = re.search(rf"^(#+) {re.escape(title)}.*\n", DOC, re.MULTILINE)
    assert found, f"docs/protocol.md has no section {title!r}"
    body = DOC[found.end():]
    end = re.search(rf"^#{{1,{len(found.group(1))}}} ", body, re.MULTILINE)
    return body[:end.start()] if end else body


def table_names(text: str) -> set[str]:
    """The names in the first column of the tables in ``text`` (``| `name` | ...``)."""
    return set(re.findall(r"^\| `([a-z_-]+)` \|", text, re.MULTILINE))


def event_names() -> set[str]:
    """Every event name roomchat/protocol.py defines (its module constants that name events)."""
    return {value for name, value in vars(protocol).items()
            if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z]+(?:-[a-z]+)*", value)}


def join_keys() -> set[str]:
    """The keys a join reads from ``auth`` or the query string: the fields of ``JoinRequest``."""
    return {field.name for field in dataclasses.fields(protocol.JoinRequest)}


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _first_string(node: ast.Call) -> str | None:
    first = node.args[0] if node.args else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def refusal_codes() -> dict[str, set[str]]:
    """Every refusal code the server's code can send, and where it is used."""
    codes: dict[str, set[str]] = {}
    for folder in ("roomchat", "plugins", "bots"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            refusal_classes = {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                               and any(isinstance(b, ast.Name) and b.id == "Refusal" for b in node.bases)}
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name in refusal_classes:
                    calls = [c for c in ast.walk(node) if isinstance(c, ast.Call) and _called(c) == "__init__"]
                elif isinstance(node, ast.Call) and _called(node) in ("Refusal", "refuse"):
                    calls = [node]
                elif isinstance(node, ast.Call) and _called(node) == "ConnectionRefusedError":
                    calls = [node]
                    for arg in node.args[1:]:
                        if isinstance(arg, ast.Dict):
                            for key, value in zip(arg.keys, arg.values, strict=True):
                                if isinstance(key, ast.Constant) and key.value == "code" and isinstance(value, ast.Constant):
                                    codes.setdefault(value.value, set()).add(str(path.relative_to(ROOT)))
                    continue
                else:
                    continue
                for call in calls:
                    code = _first_string(call)
                    if code is not None:
                        codes.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    return codes


def test_the_code_scan_finds_what_it_should() -> None:
    """The scans themselves: a change in the code's shape must not make them find nothing."""
    assert {"initial-response", "user-connected", "user-disconnected", "message", "error-response",
            "broadcast-message"} <= event_names()
    assert {"room", "token", "name"} <= join_keys()
    assert {"room_required", "unauthorized", "invalid_message", "validation_failed", "muted", "banned",
            "unavailable", "rate_limited"} <= set(refusal_codes())


@pytest.mark.parametrize("name", sorted(event_names()))
def test_every_event_is_documented(name: str) -> None:
    assert f"`{name}`" in section("Events you receive") + section("Events you send"), name


def test_every_join_key_is_in_the_join_table() -> None:
    assert join_keys() <= table_names(section("Joining a room"))


def test_the_refusal_tables_list_exactly_the_codes_the_server_uses() -> None:
    documented = table_names(section("Refused joins")) | table_names(section("Acks and refusals"))
    used = refusal_codes()
    missing = {code: sorted(where) for code, where in used.items() if code not in documented}
    assert not missing, f"refusal codes used but not in docs/protocol.md: {missing}"
    assert documented <= set(used), f"documented but never sent: {documented - set(used)}"


def example(text: str, language: str) -> str:
    """The body of the code block marked ``<!-- example: <language> ... -->``."""
    found = re.search(rf"<!-- example: {language}[^>]*-->\n```[a-z]*\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert found, f"no {language} example"
    return found.group(1)


@pytest.mark.parametrize("language", ["javascript", "python"])
def test_the_readme_shows_the_same_examples(language: str) -> None:
    assert example(README, language) == example(DOC, language)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``roomchat serve`` with the default config, as ``make run`` serves it (its database in a folder of its own)."""
    data = {"ROOMCHAT_DATA_DIR": str(tmp_path_factory.mktemp("data"))}
    with RoomchatProcess(ROOT / "config" / "roomchat.yaml", env=data) as process:
        yield process


def run_example(command: list[str], script: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, str(script)], capture_output=True, text=True, timeout=60, check=False,
                          cwd=script.parent, env={**os.environ, **(env or {})})


def written(tmp_path: Path, name: str, code: str, url: str, room: str = "lobby") -> Path:
    assert DEFAULT_URL in code and '"lobby"' in code
    script = tmp_path / name
    script.write_text(code.replace(DEFAULT_URL, url).replace('"lobby"', json.dumps(room)), encoding="utf-8")
    return script


def check_walk_through(output: str) -> None:
    assert "in the room: Greeter (902), Ann (" in output, output
    assert "broadcast: Message sent" in output and "direct: Message sent" in output, output
    assert re.search(r"message from \d+: \"?a note to myself", output), output


def test_the_python_example_runs(server, tmp_path: Path) -> None:
    done = run_example([sys.executable], written(tmp_path, "chat.py", example(DOC, "python"), server.url))
    assert done.returncode == 0, done.stderr
    check_walk_through(done.stdout)
    # the lobby's greeter welcomes Ann, by name, privately
    assert "message from 902: Welcome to the lobby, Ann!" in done.stdout


def test_the_python_example_reports_a_refusal_in_one_line(server, tmp_path: Path) -> None:
    script = written(tmp_path, "chat.py", example(DOC, "python"), server.url, room="classroom")
    done = run_example([sys.executable], script)
    assert done.returncode == 1
    assert done.stderr.strip() == "refused: Room 'classroom' needs a token; guests may not enter (unauthorized)"


@pytest.fixture(scope="module")
def socket_io_client() -> Path:
    """tests/js/node_modules with socket.io-client 4.x (installed on first use, as tests/test_js_client.py does)."""
    if NODE is None or NPM is None:
        pytest.skip("node and npm are needed to run socket.io-client (install Node.js 18 or later)")
    installed = JS_DIR / "node_modules" / "socket.io-client" / "package.json"
    if not installed.exists():
        done = subprocess.run([NPM, "install", "--prefix", str(JS_DIR), "--no-audit", "--no-fund",
                               "--no-package-lock", "--loglevel=error"],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"npm install socket.io-client failed:\n{done.stderr}"
    assert json.loads(installed.read_text())["version"].startswith("4.")
    return JS_DIR / "node_modules"


def test_the_javascript_example_runs(server, socket_io_client: Path, tmp_path: Path) -> None:
    script = written(tmp_path, "chat.cjs", example(DOC, "javascript"), server.url)
    done = run_example([NODE or "node"], script, env={"NODE_PATH": str(socket_io_client)})
    assert done.returncode == 0, done.stdout + done.stderr
    check_walk_through(done.stdout)


def test_the_javascript_example_reports_a_refusal(server, socket_io_client: Path, tmp_path: Path) -> None:
    script = written(tmp_path, "chat.cjs", example(DOC, "javascript"), server.url, room="classroom")
    done = run_example([NODE or "node"], script, env={"NODE_PATH": str(socket_io_client)})
    assert done.returncode == 1
    assert done.stdout.strip() == "refused: Room 'classroom' needs a token; guests may not enter (unauthorized)"
