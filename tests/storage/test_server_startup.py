"""Start-up and shutdown of the storage in ``roomchat serve``.

- ``make run`` on a fresh clone: the default config keeps history in
  ``config/data/roomchat.sqlite3`` with nothing to set up, and a SIGTERM writes
  what was queued before the process ends (these tests unset the
  ``ROOMCHAT_DATA_DIR`` that tests/conftest.py sets for every test);
- ``$ROOMCHAT_DATA_DIR`` and ``roomchat serve --data DIR`` move that default
  database into DIR (not a ``storage.url`` the config sets), and ``roomchat
  export`` and ``roomchat bot run`` find it there too;
- a database that cannot be reached stops start-up: one line saying what to do,
  a non-zero exit, no traceback (a server that cannot load its bans admits nobody).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from roomchat.storage.config import DATA_DIR_ENV
from roomchat.storage.database import open_database
from roomchat.testing import ChatClient, RoomchatProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _the_real_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``$ROOMCHAT_DATA_DIR`` here (tests/conftest.py sets one for every test): these test the default itself."""
    monkeypatch.delenv(DATA_DIR_ENV)


async def kept_values(file: Path) -> list[str]:
    db = await open_database(f"sqlite+aiosqlite:///{file}", migrate=False)
    try:
        async with db.transaction(readonly=True) as conn:
            return [row.value for row in await conn.execute(text("SELECT value FROM messages ORDER BY seq"))]
    finally:
        await db.close()


def test_the_default_config_keeps_history_beside_it_with_nothing_to_set_up(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config", ignore=shutil.ignore_patterns("data"))  # a fresh clone's
    config = tmp_path / "config" / "roomchat.yaml"
    server = RoomchatProcess(config).start()
    try:
        with ChatClient(server.url, room="lobby", name="Ann") as ann:
            assert ann.broadcast("text", "kept")["msg"] == "Message sent"
    finally:
        server.stop()  # SIGTERM: what is queued is written before the process ends
    file = tmp_path / "config" / "data" / "roomchat.sqlite3"
    assert file.is_file()
    assert '"kept"' in asyncio.run(kept_values(file))  # with the greeter's welcome to Ann, before or after it


def shipped_config_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config", ignore=shutil.ignore_patterns("data"))
    return tmp_path / "config" / "roomchat.yaml"


def say(server: RoomchatProcess, text: str) -> None:
    with ChatClient(server.url, room="lobby", name="Ann") as ann:
        assert ann.broadcast("text", text)["msg"] == "Message sent"


def exported(config: Path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "roomchat", "export", "--room", "lobby", "--config", str(config),
                           *args], check=False, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return [json.loads(line)["value"] for line in done.stdout.splitlines()]


def test_roomchat_data_dir_moves_the_default_database_out_of_the_config_folder(tmp_path: Path) -> None:
    config = shipped_config_copy(tmp_path)
    volume = tmp_path / "volume"  # a container's data volume, say; made on start-up
    env = {DATA_DIR_ENV: str(volume)}
    with RoomchatProcess(config, env=env) as server:
        say(server, "on the volume")
    assert (volume / "roomchat.sqlite3").is_file()
    assert not (tmp_path / "config" / "data").exists()
    assert '"on the volume"' in asyncio.run(kept_values(volume / "roomchat.sqlite3"))  # (and the greeter's welcome)
    with RoomchatProcess(config, env=env) as again, \
            ChatClient(again.url, auth={"room": "lobby", "name": "Bob", "history": 50}) as bob:
        history = bob.wait_for("history")["data"]["messages"]  # a restart on the same variable: the same database
        assert "on the volume" in [m["message"]["value"] for m in history]
    assert "on the volume" in exported(config, env=env)  # roomchat export reads the same file
    assert "on the volume" in exported(config, "--data", str(volume))
    assert not (tmp_path / "config" / "data").exists()


def test_serve_data_overrides_the_variable_but_not_a_url_the_config_sets(tmp_path: Path) -> None:
    config = shipped_config_copy(tmp_path)
    flag, variable = tmp_path / "flag", tmp_path / "variable"
    with RoomchatProcess(config, env={DATA_DIR_ENV: str(variable)}, args=["--data", str(flag)]) as server:
        say(server, "where --data says")
    assert '"where --data says"' in asyncio.run(kept_values(flag / "roomchat.sqlite3"))
    assert not variable.exists() and not (tmp_path / "config" / "data").exists()

    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("storage:\n  url: sqlite:///mine/chat.sqlite3\nrooms:\n  lobby:\n    admit: [guests]\n",
                        encoding="utf-8")
    with RoomchatProcess(explicit, env={DATA_DIR_ENV: str(variable)}, args=["--data", str(flag)]) as server:
        say(server, "where the config says")
    assert asyncio.run(kept_values(tmp_path / "mine" / "chat.sqlite3")) == ['"where the config says"']
    assert not variable.exists()


def start_failure(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roomchat", "serve", "--config", str(config), "--port", "0"],
                          check=False, capture_output=True, text=True, timeout=60)


def test_a_database_that_cannot_be_reached_stops_start_up_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "roomchat.yaml"
    config.write_text("storage:\n  url: postgresql://postgres@127.0.0.1:1/nowhere\n", encoding="utf-8")
    done = start_failure(config)
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "storage_unavailable" in line]
    assert len(lines) == 1 and "127.0.0.1:1" in lines[0] and "fix=" in lines[0] and "storage.url" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr


def test_an_sqlite_file_that_cannot_be_made_stops_start_up_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the data folder should be", encoding="utf-8")
    config = tmp_path / "roomchat.yaml"
    config.write_text("server:\n  create_rooms: true\n", encoding="utf-8")
    done = start_failure(config)
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "storage_unavailable" in line]
    assert len(lines) == 1 and "data" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr
