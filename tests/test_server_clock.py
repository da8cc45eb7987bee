"""The server's clock moves everything that reads the time: a server on a FakeClock, moved by the test.

Delivery times, the in-memory rate limiter and key-value expiry read the
server's Clock (roomchat/clock.py), so ``advance(seconds)`` moves them
without sleeping. Each of these read the real time before issue 11.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from roomchat.clock import FakeClock
from roomchat.testing import ChatClient, RoomchatThread

START = 1_700_000_000.0  # FakeClock's default start
CONFIG = {"rooms": {"slow": {"admit": ["guests"], "rate_limit": {"messages": 2, "per_seconds": 10}}}}


@pytest.fixture
def server() -> Iterator[RoomchatThread]:
    with RoomchatThread(CONFIG, clock=FakeClock(START)) as running:
        yield running


def test_a_messages_time_is_the_servers_clock(server: RoomchatThread) -> None:
    with ChatClient(server.url, room="slow", name="Ann") as ann, ChatClient(server.url, room="slow", name="Bob") as bob:
        assert ann.broadcast("text", "now")["data"]["time"] == int(START * 1000)
        assert bob.wait_message()["time"] == int(START * 1000)
        server.advance(90.5)
        assert ann.broadcast("text", "later")["data"]["time"] == int((START + 90.5) * 1000)


def test_the_rate_limit_refills_as_the_servers_clock_moves(server: RoomchatThread) -> None:
    with ChatClient(server.url, room="slow", name="Ann") as ann:
        codes = [ann.broadcast("text", str(n))["data"].get("code") for n in range(3)]
        assert codes == [None, None, "rate_limited"]
        server.advance(5)  # half the window: one message's worth
        assert ann.broadcast("text", "one more")["data"].get("code") is None
        assert ann.broadcast("text", "too soon")["data"]["code"] == "rate_limited"
        server.advance(10)
        assert [ann.broadcast("text", "again")["data"].get("code") for _ in range(2)] == [None, None]


def test_the_key_value_stores_expiry_is_the_servers_clock(server: RoomchatThread) -> None:
    store = server.chat.plugins.view("poll").store
    server.call(store.set("brief", 1, ttl=10))
    server.call(store.hash_set("tally", "ann", 1, ttl=30))
    server.advance(9)
    assert server.call(store.get("brief")) == 1
    server.advance(2)
    assert server.call(store.get("brief")) is None
    assert server.call(store.hash_get_all("tally")) == {"ann": 1}
    server.advance(20)
    assert server.call(store.hash_get_all("tally")) == {}
