"""The durable key-value store on SQLite and PostgreSQL: today's KeyValueStore operations (get/set with a TTL,
delete, hashes, incr), the same after a restart, namespaces, and a bot's store (a quiz's season leaderboard).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from roomchat.state.memory import MemoryKeyValue
from roomchat.storage.database import Database, open_database
from roomchat.storage.errors import StorageError
from roomchat.storage.kv import DatabaseKeyValue, Entry, MirroredKeyValue, Namespaced

pytestmark = pytest.mark.anyio


class Clock:
    """Seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_values_with_and_without_ttl(db: Database) -> None:
    clock = Clock()
    store = DatabaseKeyValue(db, clock)
    await store.set("poll", {"question": "Lunch?", "options": ["Pizza", "Soup"]})
    await store.set("short", [1, "two"], ttl=10)
    assert await store.get("poll") == {"question": "Lunch?", "options": ["Pizza", "Soup"]}
    assert await store.get_many(["short", "missing", "poll"]) == [[1, "two"], None, await store.get("poll")]
    clock.now += 10
    assert await store.get("short") is None
    await store.set("poll", "replaced")
    assert await store.get("poll") == "replaced"
    assert await store.delete("poll") is True
    assert await store.delete("poll") is False
    assert await store.get("poll") is None


async def test_hashes(db: Database) -> None:
    clock = Clock()
    store = DatabaseKeyValue(db, clock)
    assert await store.hash_set("votes", "7", 1, only_if_new=True, ttl=100) is True
    assert await store.hash_set("votes", "7", 2, only_if_new=True) is False
    assert await store.hash_set("votes", "8", {"option": 0}) is True
    assert await store.hash_get_all("votes") == {"7": 1, "8": {"option": 0}}
    clock.now += 100  # the first hash_set's ttl holds for the whole hash
    assert await store.hash_get_all("votes") == {}
    assert await store.hash_set("votes", "9", 3, only_if_new=True) is True  # a new hash, without the old fields
    assert await store.hash_get_all("votes") == {"9": 3}
    await store.set("plain", 1)
    with pytest.raises(StorageError, match="not a hash"):
        await store.hash_set("plain", "f", 1)


async def test_incr_is_atomic_and_keeps_the_expiry(db_url: str) -> None:
    clock = Clock()
    dbs = [await open_database(db_url) for _ in range(3)]  # three servers' connections on one database
    try:
        stores = [DatabaseKeyValue(db, clock) for db in dbs]
        results = await asyncio.gather(*(stores[i % 3].incr("count") for i in range(60)))
        assert sorted(results) == list(range(1, 61))
        assert await stores[0].incr("count", 40) == 100
        await stores[0].set("timed", 5, ttl=10)
        assert await stores[1].incr("timed") == 6
        clock.now += 10
        assert await stores[2].get("timed") is None
        assert await stores[2].incr("timed") == 1  # expired: starts again from 0, with no expiry
        clock.now += 1000
        assert await stores[0].get("timed") == 1
    finally:
        for db in dbs:
            await db.close()


async def test_state_survives_a_restart(db_url: str) -> None:
    clock = Clock()
    db = await open_database(db_url)
    store = Namespaced(DatabaseKeyValue(db, clock), "moderation")
    await store.set("ban:lobby:7", {"until": clock.now + 600, "by": 1}, ttl=600)
    await store.hash_set("offences:lobby", "7", 2)
    await db.close()

    clock.now += 300  # the restart took five minutes
    db = await open_database(db_url)
    try:
        store = Namespaced(DatabaseKeyValue(db, clock), "moderation")
        assert await store.get("ban:lobby:7") == {"until": 1_800_000_600.0, "by": 1}
        assert await store.hash_get_all("offences:lobby") == {"7": 2}
        clock.now += 300  # the ban's TTL counts from when it was set, not from the restart
        assert await store.get("ban:lobby:7") is None
    finally:
        await db.close()


async def test_namespaces_keep_plugins_apart(db: Database) -> None:
    base = DatabaseKeyValue(db)
    poll, quiz = Namespaced(base, "poll"), Namespaced(base, "quiz")
    await poll.set("k", "poll's")
    await quiz.set("k", "quiz's")
    assert (await poll.get("k"), await quiz.get("k"), await base.get("poll:k")) == ("poll's", "quiz's", "poll's")
    assert await poll.delete("k") is True and await quiz.get("k") == "quiz's"
    with pytest.raises(ValueError, match="namespace"):
        Namespaced(base, "a:b")


async def test_the_sweep_deletes_expired_entries(db: Database) -> None:
    clock = Clock()
    store = DatabaseKeyValue(db, clock)
    await store.set("gone", 1, ttl=1)
    await store.hash_set("gone-hash", "f", 1, ttl=1)
    await store.set("stays", 1)
    clock.now += 2
    assert await store.sweep() == 2
    assert [entry.key async for entry in store.entries()] == ["stays"]


class HeldWrites(DatabaseKeyValue):
    """The real store, whose first write waits (in flight) until the test lets it go on."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.writing = asyncio.Event()
        self.go_on = asyncio.Event()

    async def write(self, entries: Sequence[Entry], gone: Sequence[str]) -> None:
        if not self.writing.is_set():
            self.writing.set()
            await self.go_on.wait()
        await super().write(entries, gone)


async def test_a_shutdown_in_the_middle_of_the_mirrors_write_still_writes_its_keys(db: Database) -> None:
    # Shutdown cancels the mirror's task; when that lands during a write, the keys of that write
    # must still be written by ``stop`` (they were lost: a quiz resumed at an earlier question).
    durable = HeldWrites(db)
    mirror = MirroredKeyValue(MemoryKeyValue(), durable, window=0)
    task = asyncio.create_task(mirror.run())
    await mirror.set("quiz:run", {"question": 2})
    await asyncio.wait_for(durable.writing.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert mirror.pending == 1
    assert await mirror.stop() == 0
    assert await DatabaseKeyValue(db).get("quiz:run") == {"question": 2}
