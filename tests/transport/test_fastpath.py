"""The WebSocket fast path (issue 12): frames encoded once, one write per connection per tick, order kept.

Every test talks to a real ``roomchat serve`` through real clients: python-socketio
(``ChatClient``) over WebSocket, long-polling and polling upgraded to WebSocket,
and raw Engine.IO frames (``RawClient``) where a test needs a client that
bursts, stops reading, or vanishes. What is pinned: a client's messages arrive
in the order sent, whatever mixes of paths and acks carried them; a recipient
that upgrades mid-stream gets everything once, in order; a paused transport
is not written past and gets everything once it reads again; the cap on what
the server holds for a connection applies to the fast path's frames.

Recipients whose order is checked are ``Recipient`` (python-socketio's asyncio
client, in a thread of its own) or ``RawClient``: the synchronous python-socketio
client hands each received event to a thread of its own, so it may record a
burst in another order than it arrived in.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from chatkit import TRANSPORTS, Joiner, base_config, start_server, sync, wait_for
from rawio import RawClient

from roomchat.testing import ChatClient, RoomchatProcess

BURST = 1000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    running = start_server(base_config(max_pending_output=1024 * 1024), tmp_path_factory.mktemp("fast"))
    yield running
    running.stop()


@pytest.fixture
def joiner(server: RoomchatProcess) -> Iterator[Joiner]:
    joins = Joiner(server, "websocket")
    yield joins
    joins.close_all()


class Recipient:
    """python-socketio's asyncio client on a loop in its own thread: events recorded in the order they arrived."""

    def __init__(self, url: str, room: str, name: str, transport: str) -> None:
        self.events: list[tuple[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", self._record)
        transports = ["polling", "websocket"] if transport == "upgrade" else [transport]
        self.run(self.sio.connect(url, auth={"room": room, "name": name}, transports=transports, wait_timeout=10))
        self.wait(lambda: bool(self.of("initial-response")), "initial-response")
        self.id: int = self.of("initial-response")[0]["data"][-1]["ID"]

    async def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, args[0] if args else None))

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, event: str, *args: Any) -> Any:
        return self.run(self.sio.call(event, args if len(args) != 1 else args[0], timeout=20))

    def of(self, event: str) -> list[Any]:
        return [data for name, data in list(self.events) if name == event]

    def numbers(self, kind: str = "x-seq") -> list[int]:
        """The ``n`` of every ``kind`` message received, in arrival order."""
        return [p["data"]["message"]["value"]["n"] for p in self.of("message") if p["data"]["message"]["type"] == kind]

    def wait(self, predicate: Any, what: str, timeout: float = 30) -> None:
        wait_for(predicate, what, timeout)

    def sync(self) -> None:
        """A round trip (a refused ``message``): every event sent before it has arrived."""
        assert self.call("message", None)["data"]["code"] == "invalid_message"

    def close(self) -> None:
        try:
            self.run(self.sio.disconnect(), 10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)


@pytest.fixture
def recipients(server: RoomchatProcess) -> Iterator[Any]:
    """``recipients(room, name, transport)`` opens a ``Recipient``; all are closed at the end of the test."""
    opened: list[Recipient] = []

    def open_one(room: str, name: str, transport: str) -> Recipient:
        opened.append(Recipient(server.url, room, name, transport))
        return opened[-1]

    yield open_one
    for recipient in opened:
        recipient.close()


def raw_numbers(raw: RawClient, kind: str = "x-seq") -> list[int]:
    """The ``n`` of every ``kind`` message a raw client got, in arrival order."""
    return [p["data"]["message"]["value"]["n"] for p in raw.of("message") if p["data"]["message"]["type"] == kind]


def numbers(client: ChatClient, kind: str = "x-seq") -> list[int]:
    """The ``n`` of every ``kind`` message a ChatClient got (order checked only where messages come one by one)."""
    return [m["message"]["value"]["n"] for m in client.messages() if m["message"]["type"] == kind]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_burst_with_acks_interleaved_arrives_in_send_order(server: RoomchatProcess, recipients: Any,
                                                            transport: str) -> None:
    """1000 emits in a few TCP writes (frames parsed in batches), every third with an ack: order and acks kept."""
    room = f"burst-{transport}"
    bob = recipients(room, "Bob", transport)
    with RawClient(server.url, "websocket", timeout=20) as ann:
        ann.join(room, name="Ann")
        bob.wait(lambda: bool(bob.of("user-connected")), "Ann's arrival")
        frames, ack_ids = [], []
        for n in range(BURST):
            ack = "" if n % 3 else str(n + 1)
            if ack:
                ack_ids.append(n + 1)
            frames.append("42" + ack + json.dumps(["broadcast-message", {"type": "x-seq", "value": {"n": n}}]))
        ann.send_many(frames)
        ann.wait_until(lambda: all(i in ann.acks for i in ack_ids), "every ack", timeout=30)
        assert all(ann.acks[i][0]["msg"] == "Message sent" for i in ack_ids)
        assert sorted(ann.acks) == ack_ids  # and no other
        ann.sync()
    bob.wait(lambda: len(bob.numbers()) >= BURST, "every message")
    assert bob.numbers() == list(range(BURST))


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_direct_and_room_messages_and_acks_keep_their_order_at_the_recipient(
        server: RoomchatProcess, recipients: Any, transport: str) -> None:
    """A recipient's packets come from several paths (a room's fan-out, its user channel, its own acks): one order."""
    room = f"mixed-{transport}"
    ann = recipients(room, "Ann", "websocket")
    with RawClient(server.url, transport, timeout=20) as bob:  # type: ignore[arg-type]
        bob.join(room, name="Bob")
        bob_id = bob.of("initial-response")[0]["data"][-1]["ID"]
        ann.wait(lambda: bool(ann.of("user-connected")), "Bob's arrival")
        bob_acks = []
        for n in range(200):
            if n % 2:
                ann.run(ann.sio.emit("message", ({"type": "x-seq", "value": {"n": n}}, bob_id)))
            else:
                ann.run(ann.sio.emit("broadcast-message", {"type": "x-seq", "value": {"n": n}}))
            if n % 20 == 0:  # Bob's own acks travel on the same connection, between Ann's messages
                bob_acks.append(bob.emit("broadcast-message", {"type": "x-other", "value": {"n": n}}, ack=True))
        ann.sync()
        bob.sync()
        assert raw_numbers(bob) == list(range(200))
        assert all(bob.acks[i][0]["msg"] == "Message sent" for i in bob_acks)
        acks_in_order = [int(m.group(1)) for p in bob.received if isinstance(p, str)
                         for m in [re.match(r"43(\d+)\[", p)] if m]
        assert acks_in_order == sorted(acks_in_order) and set(bob_acks) <= set(acks_in_order)
    ann.wait(lambda: len(ann.numbers("x-other")) >= 10, "Bob's messages")
    assert ann.numbers("x-other") == list(range(0, 200, 20))


def test_a_recipient_that_upgrades_mid_stream_gets_everything_once_in_order(server: RoomchatProcess,
                                                                            recipients: Any) -> None:
    """Bob joins on long-polling while Ann streams, then upgrades to WebSocket: no gap, no duplicate, no reorder."""
    room = "upgrade-mid-stream"
    started, stop = threading.Event(), threading.Event()
    sent: list[int] = []
    with RawClient(server.url, "websocket", timeout=30) as ann:
        ann.join(room, name="Ann")

        def stream() -> None:  # paced, so the stream spans Bob's join and upgrade; bounded in count
            for n in range(20_000):
                if stop.is_set():
                    return
                ann.send("42" + json.dumps(["broadcast-message", {"type": "x-seq", "value": {"n": n}}]))
                sent.append(n)
                if n == 100:
                    started.set()
                stop.wait(0.0005)

        streamer = threading.Thread(target=stream, daemon=True)
        streamer.start()
        assert started.wait(20)
        bob = recipients(room, "Bob", "upgrade")
        bob.wait(lambda: bob.sio.transport() == "websocket" and len(bob.numbers()) > 300, "the upgrade, and more")
        stop.set()
        streamer.join(20)
        last = sent[-1] + 1
        ann.send("42" + json.dumps(["broadcast-message", {"type": "x-seq", "value": {"n": last}}]))
        bob.wait(lambda: last in bob.numbers(), "the last message", timeout=60)
    got = bob.numbers()
    assert got == list(range(got[0], last + 1)), "a gap, a duplicate or a reorder across the upgrade"
    assert bob.of("initial-response") and got[0] > 100 and bob.sio.transport() == "websocket"


def test_a_paused_transport_is_not_written_past_and_gets_everything_once_it_reads(
        server: RoomchatProcess, joiner: Joiner) -> None:
    """A raw client with a tiny receive buffer stops reading while ~600 KB (under the cap) are broadcast to it."""
    room = "paused"
    ann = joiner(room, name="Ann")
    with RawClient(server.url, "websocket", rcvbuf=4096, timeout=20) as slow:
        slow.join(room, name="Slow")
        ann.wait_for("user-connected", lambda p: p["data"]["name"] == "Slow")
        pad = "p" * 3000
        count = 200
        for n in range(count):  # Slow reads nothing meanwhile: its transport pauses, the rest waits in the outbox
            assert ann.broadcast("x-seq", {"n": n, "pad": pad})["msg"] == "Message sent"
        slow.wait_until(lambda: len(slow.of("message")) >= count, "every message", timeout=30)
        assert [p["data"]["message"]["value"]["n"] for p in slow.of("message")] == list(range(count))
        slow.sync()
    assert "slow_consumer" not in server.log()


def test_a_client_that_vanishes_mid_flush_costs_nobody_anything(server: RoomchatProcess, joiner: Joiner) -> None:
    """A connection reset while frames wait for it: the others get every message, the server stays healthy."""
    room = "vanish"
    ann = joiner(room, name="Ann")
    bob = joiner(room, name="Bob", transport="polling")
    raw = RawClient(server.url, "websocket", rcvbuf=4096, timeout=20)
    raw.join(room, name="Gone")
    ann.wait_for("user-connected", lambda p: p["data"]["name"] == "Gone")
    for n in range(100):
        ann.emit("broadcast-message", {"type": "x-seq", "value": {"n": n, "pad": "v" * 2000}})
        if n == 50:
            assert raw.ws is not None
            raw.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            raw.ws.sock.close()  # RST with unread data, while the server has frames waiting for it
    ann.wait_for("user-disconnected", lambda p: p["data"]["name"] == "Gone", timeout=20)
    sync(ann, bob)
    assert numbers(bob) == list(range(100))
    assert "Traceback" not in server.log()


def test_the_cap_closes_a_paused_websocket_on_the_fast_path(tmp_path: Path) -> None:
    """Frames held in the outbox past a paused transport count toward server.max_pending_output."""
    limit = 200 * 1024
    server = start_server(base_config(ping_interval=25, ping_timeout=20, max_pending_output=limit), tmp_path)
    try:
        with ChatClient(server.url, room="cap", name="Ann") as ann, \
                RawClient(server.url, "websocket", rcvbuf=4096, timeout=20) as mallory:
            mallory.join("cap", name="Mallory")
            ann.wait_for("user-connected", lambda p: p["data"]["name"] == "Mallory")
            for n in range(2000):  # up to ~20 MB, but the cap closes Mallory well before
                ann.emit("broadcast-message", {"type": "x-seq", "value": {"n": n, "pad": "c" * 10_000}})
                if n % 20 == 0 and "event=slow_consumer" in server.log():
                    break
            wait_for(lambda: "event=slow_consumer" in server.log(), "the slow consumer to be closed", 30)
            line = next(ln for ln in server.log().splitlines() if "event=slow_consumer" in ln)
            assert mallory.sid in line and "transport=websocket" in line
            pending = int(re.search(r"pending=(\d+)", line).group(1))  # type: ignore[union-attr]
            assert limit < pending <= limit + 10_200
            ann.wait_for("user-disconnected", lambda p: p["data"]["name"] == "Mallory", timeout=20)
            assert ann.broadcast("text", "still here")["msg"] == "Message sent"
    finally:
        server.stop()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_an_emit_is_answered_alike_on_the_short_route_and_through_python_socketio(
        server: RoomchatProcess, transport: str) -> None:
    """``42<id>[...]`` takes SocketServer's one-step route; ``42/,<id>[...]`` (the same emit) python-socketio's.

    Both are delivered, in order, and answered with the same ack; refusals too
    (an unknown event, a message of the wrong shape, JSON nested too deep).
    """
    room = f"routes-{transport}"
    with RawClient(server.url, "websocket", timeout=20) as bob, \
            RawClient(server.url, transport, timeout=20) as ann:  # type: ignore[arg-type]
        bob.join(room, name="Bob")
        ann.join(room, name="Ann")
        bob_id = ann.of("initial-response")[0]["data"][0]["ID"]
        too_deep = "[" * 200 + "]" * 200
        emits = [
            ('["message",{"type":"x-seq","value":{"n":%d}},%d]', True),
            ('["broadcast-message",{"type":"x-seq","value":{"n":%d}}]', True),
            ('["no-such-event",{"n":%d}]', False),
            ('["message",{"type":"x-seq","value":{"n":%d,"deep":' + too_deep + '}},%d]', False),
            ('["message",%d]', False),
        ]
        answers: dict[str, list[Any]] = {"short": [], "long": []}
        n = 0
        for template, delivered in emits:
            for route, namespace in (("short", ""), ("long", "/,")):
                body = template % ((n, bob_id) if template.count("%d") == 2 else (n,))
                ack_id = 1000 + n
                ann.send(f"42{namespace}{ack_id}{body}")
                ack = ann.wait_ack(ack_id)
                answers[route].append(ack["msg"] if delivered else ack["data"]["code"])
                n += 1
        assert answers["short"] == answers["long"]
        assert answers["short"] == ["Message sent", "Message sent", "invalid_message", "invalid_message",
                                    "invalid_message"]
        bob.sync()
        assert raw_numbers(bob) == [0, 1, 2, 3]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_quiet_connection_outlives_the_ping_timeout_on_timer_pings(server: RoomchatProcess, transport: str) -> None:
    """Pings come from a timer per connection (no task): a client that answers them stays, past interval + timeout."""
    with RawClient(server.url, transport, timeout=30) as raw:  # type: ignore[arg-type]
        raw.join("pings", name="Quiet")
        interval = raw.handshake["pingInterval"] / 1000
        timeout = raw.handshake["pingTimeout"] / 1000
        pings = 2 + int((interval + timeout) / interval)  # answered pings spanning more than interval + timeout
        raw.wait_until(lambda: sum(p == "2" for p in raw.received) >= pings, f"{pings} pings",
                       timeout=pings * interval + 20)
        raw.sync()  # still connected and served


def test_permessage_deflate_connections_take_the_stock_path_in_order(tmp_path: Path) -> None:
    """With websocket_compression on, a client that negotiates deflate gets compressed frames, all, in order."""
    from websockets.sync.client import connect

    server = start_server(base_config(websocket_compression=True), tmp_path)
    try:
        ws_url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        with connect(ws_url, compression="deflate", open_timeout=10) as deflated, \
                RawClient(server.url, "websocket", timeout=20) as ann:
            assert deflated.protocol.extensions, "the client and server did not negotiate permessage-deflate"
            assert str(deflated.recv(10)).startswith("0")
            deflated.send("40" + json.dumps({"room": "deflate", "name": "Zip"}))
            got: list[int] = []

            def read_until(done: Any) -> None:
                while not done():
                    frame = str(deflated.recv(20))
                    if frame == "2":
                        deflated.send("3")
                    elif frame.startswith('42["message"'):
                        got.append(json.loads(frame[2:])[1]["data"]["message"]["value"]["n"])
                    elif frame.startswith('42["initial-response"'):
                        got.append(-1)

            read_until(lambda: -1 in got)
            ann.join("deflate", name="Ann")
            ann.send_many(["42" + json.dumps(["broadcast-message", {"type": "x-seq", "value": {"n": n}}])
                           for n in range(300)])
            read_until(lambda: len(got) >= 301)
            assert got == [-1, *range(300)]
    finally:
        server.stop()
