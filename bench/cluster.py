#!/usr/bin/env python3
"""Delivery throughput of one roomchat server against two on one Redis (loopback only, bounded).

    .venv/bin/python bench/cluster.py                      # the three setups below, default load
    .venv/bin/python bench/cluster.py --clients 60 --messages 300 --setups redis-1,redis-2

Setups:
  memory-1  one server, in-memory state (no Redis): the single-server baseline
  redis-1   one server with `cluster:` on Redis: what Redis costs by itself
  redis-2   two servers on one Redis, clients spread evenly over them

Load: ``--clients`` guests join one room, spread over the setup's servers;
``--senders`` of them each send ``--messages`` broadcasts, at most
``--window`` unacknowledged at a time. Every broadcast reaches every other
client, so a run delivers senders * messages * (clients - 1) messages. The
figure is deliveries per second from the first send to the last delivery;
CPU seconds per process show where the work went, and "servers cpu
us/delivery" is all servers' CPU per delivery. Every run is bounded by
``--timeout`` seconds. The clients run in this process (asyncio), so on a
small machine they share the CPU with the servers (on 2 cores they saturate
one, and cap every setup's rate): compare setups with each other, and read
the servers' CPU per delivery as the cost of the setup.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import socketio

from roomchat.testing import RoomchatProcess, free_port, write_config

SETUPS = {"memory-1": (1, False), "redis-1": (1, True), "redis-2": (2, True)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    """One run: what was delivered, how fast, and the CPU each process used."""

    setup: str
    deliveries: int
    expected: int
    seconds: float
    cpu: dict[str, float]

    def line(self) -> str:
        """One row of the printed table."""
        rate = self.deliveries / self.seconds if self.seconds else 0.0
        cpu = " ".join(f"{name}={value:.1f}s" for name, value in self.cpu.items())
        servers = sum(value for name, value in self.cpu.items() if name.startswith("server"))
        per_delivery = 1e6 * servers / self.deliveries if self.deliveries else 0.0
        done = "" if self.deliveries == self.expected else f"  (INCOMPLETE: {self.deliveries}/{self.expected})"
        return (f"{self.setup:<9} {rate:>12,.0f} deliveries/s  {self.seconds:6.2f} s  "
                f"servers {per_delivery:5.1f} cpu us/delivery  cpu: {cpu}{done}")


class Redis:
    """A throwaway redis-server on a free loopback port."""

    def __init__(self) -> None:
        if not shutil.which("redis-server"):
            raise SystemExit("bench/cluster.py: redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise SystemExit("bench/cluster.py: redis-server did not start")

    def stop(self) -> None:
        """Stop it."""
        self.proc.terminate()
        self.proc.wait(10)


def bench_config(redis_url: str | None, prefix: str) -> dict[str, Any]:
    """Rooms created on join, guests admitted, a rate limit high enough never to refuse (its cost included)."""
    config: dict[str, Any] = {"server": {
        "create_rooms": True, "log_level": "warning",
        "new_room": {"admit": ["guests"], "rate_limit": {"messages": 100000, "per_seconds": 1}},
    }}
    if redis_url:
        config["cluster"] = {"redis_url": redis_url, "key_prefix": prefix}
    return config


async def load(urls: list[str], clients: int, senders: int, messages: int, window: int,
               timeout: float) -> tuple[int, int, float]:
    """Join, send, count: (delivered, expected, seconds from first send to last delivery)."""
    expected = senders * messages * (clients - 1)
    received = 0
    all_in = asyncio.Event()
    everyone = asyncio.Event()
    seen: list[int] = [0] * clients

    def counter(index: int) -> Any:
        def on_event(name: str, payload: Any = None) -> None:
            nonlocal received
            if name == "message":
                received += 1
                if received >= expected:
                    all_in.set()
            elif name == "initial-response":
                seen[index] += len(payload["data"])
            elif name == "user-connected":
                seen[index] += 1
            if all(count >= clients for count in seen):
                everyone.set()
        return on_event

    conns = [socketio.AsyncClient(reconnection=False) for _ in range(clients)]
    for index, client in enumerate(conns):
        client.on("*", counter(index))
    await asyncio.gather(*(
        client.connect(urls[i % len(urls)], auth={"room": "bench", "name": f"b{i}"}, transports=["websocket"],
                       wait_timeout=10)
        for i, client in enumerate(conns)))
    await asyncio.wait_for(everyone.wait(), timeout)  # every server knows everyone: steady state

    async def send(client: socketio.AsyncClient) -> None:
        slots = asyncio.Semaphore(window)
        for k in range(messages):
            await slots.acquire()
            await client.emit("broadcast-message", {"type": "bench", "value": k}, callback=lambda *_: slots.release())

    start = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(send(c) for c in conns[:senders]), all_in.wait()), timeout)
    except TimeoutError:
        pass
    seconds = time.perf_counter() - start
    await asyncio.gather(*(c.disconnect() for c in conns), return_exceptions=True)
    return received, expected, seconds


def run_setup(name: str, args: argparse.Namespace, redis: Redis | None) -> Result:
    """Start the setup's servers, run the load once, stop them."""
    count, clustered = SETUPS[name]
    prefix = f"bench-{os.getpid()}-{name}"
    path = write_config(bench_config(redis.url if clustered and redis else None, prefix), tempfile.mkdtemp())
    servers = [RoomchatProcess(path) for _ in range(count)]
    for server in servers:
        server.start()
    try:
        pids = {f"server{i + 1}": s.proc.pid for i, s in enumerate(servers) if s.proc}
        if clustered and redis:
            pids["redis"] = redis.proc.pid
        pids["clients"] = os.getpid()
        before = {k: cpu_seconds(p) for k, p in pids.items()}
        delivered, expected, seconds = asyncio.run(
            load([s.url for s in servers], args.clients, args.senders, args.messages, args.window, args.timeout))
        cpu = {k: cpu_seconds(p) - before[k] for k, p in pids.items()}
    finally:
        for server in servers:
            server.stop()
    return Result(name, delivered, expected, seconds, cpu)


def main() -> int:
    """Run the chosen setups one after the other and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", default="memory-1,redis-1,redis-2", help="comma-separated: " + ", ".join(SETUPS))
    parser.add_argument("--clients", type=int, default=40, help="clients in the room (default 40)")
    parser.add_argument("--senders", type=int, default=4, help="clients that broadcast (default 4)")
    parser.add_argument("--messages", type=int, default=100, help="broadcasts per sender (default 100)")
    parser.add_argument("--window", type=int, default=8, help="unacknowledged broadcasts per sender (default 8)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every setup this many times (default 1)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a run may take at most (default 60)")
    args = parser.parse_args()
    setups = [s for s in args.setups.split(",") if s]
    unknown = [s for s in setups if s not in SETUPS]
    if unknown or not 2 <= args.clients <= 1000 or not 1 <= args.senders <= args.clients or args.messages < 1:
        parser.error(f"check --setups ({', '.join(unknown) or 'ok'}), --clients (2..1000), --senders, --messages")
    redis = Redis() if any(SETUPS[s][1] for s in setups) else None
    print(f"{args.clients} clients, {args.senders} senders x {args.messages} broadcasts, window {args.window}; "
          f"{os.cpu_count()} CPUs", flush=True)
    try:
        for _ in range(args.rounds):
            for name in setups:
                print(run_setup(name, args, redis).line(), flush=True)
    finally:
        if redis:
            redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
