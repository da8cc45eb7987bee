"""The TickFlusher (roomchat/transport/frames.py): one connection whose write fails never silences the others.

A connection is marked once per flush (``RoomchatWebSocketProtocol.marked``),
so one the flusher took off its list without writing would never be marked,
hence never written, again: its client still connected, its pings and every
message to it gone. These tests drive the flusher with connections whose
``flush`` raises, the others of the same pass beside them, and check the
protocol's own answer to a failed flush (logged once, with its sid; the
connection ended).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from roomchat.transport.frames import TickFlusher


class Conn:
    """A marked connection: counts its flushes, raises on them when told to."""

    def __init__(self, name: str, fails: bool = False) -> None:
        self.name = name
        self.fails = fails
        self.flushed = 0
        self.failures: list[Exception] = []

    def flush(self) -> None:
        self.flushed += 1
        if self.fails:
            raise OSError(f"{self.name}: the write failed")

    def flush_failed(self, exc: Exception) -> None:
        self.failures.append(exc)


@pytest.fixture
def loop() -> Any:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def run_pass(loop: asyncio.AbstractEventLoop) -> None:
    """Let the loop run the callbacks scheduled so far (the flusher's flush_all among them)."""
    loop.run_until_complete(asyncio.sleep(0))


def test_flush_all_writes_every_connection_after_one_that_raises(loop: asyncio.AbstractEventLoop) -> None:
    flusher = TickFlusher(loop)
    before, broken, after = Conn("before"), Conn("broken", fails=True), Conn("after")
    for conn in (before, broken, after):
        flusher.mark(conn)
    run_pass(loop)  # before the fix: flush_all raised at "broken", and "after" was never written
    assert (before.flushed, broken.flushed, after.flushed) == (1, 1, 1)
    assert [str(e) for e in broken.failures] == ["broken: the write failed"]
    flusher.mark(after)  # the flusher goes on for the next pass
    run_pass(loop)
    assert after.flushed == 2


def test_flush_small_writes_both_connections_when_the_first_raises(loop: asyncio.AbstractEventLoop) -> None:
    flusher = TickFlusher(loop)
    broken, other = Conn("broken", fails=True), Conn("other")
    flusher.mark(broken)
    flusher.mark(other)
    flusher.flush_small(2)  # before the fix: raised into the caller (the reader), "other" left marked for ever
    assert (broken.flushed, other.flushed) == (1, 1)
    assert len(broken.failures) == 1


def test_a_failing_flush_failed_does_not_stop_the_pass(loop: asyncio.AbstractEventLoop,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    class Worse(Conn):
        def flush_failed(self, exc: Exception) -> None:
            raise RuntimeError("and ending it failed too")

    flusher = TickFlusher(loop)
    worse, other = Worse("worse", fails=True), Conn("other")
    flusher.mark(worse)
    flusher.mark(other)
    with caplog.at_level(logging.ERROR, logger="roomchat.server"):
        flusher.flush_all()
    assert other.flushed == 1
    assert "ending a connection whose flush failed" in caplog.text


def test_the_protocol_logs_a_failed_flush_once_with_its_sid_and_ends_the_connection(
        caplog: pytest.LogCaptureFixture) -> None:
    from roomchat.transport.websocket import RoomchatWebSocketProtocol

    class Transport:
        aborted = 0

        def is_closing(self) -> bool:
            return self.aborted > 0

        def abort(self) -> None:
            self.aborted += 1

    proto = RoomchatWebSocketProtocol.__new__(RoomchatWebSocketProtocol)  # only what flush_failed uses
    proto.sid, proto.flush_broken, proto.marked = "eio-sid-1", False, True
    proto.outbox, proto.outbox_size, proto.backlog = [b"frame"], 5, None
    proto.transport = Transport()  # type: ignore[assignment]
    with caplog.at_level(logging.ERROR, logger="roomchat.server"):
        proto.flush_failed(OSError("boom"))
        proto.flush_failed(OSError("boom again"))
    lines = [r for r in caplog.records if r.getMessage() == "flush_failed"]
    assert len(lines) == 1
    assert lines[0].fields == {"eio_sid": "eio-sid-1", "error": "OSError: boom"}  # type: ignore[attr-defined]
    assert proto.outbox == [] and proto.outbox_size == 0 and not proto.marked
    assert proto.transport.aborted == 1  # type: ignore[attr-defined]


class FakeTransport:
    """What the protocol's shutdown uses of an asyncio transport."""

    def __init__(self) -> None:
        self.closed = False
        self.written: list[bytes] = []

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write(self, data: bytes) -> None:
        self.written.append(data)


def test_shutdown_of_a_connection_already_closing_only_closes_it(loop: asyncio.AbstractEventLoop) -> None:
    """A connection whose client's close frame was answered, its transport not gone yet, at the server's shutdown.

    uvicorn's shutdown sent a second close frame, and websockets raised
    ``InvalidState: connection is closing`` out of uvicorn's loop over the
    connections: the others were not closed and the ASGI lifespan's shutdown
    (storage writes included) never ran (seen in servers' logs at SIGTERM).
    """
    import uvicorn
    from uvicorn.server import ServerState
    from websockets.protocol import State

    from roomchat.transport.websocket import RoomchatWebSocketProtocol

    async def app(scope: Any, receive: Any, send: Any) -> None:
        """Never called."""

    config = uvicorn.Config(app, ws_ping_interval=None)
    config.load()
    proto = RoomchatWebSocketProtocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    transport = FakeTransport()
    proto.transport = transport  # type: ignore[assignment]
    proto.handshake_complete = True
    proto.conn.state = State.CLOSING  # the client's close was received and answered
    proto.shutdown()  # before the fix: InvalidState
    assert transport.closed and transport.written == []
