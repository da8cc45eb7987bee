#!/usr/bin/env python3
"""The cost of one fan-out delivery, by how the server writes it: the stock chain vs pre-encoded frames vs coalesced writes.

    .venv/bin/python bench/fanout_floor.py                          # every mode, 200 connections
    .venv/bin/python bench/fanout_floor.py --connections 1000 --modes stock,fast --frames 5
    # repeatable instruction counts (user space only; the kernel's write is not counted):
    .venv/bin/python bench/fanout_floor.py --callgrind --modes stock,encoded,fast --rounds 20

A server (this process, uvloop, pinned to CPU 0 where there are two) accepts
``--connections`` TCP connections from a reader process (pinned to CPU 1) that
only reads and counts bytes. Each round the server "broadcasts" ``--frames``
messages (a typical 150-byte ``message`` event) to every connection, one
event-loop tick per round, and waits until the reader has everything. Printed
per mode: CPU (user + system) per delivered frame, and write calls per frame.

Modes (what the server does per connection and frame):

- ``stock``: today's chain, with the real library classes: the packet goes
  on an asyncio.Queue; a writer task per connection takes it (``wait_for`` on
  ``queue.get()``, as python-engineio's ``poll`` does), encodes the Engine.IO
  packet, frames it with the ``websockets`` sans-I/O protocol and writes it;
- ``encoded``: the frame's bytes built once per broadcast; one
  ``transport.write`` per connection and frame;
- ``fast``: the issue-12 design: per connection and frame, count the bytes
  into a ``roomchat.backlog.Backlog`` and append to the connection's outbox;
  once per tick, one ``transport.write`` per connection of all its frames
  (so ``--frames 5`` is 5 frames in one write).

With ``--callgrind`` each mode runs twice under ``valgrind --tool=callgrind``
(``--rounds`` and three times as many; the reader runs natively), and the
difference of the instruction counts per delivery is printed: repeatable whatever else
the machine is doing. Wall-clock CPU figures are noisy on a shared machine.
Loopback only; every run is bounded by ``--rounds`` and ``--timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

MESSAGE = json.dumps(["message", {"msg": "New message", "data": {
    "from": 1000123, "message": {"type": "text", "value": "hello, room: a message of a typical size"},
    "id": "a1b2c3d4-1f", "time": 1764300000000}}], separators=(",", ":"))


def pin(cpu: int) -> None:
    """Run on one CPU when the machine has it (the server on 0, the reader on 1)."""
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


# -- the reader: N connections, counts bytes ---------------------------------------------------------

def reader(port: int, connections: int, total: int, timeout: float) -> None:
    """Open ``connections`` sockets, read until ``total`` bytes have arrived in all, then exit."""
    import selectors
    pin(1)
    sel = selectors.DefaultSelector()
    for _ in range(connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    got = 0
    deadline = time.monotonic() + timeout
    while got < total and time.monotonic() < deadline:
        for key, _ in sel.select(1.0):
            try:
                data = key.fileobj.recv(1 << 16)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            got += len(data)
    sys.exit(0 if got >= total else 1)


# -- the server side, one class per mode -------------------------------------------------------------

class Conn(asyncio.Protocol):
    """One accepted connection; the modes use what they need of it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: Any = None
        self.outbox: list[bytes] = []
        self.outbox_size = 0
        self.marked = False
        self.backlog: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.server.conns.append(self)
        if len(self.server.conns) == self.server.expected:
            self.server.all_in.set()


class Server:
    """Accepts the reader's connections and fans out rounds in one of the modes."""

    def __init__(self, mode: str, expected: int, frames: int) -> None:
        self.mode, self.expected, self.frames = mode, expected, frames
        self.conns: list[Conn] = []
        self.all_in = asyncio.Event()
        self.writes = 0
        self.dirty: list[Conn] = []

    async def setup(self) -> None:
        """Per-connection state of the mode (stock: a queue, a websockets protocol and a writer task each)."""
        if self.mode == "stock":
            from websockets.protocol import State
            from websockets.server import ServerProtocol
            for conn in self.conns:
                conn.queue = asyncio.Queue()  # type: ignore[attr-defined]
                conn.ws = ServerProtocol(state=State.OPEN)  # type: ignore[attr-defined]
                conn.task = asyncio.ensure_future(self._stock_writer(conn))  # type: ignore[attr-defined]
        elif self.mode == "fast":
            from roomchat.backlog import Backlog
            for conn in self.conns:
                conn.backlog = Backlog(4 * 1024 * 1024, lambda b: None)
                conn.backlog.attach_transport(conn.transport.get_write_buffer_size, conn.transport.abort)

    async def _stock_writer(self, conn: Any) -> None:
        """python-engineio's WebSocket writer (poll, ``WebSocket.send``), reduced to what runs per packet."""
        conn.writable = asyncio.Event()
        conn.writable.set()
        while True:
            pkt = await asyncio.wait_for(conn.queue.get(), 60)
            conn.queue.task_done()
            if pkt is None:
                return
            await self._asgi_send(conn, {"type": "websocket.send", "bytes": None, "text": pkt.encode()})

    async def _asgi_send(self, conn: Any, message: dict[str, Any]) -> None:
        """uvicorn's sans-I/O ``send`` for an open connection, reduced to its steps."""
        await conn.writable.wait()
        if message["type"] == "websocket.send":
            bytes_data = message.get("bytes")
            text_data = message.get("text")
            if bytes_data is not None:
                conn.ws.send_binary(bytes_data)
            elif text_data is not None:
                conn.ws.send_text(text_data.encode())
            conn.transport.write(b"".join(conn.ws.data_to_send()))
            self.writes += 1

    def broadcast(self, sio_encoded: str) -> None:
        """One round: ``frames`` messages to every connection, in this tick."""
        from engineio import packet as eio_packet
        mode = self.mode
        for _ in range(self.frames):
            pkt = eio_packet.Packet(eio_packet.MESSAGE, sio_encoded)
            if mode == "stock":
                for conn in self.conns:
                    conn.queue.put_nowait(pkt)  # type: ignore[attr-defined]
                continue
            frame = text_frame(pkt.encode().encode())
            if mode == "encoded":
                for conn in self.conns:
                    conn.transport.write(frame)
                self.writes += len(self.conns)
            else:
                size = len(frame)
                for conn in self.conns:
                    if not conn.backlog.add(size):
                        continue
                    conn.outbox.append(frame)
                    conn.outbox_size += size
                    if not conn.marked:
                        conn.marked = True
                        if not self.dirty:
                            asyncio.get_running_loop().call_soon(self.flush)
                        self.dirty.append(conn)

    def flush(self) -> None:
        """The fast mode's once-per-tick write of each dirty connection's outbox."""
        dirty, self.dirty = self.dirty, []
        for conn in dirty:
            conn.marked = False
            out, size = conn.outbox, conn.outbox_size
            conn.outbox, conn.outbox_size = [], 0
            conn.transport.write(out[0] if len(out) == 1 else b"".join(out))
            conn.backlog.done(size)
        self.writes += len(dirty)


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented WebSocket text frame (payloads below 64 KiB)."""
    n = len(payload)
    return (bytes((0x81, n)) if n < 126 else bytes((0x81, 126, n >> 8, n & 255))) + payload


def frame_bytes() -> int:
    """Bytes of one delivered frame on the wire (Engine.IO ``4`` + Socket.IO ``2`` + JSON)."""
    return len(text_frame(("42" + MESSAGE).encode()))


async def serve(mode: str, connections: int, rounds: int, frames: int, timeout: float) -> dict[str, Any]:
    """Run one mode; CPU per delivered frame over the rounds (setup excluded)."""
    pin(0)
    from engineio import packet  # noqa: F401  (imported before measuring, whatever the mode)
    from websockets import server as ws_server  # noqa: F401

    from roomchat import backlog  # noqa: F401
    server = Server(mode, connections, frames)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: Conn(server), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    total = frame_bytes() * connections * frames * rounds
    proc = subprocess.Popen([sys.executable, __file__, "--reader", str(port), str(connections), str(total),  # noqa: ASYNC220
                             str(timeout)])
    try:
        await asyncio.wait_for(server.all_in.wait(), timeout)
        await server.setup()
        await asyncio.sleep(0.2)
        t0 = os.times()
        for _ in range(rounds):
            server.broadcast("2" + MESSAGE)
            await asyncio.sleep(0)  # the writers (stock) or the flush (fast) run in the next ticks
            await asyncio.sleep(0)
            while any(c.transport.get_write_buffer_size() for c in server.conns):
                await asyncio.sleep(0.001)
        t1 = os.times()
        ok = await loop.run_in_executor(None, proc.wait, timeout) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()
    deliveries = rounds * connections * frames
    return {"mode": mode, "connections": connections, "frames": frames, "rounds": rounds, "complete": ok,
            "user_us": (t1.user - t0.user) * 1e6 / max(deliveries, 1),
            "sys_us": (t1.system - t0.system) * 1e6 / max(deliveries, 1),
            "writes_per_delivery": server.writes / max(deliveries, 1)}


def run_mode(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """One mode in a fresh process (so modes do not share allocator or task state)."""
    out = subprocess.run([sys.executable, __file__, "--one", mode, "--connections", str(args.connections),
                          "--rounds", str(args.rounds), "--frames", str(args.frames), "--timeout", str(args.timeout)],
                         check=False, capture_output=True, text=True, timeout=args.timeout * 3)
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def callgrind_ir(args: argparse.Namespace, mode: str, rounds: int) -> int:
    """Instructions (user space) of one whole run of ``mode`` under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__, "--one",
               mode, "--connections", str(args.connections), "--rounds", str(rounds), "--frames", str(args.frames),
               "--timeout", str(args.timeout * 20)]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=args.timeout * 40)
        found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
        if done.returncode != 0 or not found:
            raise SystemExit(f"callgrind run of {mode} failed:\n{done.stderr[-2000:]}")
        return int(found.group(1))


def main() -> None:
    """Parse the arguments; run the reader, one mode, or every mode and print the table."""
    if len(sys.argv) > 1 and sys.argv[1] == "--reader":
        port, conns, total, timeout = sys.argv[2:6]
        reader(int(port), int(conns), int(total), float(timeout))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--frames", type=int, default=1, help="messages per connection per round (coalesced in fast)")
    parser.add_argument("--modes", default="stock,encoded,fast")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--callgrind", action="store_true", help="instruction counts instead of CPU time")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        try:
            import uvloop
            uvloop.install()
        except ImportError:
            pass
        print(json.dumps(asyncio.run(serve(args.one, args.connections, args.rounds, args.frames, args.timeout))))
        return
    print(f"{args.connections} connections, {args.frames} frame(s) of {frame_bytes()} bytes per connection per round")
    if args.callgrind:
        if shutil.which("valgrind") is None:
            raise SystemExit("--callgrind needs valgrind (apt-get install valgrind)")
        # Runs of R and 3R rounds: the difference is 2R rounds of steady-state work, without start-up,
        # imports or first-call costs.
        print(f"{'mode':8} {'instructions per delivery':>26}")
        for mode in args.modes.split(","):
            ir = callgrind_ir(args, mode, 3 * args.rounds) - callgrind_ir(args, mode, args.rounds)
            print(f"{mode:8} {ir / (2 * args.rounds * args.connections * args.frames):26,.0f}")
        return
    print(f"{'mode':8} {'user us':>8} {'sys us':>8} {'cpu us':>8} {'writes':>7}  (per delivered frame)")
    for mode in args.modes.split(","):
        r = run_mode(args, mode)
        flag = "" if r["complete"] else "  (reader did not get everything)"
        print(f"{mode:8} {r['user_us']:8.2f} {r['sys_us']:8.2f} {r['user_us'] + r['sys_us']:8.2f} "
              f"{r['writes_per_delivery']:7.2f}{flag}")


if __name__ == "__main__":
    main()
