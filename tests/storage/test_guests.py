"""Guest IDs through the database: never one given before, by any process, whatever the clock says."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event

from roomchat.state.base import guest_id_floor
from roomchat.storage.database import open_database
from roomchat.storage.guests import ID_BLOCK, NUMBER_BLOCK, DatabaseGuestIds

pytestmark = pytest.mark.anyio
START = 1_000_000


async def test_ids_follow_the_clock_and_never_repeat_across_processes(db_url: str) -> None:
    dbs = [await open_database(db_url) for _ in range(2)]
    try:
        a, b = (DatabaseGuestIds(db, START) for db in dbs)
        given = await asyncio.gather(*(x.allocate() for _ in range(20) for x in (a, b)))
        ids = [g.id for g in given]
        assert len(set(ids)) == 40 and min(ids) >= guest_id_floor(START) - 10**7
        numbers = [g.number for g in given]
        assert len(set(numbers)) == 40 and min(numbers) == 1  # each process numbers from its own block
    finally:
        for db in dbs:
            await db.close()


async def test_a_clock_set_back_does_not_reuse_an_id(db_url: str) -> None:
    db = await open_database(db_url)
    before = await DatabaseGuestIds(db, START).allocate()
    await db.close()
    db = await open_database(db_url)  # restarted, with the clock an hour behind
    try:
        behind = DatabaseGuestIds(db, START, now_us=lambda: before.id - START - 3_600_000_000)
        after = await behind.allocate()
        assert after.id > before.id and after.number > before.number  # above the first process's blocks
        assert after.number - before.number <= NUMBER_BLOCK
        assert await behind.highest() >= after.id
        await behind.remember(after.id + 10 * ID_BLOCK)  # a cluster writes Redis' counter back
        again = DatabaseGuestIds(db, START, now_us=lambda: before.id - START - 3_600_000_000)
        assert (await again.allocate()).id == after.id + 10 * ID_BLOCK + 1
    finally:
        await db.close()


async def test_a_burst_of_guests_costs_a_transaction_per_block_not_per_guest(db_url: str) -> None:
    """A class arriving at once: every join used to wait for a transaction of its own, one after the other."""
    db = await open_database(db_url)
    commits: list[int] = []
    event.listen(db.engine.sync_engine, "commit", lambda conn: commits.append(1))
    clock = [guest_id_floor(0)]  # a clock that stands still: the whole burst within one block of IDs
    try:
        ids = DatabaseGuestIds(db, START, now_us=lambda: clock[0])
        given = await asyncio.gather(*(ids.allocate() for _ in range(100)))
        assert [g.id for g in given] == list(range(given[0].id, given[0].id + 100))
        assert [g.number for g in given] == list(range(1, 101))
        assert len(commits) == 1 + 100 // NUMBER_BLOCK  # the IDs' block (with the first numbers), then numbers
        clock[0] += ID_BLOCK  # the clock passes the block: the next ID follows it, from a new block
        assert (await ids.allocate()).id == START + clock[0]
    finally:
        await db.close()


async def test_the_clock_alone_while_the_database_is_down() -> None:
    from roomchat.storage.database import Database, create_engine

    down = Database(create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none"))
    try:
        ids = DatabaseGuestIds(down, START)
        first, second = await ids.allocate(), await ids.allocate()
        assert first.id >= guest_id_floor(START) - 10**7 and second.id > first.id
        assert (first.number, second.number) == (1, 2)
    finally:
        await down.close()
