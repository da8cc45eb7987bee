"""What an ack promises: a process killed with SIGKILL while writing history under load loses only the
messages not yet in a committed batch (at most the last batch window's). On SQLite and on PostgreSQL.

The child (writer_child.py) enqueues numbered messages and says after each commit which was the batch's
last. The test kills it after a few commits and checks the database: every message up to the last
reported commit is there, what is there is exactly a prefix of what was sent (no hole, no duplicate, no
changed value), and nothing that was never sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from roomchat.storage.config import HistoryConfig, StorageConfig
from roomchat.storage.database import open_database
from roomchat.storage.history import History
from roomchat.storage.records import Record

CHILD = Path(__file__).with_name("writer_child.py")
COMMITS_BEFORE_KILL = 5


def test_kill_9_under_load_loses_only_the_uncommitted_window(db_url: str) -> None:
    child = subprocess.Popen([sys.executable, str(CHILD), db_url, "200000"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    last_commit, last_enqueued, commits = -1, -1, 0
    deadline = time.monotonic() + 60  # a bound on waiting for the child, not a timing claim
    try:
        assert child.stdout is not None
        while commits < COMMITS_BEFORE_KILL:
            assert time.monotonic() < deadline, "the child made no commits"
            line = child.stdout.readline()
            assert line, f"the child ended early: {child.stderr.read() if child.stderr else ''}"
            kind, index = line.split()
            if kind == "c":
                last_commit, commits = int(index), commits + 1
            else:
                last_enqueued = int(index)
        os.kill(child.pid, signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    for line in rest.splitlines():  # what the child printed before the kill reached it
        kind, index = line.split()
        if kind == "c":
            last_commit = int(index)
        else:
            last_enqueued = int(index)

    kept = asyncio.run(stored(db_url))
    values = [json.loads(record.json_value()) for record in kept]
    assert values == list(range(len(values))), "the database holds a prefix of what was sent, in order"
    assert len(values) >= last_commit + 1, "every message of a reported commit is in the database"
    assert len(values) <= last_enqueued + 1
    assert [record.seq for record in kept] == sorted({record.seq for record in kept})
    print(f"kill -9: sent {last_enqueued + 1}, committed {len(values)}, lost {last_enqueued + 1 - len(values)} "
          f"(the last reported commit ended at {last_commit})")


async def stored(url: str) -> list[Record]:
    """Every message of room ``load`` in the database, oldest first."""
    db = await open_database(url)
    try:
        reader = History(db, StorageConfig(), lambda room: HistoryConfig())
        return [record async for record in reader.store.export("load")]
    finally:
        await db.close()
