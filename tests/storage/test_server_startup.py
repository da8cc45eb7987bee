"""Start-up and shutdown of the storage in ``roomchat serve``.

- ``make run`` on a fresh clone: the default config keeps history in
  ``config/data/roomchat.sqlite3`` with nothing to set up, and a SIGTERM writes
  what was queued before the process ends;
- a database that cannot be reached stops start-up: one line saying what to do,
  a non-zero exit, no traceback (a server that cannot load its bans admits nobody).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from roomchat.storage.database import open_database
from roomchat.testing import ChatClient, RoomchatProcess

ROOT = Path(__file__).resolve().parents[2]


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
    assert asyncio.run(kept_values(file))[-1] == '"kept"'  # after the greeter's welcome to Ann


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
