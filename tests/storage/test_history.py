"""History on one server, on SQLite and on PostgreSQL: recording, the reads of PROTOCOL.md's "History and
catch-up" (``history``, ``since``, ``get-history`` with ``complete``), direct-message privacy, retention,
purge, export, ids across a restart.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from roomchat.storage.config import HistoryConfig, StorageConfig
from roomchat.storage.database import Database, open_database
from roomchat.storage.history import History
from roomchat.storage.ids import WIDTH, format_id, parse_id
from roomchat.storage.records import Record
from roomchat.storage.store import HistoryStore

pytestmark = pytest.mark.anyio
ANN, BOB, CAT = 11, 12, 13
T0 = 1_800_000_000_000  # ms


class Clock:
    """Milliseconds the test sets by hand (the time retention measures ages against)."""

    def __init__(self) -> None:
        self.ms = T0

    def __call__(self) -> int:
        return self.ms


def make_history(db: Database, rooms: dict[str, HistoryConfig | None] | None = None, clock: Clock | None = None,
                 **settings: Any) -> History:
    chosen = rooms or {}
    config = StorageConfig()
    for name, value in settings.items():  # unvalidated: a batch window of an hour keeps the writer from committing
        setattr(config, name, value)
    return History(db, config, lambda room: chosen.get(room, HistoryConfig()), clock or Clock())


@pytest.fixture
async def history(db: Database) -> AsyncIterator[History]:
    service = make_history(db)
    await service.start()
    yield service
    await service.stop()


def send(history: History, room: str, sender: int, value: Any, to: int | None = None, type_: str = "text",
         time_ms: int = T0) -> str:
    """What delivery does: an id right before the emit, then the record."""
    seq = history.assign()
    assert history.record(room, seq, sender, to, type_, value, time_ms)
    return format_id(seq)


def values(page: Any) -> list[Any]:
    return [m["message"]["value"] for m in page.messages]


async def test_a_message_is_kept_as_delivered(history: History) -> None:
    value = {"text": "héllo ✓", "n": [1, 2.5, None, True], "nested": {"a": "\u2028"}}
    sent = send(history, "lobby", ANN, value, type_="potato")
    direct = send(history, "lobby", ANN, "psst", to=BOB)
    await history.writer.drain()
    page = await history.latest("lobby", BOB, 10)
    assert page.messages == [
        {"from": ANN, "message": {"type": "potato", "value": value}, "id": sent, "time": T0},
        {"from": ANN, "message": {"type": "text", "value": "psst"}, "id": direct, "time": T0, "to": BOB},
    ]
    assert page.complete is True


async def test_ids_are_fixed_width_strings_that_sort_as_they_were_given(history: History) -> None:
    ids = [send(history, "lobby", ANN, i) for i in range(200)]
    assert all(len(i) == WIDTH and i.isdigit() for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    await history.writer.drain()
    assert [m["id"] for m in (await history.latest("lobby", ANN, 500)).messages] == ids


async def test_readers_see_messages_before_they_are_committed(db: Database) -> None:
    service = make_history(db, batch_window=3600)  # the writer never commits during this test
    await service.start()
    try:
        send(service, "lobby", ANN, "early")
        send(service, "lobby", BOB, "late")
        assert service.writer.queued == 2
        page = await service.latest("lobby", CAT, 10)
        assert values(page) == ["early", "late"]
        assert page.through == service.allocator.last
    finally:
        await service.stop()


async def test_the_committed_and_pending_parts_join_without_gap_or_duplicate(history: History) -> None:
    sent = [send(history, "lobby", ANN, i) for i in range(10)]
    await history.writer.drain()
    sent += [send(history, "lobby", ANN, i) for i in range(10, 15)]  # pending
    page = await history.latest("lobby", BOB, 12)
    assert [m["id"] for m in page.messages] == sent[-12:]
    since = await history.since("lobby", BOB, sent[4])
    assert [m["id"] for m in since.messages] == sent[5:]
    assert since.complete is True


async def test_a_read_holds_nothing_committed_after_its_snapshot(history: History) -> None:
    """A message committed between a read's snapshot and its database query is above ``through``: the joiner
    gets it live (its hold sends everything above ``through``), so the page must not hold it too."""
    first = send(history, "lobby", ANN, "m0")
    await history.writer.drain()
    snapshot = history.tail.snapshot
    sent = ["m0"]

    async def then_a_commit(room: str) -> tuple[int, list[Any]]:
        taken = await snapshot(room)  # the snapshot, then a message delivered and committed before the query
        sent.append(f"m{len(sent)}")
        send(history, "lobby", ANN, sent[-1])
        await history.writer.drain()
        return taken

    history.tail.snapshot = then_a_commit  # type: ignore[method-assign]
    reads = (lambda: history.latest("lobby", BOB, 10), lambda: history.before("lobby", BOB, None),
             lambda: history.since("lobby", BOB, format_id(parse_id(first) - 1)))  # type: ignore[operator]
    for read in reads:
        before_the_read = list(sent)
        page = await read()
        assert values(page) == before_the_read and len(sent) == len(before_the_read) + 1


async def test_nobody_sees_anyone_elses_direct_messages(history: History) -> None:
    send(history, "lobby", ANN, "to all")
    send(history, "lobby", ANN, "ann to bob", to=BOB)
    send(history, "lobby", BOB, "bob to ann", to=ANN)
    send(history, "lobby", CAT, "cat to cat", to=CAT)
    send(history, "lobby", 0, "the room to cat", to=CAT)
    for committed in (False, True):
        if committed:
            await history.writer.drain()
        assert values(await history.latest("lobby", ANN, 10)) == ["to all", "ann to bob", "bob to ann"]
        assert values(await history.latest("lobby", BOB, 10)) == ["to all", "ann to bob", "bob to ann"]
        assert values(await history.latest("lobby", CAT, 10)) == ["to all", "cat to cat", "the room to cat"]
        assert values(await history.latest("lobby", 99, 10)) == ["to all"]
        first = (await history.latest("lobby", ANN, 1)).messages[0]["id"]
        assert values(await history.since("lobby", 99, first)) == []
        assert values(await history.before("lobby", 99, None, 10)) == ["to all"]


async def test_rooms_are_apart(history: History) -> None:
    send(history, "lobby", ANN, "in lobby")
    send(history, "kitchen", ANN, "in kitchen")
    await history.writer.drain()
    assert values(await history.latest("lobby", BOB, 10)) == ["in lobby"]
    assert values(await history.latest("kitchen", BOB, 10)) == ["in kitchen"]


async def test_history_n_and_its_cap(db: Database) -> None:
    service = make_history(db, history_max=5)
    await service.start()
    try:
        ids = [send(service, "lobby", ANN, i) for i in range(8)]
        await service.writer.drain()
        three = await service.latest("lobby", BOB, 3)
        assert values(three) == [5, 6, 7] and three.complete is True
        capped = await service.latest("lobby", BOB, 50)
        assert values(capped) == [3, 4, 5, 6, 7] and capped.complete is False  # the cap cut it
        assert [m["id"] for m in capped.messages] == ids[3:]
        few = await service.latest("quiet", BOB, 50)
        assert few.messages == [] and few.complete is True  # the room holds fewer than asked
        send(service, "small", ANN, "only")
        assert (await service.latest("small", BOB, 50)).complete is True
    finally:
        await service.stop()


async def test_the_byte_cap_keeps_the_newest(db: Database) -> None:
    service = make_history(db, history_max_bytes=2_500)
    await service.start()
    try:
        for i in range(5):
            send(service, "lobby", ANN, f"{i}" * 1000)
        page = await service.latest("lobby", BOB, 5)
        assert [v[0] for v in values(page)] == ["3", "4"] and page.complete is False
    finally:
        await service.stop()


async def test_since_gives_everything_after_it_in_order(history: History) -> None:
    ids = [send(history, "lobby", ANN if i % 2 else BOB, i) for i in range(20)]
    await history.writer.drain()
    page = await history.since("lobby", CAT, ids[9])
    assert values(page) == list(range(10, 20)) and page.complete is True
    last = await history.since("lobby", CAT, ids[-1])
    assert last.messages == [] and last.complete is True


@pytest.mark.parametrize("since", ["", "nonsense", "12", "0" * 15 + "x", None, 42, ["x"], "９" * WIDTH])
async def test_a_malformed_since_gives_the_last_messages_incomplete(history: History, since: Any) -> None:
    for i in range(4):
        send(history, "lobby", ANN, i)
    page = await history.since("lobby", BOB, since, fallback=2)
    assert values(page) == [2, 3] and page.complete is False


async def test_a_since_from_the_future_is_unknown(history: History) -> None:
    send(history, "lobby", ANN, "now")
    future = format_id(history.allocator.last + 10**9)
    page = await history.since("lobby", BOB, future)
    assert values(page) == ["now"] and page.complete is False


async def test_since_is_incomplete_when_retention_removed_some(db: Database) -> None:
    service = make_history(db, {"lobby": HistoryConfig(keep=3, max_age=None)})
    await service.start()
    try:
        ids = [send(service, "lobby", ANN, i) for i in range(6)]
        await service.writer.drain()
        assert await service.sweep() == {"lobby": 3}
        gone = await service.since("lobby", BOB, ids[0])
        assert values(gone) == [3, 4, 5] and gone.complete is False
        kept = await service.since("lobby", BOB, ids[2])
        assert values(kept) == [3, 4, 5] and kept.complete is True
    finally:
        await service.stop()


async def test_since_beyond_the_cap_gives_the_newest_incomplete(db: Database) -> None:
    service = make_history(db, history_max=4)
    await service.start()
    try:
        ids = [send(service, "lobby", ANN, i) for i in range(10)]
        page = await service.since("lobby", BOB, ids[0])
        assert values(page) == [6, 7, 8, 9] and page.complete is False
    finally:
        await service.stop()


async def test_paging_back_with_before_and_limit(history: History) -> None:
    ids = [send(history, "lobby", ANN, i) for i in range(12)]
    await history.writer.drain()
    send(history, "lobby", ANN, "to bob only", to=BOB)
    latest = await history.before("lobby", CAT, None, 5)
    assert values(latest) == [7, 8, 9, 10, 11] and latest.complete is False
    pages, before = [], latest.messages[0]["id"]
    while True:
        page = await history.before("lobby", CAT, parse_id(before), 5)
        pages.append(values(page))
        if page.complete:
            break
        before = page.messages[0]["id"]
    assert pages == [[2, 3, 4, 5, 6], [0, 1]]
    exact = await history.before("lobby", CAT, parse_id(ids[5]), 5)
    assert values(exact) == [0, 1, 2, 3, 4] and exact.complete is True


async def test_retention_by_count_and_age_without_a_restart(db: Database) -> None:
    clock = Clock()
    rooms = {"counted": HistoryConfig(keep=2, max_age=None), "aged": HistoryConfig(keep=None, max_age=60.0),
             "off": None}
    service = make_history(db, rooms, clock)
    await service.start()
    try:
        for i in range(5):
            send(service, "counted", ANN, i, time_ms=T0 + i)
            send(service, "aged", ANN, i, time_ms=T0 + i * 30_000)  # 0, 30, 60, 90, 120 s
            send(service, "default", ANN, i, time_ms=T0)
        await service.writer.drain()
        # history switched off after these were kept: the next sweep removes them
        service.room_settings = lambda room: rooms.get(room, HistoryConfig())
        send(service, "off", ANN, "was kept")
        await service.writer.drain()
        clock.ms = T0 + 150_000  # 150 s later: the aged room keeps what is younger than 60 s
        removed = await service.sweep()
        assert removed == {"counted": 3, "aged": 3, "off": 1}
        assert values(await service.latest("counted", BOB, 10)) == [3, 4]
        assert values(await service.latest("aged", BOB, 10)) == [3, 4]
        assert values(await service.latest("default", BOB, 10)) == [0, 1, 2, 3, 4]
        assert (await service.latest("off", BOB, 10)).messages == []
        assert await service.sweep() == {}
    finally:
        await service.stop()


async def test_purge_removes_a_users_messages_for_good(db: Database) -> None:
    service = make_history(db, batch_window=3600)
    await service.start()
    try:
        send(service, "lobby", ANN, "ann says")
        send(service, "lobby", BOB, "bob says")
        send(service, "lobby", BOB, "bob to ann", to=ANN)
        send(service, "kitchen", ANN, "ann in the kitchen")
        await service.writer.drain()
        send(service, "lobby", ANN, "ann, pending")  # not committed when the purge comes
        assert await service.purge(ANN) == 4
        await service.writer.drain()
        for reader in (BOB, CAT):
            assert values(await service.latest("lobby", reader, 10)) == ["bob says"]
        assert values(await service.latest("kitchen", BOB, 10)) == []
        assert [line["value"] async for line in service.export("lobby")] == ["bob says"]
        send(service, "lobby", ANN, "ann after the purge")  # a purge is not a ban
        assert values(await service.latest("lobby", BOB, 10)) == ["bob says", "ann after the purge"]
    finally:
        await service.stop()


async def test_a_purge_by_another_process_drops_what_this_one_commits_later(db_url: str) -> None:
    server_db, command_db = await open_database(db_url), await open_database(db_url)
    server = make_history(server_db, batch_window=3600)
    command = make_history(command_db)  # what `roomchat purge` opens
    await server.start()
    try:
        send(server, "lobby", ANN, "ann, in the server's queue")
        send(server, "lobby", BOB, "bob, in the server's queue")
        await command.purge(ANN)  # the server's queue is out of its reach
        assert values(await server.latest("lobby", CAT, 10)) == ["bob, in the server's queue"]  # not replayed
        await server.writer.drain()
        assert [line["value"] async for line in command.export("lobby")] == ["bob, in the server's queue"]
    finally:
        await server.stop()
        await server_db.close()
        await command_db.close()


async def test_export_is_every_message_of_the_room_as_json_lines(history: History) -> None:
    send(history, "lobby", ANN, {"a": 1})
    send(history, "lobby", ANN, "secret", to=BOB)
    send(history, "other", ANN, "elsewhere")
    lines = [json.dumps(line) async for line in history.export("lobby")]
    rows = [json.loads(line) for line in lines]
    assert [(r["from"], r["to"], r["type"], r["value"], r["time"]) for r in rows] == [
        (ANN, None, "text", {"a": 1}, T0), (ANN, BOB, "text", "secret", T0)]
    assert all(r["room"] == "lobby" and parse_id(r["id"]) for r in rows)


async def test_ids_after_a_restart_are_above_every_earlier_one(db_url: str) -> None:
    db = await open_database(db_url)
    first = make_history(db)
    await first.start()
    ids = [send(first, "lobby", ANN, i) for i in range(5)]
    await first.stop()
    await db.close()

    # A server whose clock is an hour behind: the database's highest id is the floor.
    db = await open_database(db_url)
    behind: Callable[[], int] = lambda: parse_id(ids[0]) - 3_600_000_000
    second = make_history(db)
    second.allocator._now_us = behind
    await second.start()
    try:
        later = send(second, "lobby", BOB, "after")
        assert later > ids[-1]
        assert values(await second.since("lobby", CAT, ids[-1])) == ["after"]
    finally:
        await second.stop()
        await db.close()


async def test_stop_commits_what_is_queued(db_url: str) -> None:
    db = await open_database(db_url)
    service = make_history(db, batch_window=3600)
    await service.start()
    for i in range(50):
        send(service, "lobby", ANN, i)
    assert await service.stop() == 0
    await db.close()
    db = await open_database(db_url)
    try:
        assert values(await make_history(db).latest("lobby", BOB, 100)) == list(range(50))
    finally:
        await db.close()


class HeldFirstCommit(HistoryStore):
    """The real store, noting each batch; its first commit waits until the test lets it go on."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.batches: list[list[Any]] = []
        self.committing = asyncio.Event()
        self.go_on = asyncio.Event()

    async def insert(self, batch: Sequence[Record]) -> int:
        self.batches.append([record.value for record in batch])
        if len(self.batches) == 1:
            self.committing.set()
            await self.go_on.wait()
        return await super().insert(batch)


async def test_messages_that_arrive_during_a_commit_wait_for_the_next_window(db: Database) -> None:
    """A busy room's steady stream is committed a window at a time, not as a run of tiny commits
    (each new message committed as soon as the previous commit ended: the whole cost of a
    transaction per handful of messages, which tripled a server's CPU under load)."""
    service = make_history(db, batch_window=1.0)
    store = service.writer.store = HeldFirstCommit(db)
    await service.start()
    try:
        send(service, "lobby", ANN, "a")
        await asyncio.wait_for(store.committing.wait(), 10)
        send(service, "lobby", ANN, "b")
        send(service, "lobby", ANN, "c")
        store.go_on.set()
        for _ in range(30):  # a writer that commits b and c at once does so now; this one waits for its window
            if len(store.batches) > 1:
                break
            await asyncio.sleep(0.01)
        send(service, "lobby", ANN, "d")
        await service.writer.drain()
        assert store.batches == [["a"], ["b", "c", "d"]]
        assert values(await service.latest("lobby", BOB, 10)) == ["a", "b", "c", "d"]
    finally:
        await service.stop()


async def test_a_purge_during_a_commit_keeps_the_rest_of_the_queue(pg_url: str) -> None:
    """While a commit waits on the database, a purge drops the user's queued messages: the commit must
    then remove from the queue what it committed, not as many from the front (which were others')."""
    import asyncpg
    from sqlalchemy.engine import make_url

    db = await open_database(pg_url)
    service = make_history(db, batch_window=3600, batch_max=4)
    await service.start()
    blocker = await asyncpg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(False))
    try:
        for i in range(8):
            send(service, "lobby", ANN if i % 2 else BOB, i)
        lock = blocker.transaction()
        await lock.start()
        await blocker.execute("LOCK TABLE messages IN EXCLUSIVE MODE")  # the writer's commit waits on this
        draining = asyncio.create_task(service.writer.drain())
        while not await blocker.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
            await asyncio.sleep(0.01)  # until the commit is waiting on the lock
        purging = asyncio.create_task(service.purge(ANN))
        while service.writer.queued != 4:
            await asyncio.sleep(0.01)  # the purge dropped ANN's 4 from the queue, then waits on the database
        await lock.rollback()
        await draining
        await purging
        await service.writer.drain()
        assert service.writer.queued == 0
        assert [line["value"] async for line in service.export("lobby")] == [0, 2, 4, 6]
    finally:
        await blocker.close()
        await service.stop()
        await db.close()
