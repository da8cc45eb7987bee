"""The Redis key-value store against a real redis-server: hashes and their expiry, as the in-memory one."""

from __future__ import annotations

import asyncio
import uuid

from cluster_kit import RedisServer

from roomchat.cluster.state import RedisKeyValue, RedisLink


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
