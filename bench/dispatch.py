"""Per-message cost of roomchat's dispatch with plugins off, 1 registered type, and 50.

    .venv/bin/python bench/dispatch.py                 # 3 rounds x 3000 messages per setup
    .venv/bin/python bench/dispatch.py --messages 500 --rounds 1  # a quick smoke run

Each setup is a real ``roomchat serve`` process on loopback with real
Socket.IO clients: one sender pipelines ``--messages`` direct messages of
type ``bench`` (no ack) to one receiver, which waits for the last one. Printed
per setup (median over rounds):

- ``wall us/msg``: elapsed time from first send to last receipt, per message;
- ``server CPU us/msg``: the server process's CPU time (user + system, read
  from /proc) over that window, per message: the cost of handling one
  message, without the clients' own costs.

Setups:

- ``plugins off``: every plugin disabled but ``default_rooms`` (rooms must
  resolve); ``bench`` is an unknown type and passes through untouched.
- ``1 type``: a plugin registers ``bench`` (a str value and one no-op handler).
- ``50 types``: the same ``bench`` plus 49 other types with handlers; only
  ``bench`` is sent. With dispatch by type, this should cost what ``1 type``
  costs.

Prints figures only; it asserts nothing. Loopback only; every run is bounded
by ``--messages`` and ``--timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import socketio

from roomchat.builtins import BUILTIN_PLUGINS
from roomchat.testing import RoomchatProcess

PLUGIN = '''
from roomchat import MessageType, hookimpl

def noop(ctx):
    pass

@hookimpl
def roomchat_register_message_types(register):
    register(MessageType("bench", str, handlers=[noop]))
    for i in range({others}):
        register(MessageType(f"other-{{i}}", str, handlers=[noop]))
'''


def config(types: int, folder: Path) -> Path:
    """A config for ``types`` registered types (0: plugins off)."""
    import yaml

    disable = [name for name in BUILTIN_PLUGINS if name != "default_rooms"]
    plugins: dict[str, object] = {"disable": disable}
    if types:
        (folder / f"bench_types_{types}.py").write_text(PLUGIN.format(others=types - 1))
        plugins["load"] = [f"bench_types_{types}.py"]
    data = {
        "server": {"log_level": "warning"},
        "rooms": {"bench": {"admit": ["guests"], "rate_limit": None}},
        "plugins": plugins,
    }
    path = folder / f"roomchat-{types}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_round(url: str, pid: int, messages: int, timeout: float) -> tuple[float, float]:
    """Send ``messages`` pipelined messages; return (wall seconds, server CPU seconds)."""
    sender, receiver = socketio.AsyncClient(), socketio.AsyncClient()
    got = 0
    done = asyncio.Event()
    ids: dict[str, int] = {}
    joined = {"sender": asyncio.Event(), "receiver": asyncio.Event()}

    def joined_as(name: str):
        async def on_initial(payload):
            ids[name] = payload["data"][-1]["ID"]
            joined[name].set()
        return on_initial

    @receiver.on("message")
    async def on_message(payload):
        nonlocal got
        got += 1
        if got == messages:
            done.set()

    sender.on("initial-response", joined_as("sender"))
    receiver.on("initial-response", joined_as("receiver"))
    await receiver.connect(url, auth={"room": "bench", "name": "receiver"}, transports=["websocket"])
    await sender.connect(url, auth={"room": "bench", "name": "sender"}, transports=["websocket"])
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in joined.values())), timeout)
    # warm-up: a round trip
    await sender.call("message", ({"type": "bench", "value": "warm"}, ids["receiver"]), timeout=timeout)
    got = 0
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    for i in range(messages):
        await sender.emit("message", ({"type": "bench", "value": f"m{i}"}, ids["receiver"]))
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
        await sender.disconnect()
        await receiver.disconnect()
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000, help="messages per round (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per setup (default 3)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a round gives up")
    args = parser.parse_args()

    setups = {"plugins off": 0, "1 type": 1, "50 types": 50}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in setups}
    with tempfile.TemporaryDirectory(prefix="roomchat-bench-") as tmp:
        servers = {name: RoomchatProcess(config(types, Path(tmp))).start() for name, types in setups.items()}
        try:
            for _ in range(args.rounds):
                for name, server in servers.items():  # interleaved, so drift hits every setup alike
                    assert server.proc is not None
                    results[name].append(asyncio.run(one_round(server.url, server.proc.pid, args.messages,
                                                               args.timeout)))
        finally:
            for server in servers.values():
                server.stop()

    print(f"roomchat dispatch: {args.messages} direct messages x {args.rounds} rounds per setup, "
          f"loopback, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{'setup':<14}{'wall us/msg':>14}{'server CPU us/msg':>20}{'msgs/s':>10}")
    for name, rounds in results.items():
        wall = statistics.median(w for w, _ in rounds) / args.messages * 1e6
        cpu = statistics.median(c for _, c in rounds) / args.messages * 1e6
        print(f"{name:<14}{wall:>14.1f}{cpu:>20.1f}{1e6 / wall:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
