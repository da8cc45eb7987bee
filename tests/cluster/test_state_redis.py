"""The Redis key-value store against a real redis-server: hashes and their expiry, as the in-memory one."""

from __future__ import annotations

import asyncio
import uuid

from cluster_kit import RedisServer

from roomchat.cluster.state import REDIS_POOL_SIZE, RedisKeyValue, RedisLink


def test_hash_set_and_its_expiry(redis_server: RedisServer) -> None:
    prefix = f"rctest-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        link = RedisLink(redis_server.url, prefix)
        link.up = True  # no cluster loop here to say so
        kv = RedisKeyValue(link)
        try:
            assert await kv.hash_set("h", "a", 1) is True
            assert await kv.hash_set("h", "a", 2, only_if_new=True) is False
            assert await kv.hash_set("h", "b", [3], only_if_new=True, ttl=60) is True
            assert await kv.hash_get_all("h") == {"a": 1, "b": [3]}
            assert 59_000 <= await link.client.pttl(f"{prefix}:kv:h") <= 60_000
            await kv.hash_set("h", "c", 4, ttl=0.2)  # each write with a ttl moves the end
            await asyncio.sleep(0.4)  # Redis' own expiry, not a timing assertion on roomchat
            assert await kv.hash_get_all("h") == {}
        finally:
            await link.client.delete(f"{prefix}:kv:h")
            await link.close()

    asyncio.run(scenario())


def test_more_operations_in_flight_than_connections_wait_for_one(redis_server: RedisServer) -> None:
    """300 operations at once on one server's link all succeed (the bench's 200 clients sending did this).

    redis-py's default pool raised "Too many connections" past 100 operations
    in flight: under load a cluster server logged publish_failed, lost those
    messages and refused joins as if Redis were down. The pool now holds at
    most REDIS_POOL_SIZE connections and the others wait for one.
    """
    prefix = f"rctest-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        link = RedisLink(redis_server.url, prefix)
        link.up = True
        kv = RedisKeyValue(link)
        try:
            # BLPOP with a timeout holds its connection for that long: every call needs a connection of its own.
            held = [link.call(lambda: link.client.blpop([f"{prefix}:nothing"], timeout=0.2)) for _ in range(150)]
            writes = [kv.incr("count") for _ in range(150)]
            results = await asyncio.gather(*held, *writes)
            assert results[:150] == [None] * 150
            assert sorted(results[150:]) == list(range(1, 151))
            assert len(link.client.connection_pool._in_use_connections) == 0
            assert link.client.connection_pool.max_connections == REDIS_POOL_SIZE
        finally:
            await link.client.delete(f"{prefix}:kv:count")
            await link.close()

    asyncio.run(scenario())


def test_a_leaving_server_drops_its_heartbeat_in_its_own_reap(redis_server: RedisServer) -> None:
    """A clean leave is one script: no moment where the heartbeat is gone and the server still registered.

    The leave deleted the heartbeat, then reaped itself: another server's reaper
    running in between found it dead and logged ``server_reaped`` (a warning)
    for a clean shutdown (seen once in CI in
    tests/cluster/test_failover.py::test_a_server_stopped_cleanly_says_goodbye_at_once).
    """
    prefix = f"rctest-{uuid.uuid4().hex[:8]}"
    server = "s1"
    keys = [f"{prefix}:server:{server}:hb", f"{prefix}:server:{server}:conns", f"{prefix}:servers", f"{prefix}:events"]

    async def scenario() -> None:
        link = RedisLink(redis_server.url, prefix)
        link.up = True
        try:
            await link.client.set(keys[0], "1", px=10_000)
            await link.client.sadd(keys[2], server)
            assert await link.reap(keys=keys, args=[server, prefix, 100]) is None  # alive: the others leave it be
            assert await link.reap(keys=keys, args=[server, prefix, 100, "leaving"]) == []  # leaving: one step
            assert await link.client.exists(keys[0]) == 0
            assert await link.client.sismember(keys[2], server) == 0
        finally:
            await link.client.delete(*keys)
            await link.close()

    asyncio.run(scenario())
