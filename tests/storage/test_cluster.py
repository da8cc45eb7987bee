"""A cluster's history: two servers (two ClusterHistory services, each with its own connections) on one
PostgreSQL and one real Redis. Ids are unique and in the order every server receives the messages; a
server reads what another delivered before it was committed; the durable store survives a Redis that
lost its data.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from roomchat.storage.config import HistoryConfig, StorageConfig
from roomchat.storage.database import Database, open_database
from roomchat.storage.kv import DatabaseKeyValue, WriteThrough
from roomchat.storage.redislog import ClusterHistory

pytestmark = pytest.mark.anyio
ANN, BOB, CAT = 21, 22, 23


class Server:
    """One cluster server's history: its own database pool and Redis client."""

    def __init__(self, db: Database, client: Any, history: ClusterHistory) -> None:
        self.db, self.client, self.history = db, client, history


@pytest.fixture
async def servers(pg_url: str, redis_url: str, redis_prefix: str) -> AsyncIterator[list[Server]]:
    made: list[Server] = []
    for _ in range(2):
        db = await open_database(pg_url)
        client = aioredis.Redis.from_url(redis_url)
        settings = StorageConfig()
        settings.batch_window = 3600  # commits only when a test drains
        history = ClusterHistory(db, settings, lambda room: None if room == "off" else HistoryConfig(), client,
                                 redis_prefix)
        await history.start()
        made.append(Server(db, client, history))
    yield made
    for server in made:
        await server.history.stop()
        await server.client.aclose()
        await server.db.close()


def message(sender: int, value: Any, to: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"from": sender, "message": {"type": "text", "value": value}, "time": 1_800_000_000_000}
    if to is not None:
        data["to"] = to
    return data


def publication(data: dict[str, Any]) -> str:
    """What the cluster publishes for a delivery (python-socketio's JSON message, here reduced to the data)."""
    return json.dumps({"method": "emit", "event": "message", "data": [{"msg": "New message", "data": data}]},
                      separators=(",", ":"))


async def test_ids_are_unique_and_in_the_order_every_server_receives_them(
        servers: list[Server], redis_url: str, redis_prefix: str) -> None:
    channel = f"{redis_prefix}:socketio"
    listener = aioredis.Redis.from_url(redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(channel)
    try:
        sends = [servers[i % 2].history.deliver("lobby", message(ANN + i % 2, i), publication, channel)
                 for i in range(200)]
        delivered = await asyncio.gather(*sends)
        received: list[str] = []
        deadline = asyncio.get_running_loop().time() + 10  # a bound on waiting, not a timing claim
        while len(received) < 200:
            assert asyncio.get_running_loop().time() < deadline, f"only {len(received)} of 200 publishes arrived"
            got = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if got is not None:  # None: the subscription's confirmation, or nothing yet
                received.append(json.loads(got["data"])["data"][0]["data"]["id"])
    finally:
        await pubsub.aclose()
        await listener.aclose()
    ids = [d["id"] for d in delivered]
    assert len(set(ids)) == 200
    assert received == sorted(received) and sorted(received) == sorted(ids)  # Redis' order is the ids' order
    for server in servers:  # each server's callers resumed in the order of their ids
        mine = [d["id"] for i, d in enumerate(delivered) if i % 2 == servers.index(server)]
        assert mine == sorted(mine)


async def test_another_server_reads_what_was_not_committed_yet(servers: list[Server], redis_url: str,
                                                               redis_prefix: str) -> None:
    a, b = servers
    sent = [await a.history.deliver("lobby", message(ANN, i)) for i in range(5)]
    dm = await a.history.deliver("lobby", message(ANN, "to bob", to=BOB))
    await b.history.deliver("lobby", message(CAT, "from b"))
    page = await b.history.since("lobby", CAT, sent[1]["id"])
    assert [m["message"]["value"] for m in page.messages] == [2, 3, 4, "from b"] and page.complete
    assert [m["id"] for m in (await b.history.latest("lobby", BOB, 3)).messages][-2:] == [dm["id"], page.messages[-1]["id"]]
    assert page.through >= max(int(m["id"]) for m in page.messages)

    await a.history.writer.drain()
    await b.history.writer.drain()
    raw = aioredis.Redis.from_url(redis_url)
    try:
        assert await raw.zcard(f"{redis_prefix}:history:tail:lobby") == 0  # committed: gone from the tail
    finally:
        await raw.aclose()
    again = await b.history.since("lobby", CAT, sent[1]["id"])
    assert again.messages == page.messages


async def test_a_room_without_history_still_gets_ordered_ids(servers: list[Server], redis_url: str,
                                                            redis_prefix: str) -> None:
    first = await servers[0].history.deliver("off", message(ANN, 1))
    second = await servers[1].history.deliver("off", message(ANN, 2))
    assert first["id"] < second["id"]
    assert servers[0].history.writer.queued == 0
    assert (await servers[1].history.latest("off", ANN, 10)).messages == []


async def test_ids_stay_above_the_databases_after_redis_lost_its_data(servers: list[Server], redis_url: str,
                                                                     redis_prefix: str) -> None:
    a, _ = servers
    before = await a.history.deliver("lobby", message(ANN, "before"))
    await a.history.writer.drain()
    raw = aioredis.Redis.from_url(redis_url)
    try:
        await raw.delete(f"{redis_prefix}:history:seq")  # Redis restarted without its data
    finally:
        await raw.aclose()
    # The database's highest id is a floor (start-up reads it); here one far ahead of Redis' clock.
    ahead = int(before["id"]) + 10**12
    await a.history.room_log.raise_floor(ahead)
    after = await a.history.deliver("lobby", message(ANN, "after"))
    assert int(after["id"]) == ahead + 1


async def test_state_written_through_survives_a_redis_that_lost_its_data(pg_url: str, redis_url: str,
                                                                         redis_prefix: str) -> None:
    from roomchat.cluster.state import RedisKeyValue, RedisLink

    link = RedisLink(redis_url, redis_prefix)
    link.up = True
    db = await open_database(pg_url)
    try:
        store = WriteThrough(RedisKeyValue(link), DatabaseKeyValue(db))
        await store.set("moderation:ban:lobby:7", {"by": 1}, ttl=600)
        assert await store.hash_set("poll:votes:1", "7", 0, only_if_new=True) is True
        assert await store.hash_set("poll:votes:1", "7", 1, only_if_new=True) is False
        assert await store.incr("quiz:count") == 1
        assert await store.incr("quiz:count", 4) == 5
        raw = link.client
        await raw.delete(*[key async for key in raw.scan_iter(f"{redis_prefix}:*")])  # Redis lost everything
        assert await store.get("moderation:ban:lobby:7") is None
        assert await store.restore() == 3
        assert await store.get("moderation:ban:lobby:7") == {"by": 1}
        assert 590 < await raw.ttl(f"{redis_prefix}:kv:moderation:ban:lobby:7") <= 600
        assert await store.hash_get_all("poll:votes:1") == {"7": 0}
        assert await store.get("quiz:count") == 5 and await store.incr("quiz:count") == 6
    finally:
        await link.close()
        await db.close()
