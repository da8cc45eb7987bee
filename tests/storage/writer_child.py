"""A process that writes history under load until killed: tests/storage/test_kill.py kills it with SIGKILL.

    python writer_child.py DRIVER_URL COUNT

Enqueues COUNT messages (value = their index) into room ``load`` in bursts, as a busy server's delivery
would, printing ``e <index>`` after each enqueue and ``c <index>`` after each commit (the index of the
batch's last message), every line flushed at once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from roomchat.storage.config import HistoryConfig, StorageConfig
from roomchat.storage.database import open_database
from roomchat.storage.history import History
from roomchat.storage.records import Record


class Reporting(History):
    async def _committed(self, batch: Sequence[Record]) -> None:
        print(f"c {batch[-1].value}", flush=True)


async def main(url: str, count: int) -> None:
    db = await open_database(url)
    history = Reporting(db, StorageConfig(batch_window=0.02), lambda room: HistoryConfig())
    await history.start()
    for index in range(count):
        seq = history.assign()
        history.record("load", seq, 1, None, "text", index, 1_800_000_000_000 + index)
        print(f"e {index}", flush=True)
        if index % 100 == 99:
            await asyncio.sleep(0.001)  # let the writer run between bursts, as delivery's awaits do
    await history.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
