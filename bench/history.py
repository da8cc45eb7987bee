"""History's costs: what delivery pays per message, and how fast the writer commits, on SQLite and PostgreSQL.

    .venv/bin/python bench/history.py                     # 100,000 messages per run, 3 runs, medians
    .venv/bin/python bench/history.py --messages 20000 --runs 1 --no-postgres --no-redis

Measures, per database:

- **enqueue**: ``assign()`` + ``record()`` as delivery calls them (an id, a record, two deque appends), in
  µs of CPU per message: the cost on the delivery path;
- **commit**: the writer draining a full queue in batches of ``storage.batch_max``: messages per second
  and the CPU this process spends per message (it runs on the server's event loop, off the delivery path);

and, with a Redis, a cluster's **deliver**: the one Redis script per message that gives the id, fills the
room's tail and publishes (100 in flight), in messages per second.

Everything is local (a temporary SQLite file, a PostgreSQL database created for the run and dropped, the
Redis at --redis-url under a key prefix of its own, deleted after) and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from roomchat.storage.config import HistoryConfig, StorageConfig
from roomchat.storage.database import open_database
from roomchat.storage.history import History

VALUE = "a chat message of about sixty characters, as a class writes"


def settings(batch_max: int = 2000) -> StorageConfig:
    config = StorageConfig()
    config.batch_max = batch_max
    config.batch_window = 3600  # the bench drains by itself: the timer never fires
    config.queue_max = 10**7
    return config


async def one_run(url: str, count: int, batch_max: int) -> dict[str, float]:
    db = await open_database(url)
    history = History(db, settings(batch_max), lambda room: HistoryConfig())
    try:
        rooms = [f"room{i}" for i in range(20)]
        start = time.process_time()
        for i in range(count):
            seq = history.assign()
            history.record(rooms[i % 20], seq, 1000 + i % 50, None, "text", VALUE, 1_800_000_000_000 + i)
        enqueue_us = (time.process_time() - start) / count * 1e6
        wall, cpu = time.perf_counter(), time.process_time()
        await history.writer.drain()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return {"enqueue_us": enqueue_us, "commit_per_s": count / wall, "commit_cpu_us": cpu / count * 1e6}
    finally:
        await db.close()


async def cluster_run(pg_url: str, redis_url: str, count: int) -> float:
    import redis.asyncio as aioredis

    from roomchat.storage.redislog import ClusterHistory

    prefix = f"bench-history-{uuid.uuid4().hex[:8]}"
    client = aioredis.Redis.from_url(redis_url)
    db = await open_database(pg_url)
    history = ClusterHistory(db, settings(), lambda room: HistoryConfig(), client, prefix)
    await history.start()
    try:
        sent = 0
        start = time.perf_counter()

        async def sender() -> None:
            nonlocal sent
            while sent < count:
                sent += 1
                await history.deliver("lobby", {"from": 7, "message": {"type": "text", "value": VALUE},
                                                "time": 1_800_000_000_000})

        await asyncio.gather(*(sender() for _ in range(100)))
        return count / (time.perf_counter() - start)
    finally:
        await history.stop(timeout=60)
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await db.close()


async def admin(pg: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{pg}/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.runs):
            url = f"sqlite+aiosqlite:///{folder}/bench{run}.sqlite3"
            results.setdefault("SQLite", []).append(await one_run(url, args.messages, args.batch))
    cluster: list[float] = []
    if not args.no_postgres:
        name = f"roomchat_bench_{uuid.uuid4().hex[:8]}"
        await admin(args.pg, f'CREATE DATABASE "{name}"')
        url = f"{args.pg.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
        try:
            for _ in range(args.runs):
                results.setdefault("PostgreSQL", []).append(await one_run(url, args.messages, args.batch))
            if not args.no_redis:
                for _ in range(args.runs):
                    cluster.append(await cluster_run(url, args.redis_url, min(args.messages, 20_000)))
        finally:
            await admin(args.pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print(f"{args.messages:,} messages per run, {args.batch:,} per commit, {args.runs} run(s), medians")
    print("| database | enqueue (delivery path) | commit throughput | writer CPU per message |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        enqueue, rate, cpu = (statistics.median(r[key] for r in runs)
                              for key in ("enqueue_us", "commit_per_s", "commit_cpu_us"))
        print(f"| {name} | {enqueue:.2f} µs | {rate:,.0f} msg/s | {cpu:.1f} µs |")
    if cluster:
        print(f"\ncluster deliver (id + tail + publish in one Redis script, 100 in flight): "
              f"{statistics.median(cluster):,.0f} msg/s")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="messages per run (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per database (default 3)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432",
                        help="a PostgreSQL server that may create a database (default: 127.0.0.1:5432)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="the Redis of the cluster run")
    parser.add_argument("--no-redis", action="store_true", help="no cluster run")
    parser.add_argument("--batch", type=int, default=2000,
                        help="messages per commit (storage.batch_max; default 2000). A server under load commits "
                             "what its batch_window gathered: 50 is 1,000 messages/s in the default 0.05 s")
    args = parser.parse_args(argv)
    if not 1 <= args.messages <= 2_000_000 or not 1 <= args.runs <= 20:
        parser.error("--messages: 1 to 2,000,000; --runs: 1 to 20")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))


