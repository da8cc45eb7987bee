"""The data owners' commands as a person runs them, on SQLite and PostgreSQL: ``roomchat db upgrade`` and
``db status``, ``roomchat export --room`` (JSON Lines), ``roomchat purge --user``; and ``roomchat check``
knowing the new keys.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from roomchat.storage.config import HistoryConfig, StorageConfig
from roomchat.storage.database import open_database
from roomchat.storage.history import History

ANN, BOB = 41, 42


def roomchat(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roomchat", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def config_for(db_url: str, folder: Path) -> Path:
    """A config file naming the database as a person writes it (no driver in the URL; SQLite relative)."""
    if db_url.startswith("sqlite"):
        url = "sqlite:///data/roomchat.sqlite3"  # relative to the config file's folder
        assert db_url.endswith(str(folder / "data" / "roomchat.sqlite3"))
    else:
        url = db_url.replace("+asyncpg", "")
    path = folder / "chat.yaml"
    path.write_text(f"storage:\n  url: {url}\nrooms:\n  lobby:\n    history: {{keep: 50, max_age: 7d}}\n")
    return path


def fill(db_url: str) -> None:
    async def main() -> None:
        db = await open_database(db_url)
        history = History(db, StorageConfig(), lambda room: HistoryConfig())
        for sender, to, value in [(ANN, None, "hello"), (BOB, ANN, "psst"), (ANN, None, {"n": "ünïcode"}),
                                  (BOB, None, "bye")]:
            history.record("lobby", history.assign(), sender, to, "text", value, 1_800_000_000_000)
        history.record("other", history.assign(), ANN, None, "text", "elsewhere", 1_800_000_000_000)
        await history.writer.drain()
        await db.close()

    asyncio.run(main())


def test_db_upgrade_and_status(db_url: str, tmp_path: Path) -> None:
    config = config_for(db_url, tmp_path)
    if db_url.startswith("sqlite"):
        before = roomchat("db", "status", "--config", str(config), cwd=tmp_path)
        assert before.returncode == 1 and "needs `roomchat db upgrade`" in before.stdout
        first = roomchat("db", "upgrade", "--config", str(config), cwd=tmp_path)
        assert first.returncode == 0 and "migrated from an empty database to revision" in first.stdout
        assert (tmp_path / "data" / "roomchat.sqlite3").is_file()
    again = roomchat("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 0 and "already at revision" in again.stdout, again.stderr
    status = roomchat("db", "status", "--config", str(config), cwd=tmp_path)
    assert status.returncode == 0 and "up to date" in status.stdout
    assert "@" not in status.stdout or "***" in status.stdout or "postgres@" in status.stdout


def test_export_writes_json_lines(db_url: str, tmp_path: Path) -> None:
    config = config_for(db_url, tmp_path)
    fill(db_url)
    result = roomchat("export", "--room", "lobby", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["from"], r["to"], r["value"]) for r in rows] == [
        (ANN, None, "hello"), (BOB, ANN, "psst"), (ANN, None, {"n": "ünïcode"}), (BOB, None, "bye")]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert {r["room"] for r in rows} == {"lobby"} and "4 messages of room 'lobby'" in result.stderr
    out = tmp_path / "lobby.jsonl"
    assert roomchat("export", "--room", "lobby", "--out", str(out), "--config", str(config),
                    cwd=tmp_path).returncode == 0
    assert out.read_text(encoding="utf-8") == result.stdout


def test_purge_deletes_a_users_messages(db_url: str, tmp_path: Path) -> None:
    config = config_for(db_url, tmp_path)
    fill(db_url)
    result = roomchat("purge", "--user", str(ANN), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0 and "4 messages of user 41 deleted" in result.stdout, result.stderr
    left = roomchat("export", "--room", "lobby", "--config", str(config), cwd=tmp_path).stdout
    assert [json.loads(line)["value"] for line in left.splitlines()] == ["bye"]
    bad = roomchat("purge", "--user", "0", "--config", str(config), cwd=tmp_path)
    assert bad.returncode == 2 and "--user must be a user's ID" in bad.stderr


def test_a_database_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "chat.yaml"
    config.write_text("storage:\n  url: postgresql://postgres@127.0.0.1:1/nothing\n")
    result = roomchat("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("roomchat db: the database postgresql+asyncpg://postgres@127.0.0.1:1/nothing "
                                    "cannot be used")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_roomchat_check_knows_the_keys(db_url: str, tmp_path: Path) -> None:
    config = config_for(db_url, tmp_path)
    assert roomchat("check", str(config), cwd=tmp_path).returncode == 0
    config.write_text("storage:\n  url: mysql://x/y\nrooms:\n  lobby:\n    history: sometimes\n")
    result = roomchat("check", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "storage.url: must start with sqlite:/// or postgresql://" in result.stderr
    assert "rooms.lobby.history: expected off, on, or {keep: 1000, max_age: 30d}" in result.stderr
