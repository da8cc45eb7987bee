"""A client that stops reading is closed once the server holds too much for it (issue 9).

It used to make the server keep everything its room sent it, without bound
(72 -> 187 MB in 40 s, until the ping timeout). Now each connection may have
at most ``server.max_pending_output`` bytes pending (roomchat/backlog.py); past
that, that one connection is closed (``event=slow_consumer``) and everyone else
keeps receiving everything. The heartbeat here is long (25 s + 20 s), so only
the cap can close the connection within the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatkit import Joiner, base_config, start_server, sync
from rawio import RawClient, RawClosed

from roomchat.backlog import Backlog, encoded_size
from roomchat.testing import ChatClient, RoomchatProcess

LIMIT = 256 * 1024
BIG = "x" * 30_000  # one broadcast of ~30 KB: the cap is reached in tens of messages, not thousands
MAX_SENDS = 600  # ~18 MB at most, past the kernel's socket buffers (4 MB here) and the cap


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    """A server with a small cap and a heartbeat too slow to close anyone during a test."""
    config = base_config(ping_interval=25, ping_timeout=20, max_pending_output=LIMIT)
    server = start_server(config, tmp_path_factory.mktemp("slow"))
    yield server
    server.stop()


@pytest.fixture
def joiner(slow_server: RoomchatProcess) -> Iterator[Joiner]:
    """Real clients of the slow server, closed at the end of the test."""
    joins = Joiner(slow_server, "websocket")
    yield joins
    joins.close_all()


def overflow_lines(server: RoomchatProcess, eio_sid: str) -> list[str]:
    """The server's slow_consumer lines about one Engine.IO connection."""
    return [line for line in server.log().splitlines() if "event=slow_consumer" in line and eio_sid in line]


def flood_until_closed(server: RoomchatProcess, sender: ChatClient, slow: RawClient) -> int:
    """Broadcast big messages (each acked) until the server closes ``slow`` for its backlog; how many were sent."""
    for sent in range(1, MAX_SENDS + 1):
        assert sender.broadcast("x-bulk", {"n": sent, "pad": BIG})["msg"] == "Message sent"
        if overflow_lines(server, slow.sid):
            return sent
    raise AssertionError(f"{MAX_SENDS} messages of {len(BIG)} bytes did not close the client that stopped reading")


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_client_that_stops_reading_is_closed_and_the_others_get_everything(
        slow_server: RoomchatProcess, joiner: Joiner, transport: str, request: pytest.FixtureRequest) -> None:
    room = f"slow-{transport}"
    sender = joiner(room, name="Sender")
    readers = [joiner(room, name="WsReader"), joiner(room, name="PollReader", transport="polling")]
    # A tiny receive buffer: the server's writes back up to it soon after Mallory stops reading.
    mallory = RawClient(slow_server.url, transport, rcvbuf=4096)  # type: ignore[arg-type]
    request.addfinalizer(mallory.close)
    mallory.join(room, name="Mallory")
    for reader in [sender, *readers]:
        reader.wait_for("user-connected", lambda p: p["data"]["name"] == "Mallory")

    sent = flood_until_closed(slow_server, sender, mallory)  # Mallory reads nothing from here on

    line = overflow_lines(slow_server, mallory.sid)[0]
    pending = int(re.search(r"pending=(\d+)", line).group(1))  # type: ignore[union-attr]
    assert LIMIT < pending <= LIMIT + len(BIG) + 1000  # held at most the cap and one more message
    assert f"transport={transport}" in line
    for reader in [sender, *readers]:  # Mallory left as on any disconnect ...
        reader.wait_for("user-disconnected", lambda p: p["data"]["name"] == "Mallory", timeout=10)
    for reader in readers:  # ... and everyone else got every message, in order
        reader.wait_message(count=sent)
        assert [m["message"]["value"]["n"] for m in reader.messages()] == list(range(1, sent + 1))
    assert isinstance(mallory.wait_closed(timeout=20), RawClosed)  # the transport is gone too
    assert sender.broadcast("text", "after")["msg"] == "Message sent"
    sync(sender, *readers)


def test_a_client_that_keeps_reading_is_never_closed(slow_server: RoomchatProcess, joiner: Joiner) -> None:
    """Four times the cap through a client that reads: the cap is on what is pending, not on what is sent."""
    room = "slow-reader"
    sender = joiner(room, name="Sender")
    with RawClient(slow_server.url, "websocket") as reader:
        reader.join(room, name="Reader")
        sender.wait_for("user-connected")
        count = 4 * LIMIT // len(BIG)
        for n in range(1, count + 1):
            assert sender.broadcast("x-bulk", {"n": n, "pad": BIG})["msg"] == "Message sent"
            reader.wait_event("message", count=n, timeout=10)
        assert not overflow_lines(slow_server, reader.sid)
        assert reader.closed is None


def test_a_single_event_larger_than_the_cap_is_delivered(tmp_path: Path) -> None:
    """The cap is checked before taking on more, so one big event (a long user list) always goes out."""
    server = start_server(base_config(max_pending_output=64 * 1024), tmp_path)
    try:
        joins = Joiner(server, "websocket")
        ann, bob = joins("big", name="Ann"), joins("big", name="Bob")
        huge = "y" * 60_000
        for _ in range(3):  # each ~60 KB, nearly the whole cap; Bob reads, so nothing piles up
            assert ann.broadcast("x-bulk", huge)["msg"] == "Message sent"
        bob.wait_message(count=3)
        assert [m["message"]["value"] for m in bob.messages()] == [huge] * 3
        assert "slow_consumer" not in server.log()
        joins.close_all()
    finally:
        server.stop()


# -- the accounting itself (roomchat/backlog.py) ----------------------------------------------------


def test_backlog_refuses_once_past_the_limit_and_overflows_once() -> None:
    overflows: list[Backlog] = []
    backlog = Backlog(100, overflows.append)
    assert backlog.add(60) and backlog.add(60)  # 60 pending: within the limit, so 60 more are taken
    assert backlog.pending == 120
    assert not backlog.add(1)  # past the limit: refused, and the connection is to be closed
    assert not backlog.add(1)
    assert overflows == [backlog]
    backlog.done(120)
    assert backlog.pending == 0 and not backlog.add(1)  # once overflowed, always refused


def test_backlog_counts_the_transport_buffer_and_aborts_it() -> None:
    buffered = [0]
    aborted: list[bool] = []
    backlog = Backlog(1000, lambda b: None)
    backlog.attach_transport(lambda: buffered[0], lambda: aborted.append(True))
    assert backlog.add(10)
    buffered[0] = 2000  # a fast path wrote straight to the transport, which the peer does not read
    assert backlog.pending == 2010 and not backlog.add(10)
    assert backlog.abort_transport() and aborted == [True]


def test_encoded_size_is_utf8_bytes() -> None:
    assert encoded_size('42["message",{"a":1}]') == 21
    assert encoded_size("é€😀") == 2 + 3 + 4
    assert encoded_size(b"\x00\x01") == 2


def test_the_cap_is_a_config_key_with_a_floor(tmp_path: Path) -> None:
    from roomchat.config import Config

    assert Config().server.max_pending_output == 4 * 1024 * 1024
    with pytest.raises(ValueError, match="max_pending_output"):
        Config.model_validate({"server": {"max_pending_output": 1000}})
