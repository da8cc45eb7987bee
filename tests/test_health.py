"""``GET /healthz`` says 503 when the server answers but no longer does its work, and ok otherwise.

Each failure is produced for real: synchronous work that blocks the event
loop (what a catastrophic regular expression does), and a disconnect that
cannot finish (a room's lock held, as the stale-client deadlock held it), so
python-engineio's ping-timeout sweep stops. The test-only plugin is
``stalekit.HOLD_PLUGIN``. The cluster's presence feed: tests/cluster/test_feed_health.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chatkit import base_config, start_server
from stalekit import PING, health, stale_client, wait_health, write_hold_plugin

from roomchat.testing import ChatClient, RoomchatProcess


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., RoomchatProcess]]:
    """Start a server of its own (the test plugin loaded, a one-second heartbeat) with extra server settings."""
    started: list[RoomchatProcess] = []

    def start(**server: Any) -> RoomchatProcess:
        config = base_config(**PING, **server)
        config["plugins"]["load"].append(write_hold_plugin(tmp_path))
        process = start_server(config, tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop(timeout=5)


def test_a_stuck_event_loop_is_unhealthy(serve: Callable[..., RoomchatProcess]) -> None:
    server = serve()  # the defaults: a loop more than 1 s late is stuck
    ann = ChatClient(server.url, room="den", name="Ann")
    assert health(server.url) == (200, {"status": "ok", "connections": 1})
    ack = ann.call("broadcast-message", {"type": "x-block-loop", "value": 1.5}, timeout=10)
    assert ack["msg"] == "Message sent"  # answered once the loop ran again
    status, body = health(server.url)
    assert status == 503 and body["status"] == "unhealthy"
    assert "event loop" in body["reason"] and "limit 1 s" in body["reason"], body
    ann.close()


def test_the_server_is_healthy_again_after_the_lag_is_reported(serve: Callable[..., RoomchatProcess]) -> None:
    server = serve(health={"max_loop_lag": 0.3, "report_for": 1})
    ann = ChatClient(server.url, room="den", name="Ann")
    ann.call("broadcast-message", {"type": "x-block-loop", "value": 0.8})
    assert "event loop" in wait_health(server.url, 503)["reason"]
    assert wait_health(server.url, 200) == {"status": "ok", "connections": 1}
    ann.close()


def test_a_stuck_ping_timeout_sweep_is_unhealthy(serve: Callable[..., RoomchatProcess]) -> None:
    server = serve()
    holder = ChatClient(server.url, room="den", name="Holder")
    stale = stale_client(server.url, "den", "polling", "Lid")
    # The sweep finds the stale client past its ping timeout and runs its disconnect, which waits for
    # the room's lock: held here, so the sweep stops, and later stale clients stay open.
    assert holder.call("broadcast-message", {"type": "x-hold-room-lock"})["msg"] == "Message sent"
    watcher = ChatClient(server.url, room="attic", name="Walt")
    later = stale_client(server.url, "attic", "polling", "Later lid")
    body = wait_health(server.url, 503, timeout=30)
    assert body["status"] == "unhealthy" and "ping-timeout sweep is stuck" in body["reason"], body
    # Released: the disconnect finishes, the sweep goes on and closes the later one; healthy again.
    assert holder.call("broadcast-message", {"type": "x-release-room-lock"})["msg"] == "Message sent"
    holder.wait_for("user-disconnected", lambda p: p["data"]["ID"] == stale.id, timeout=10)
    watcher.wait_for("user-disconnected", lambda p: p["data"]["ID"] == later.id, timeout=15)
    assert wait_health(server.url, 200) == {"status": "ok", "connections": 2}
    for client in (holder, watcher, stale.raw, later.raw):
        client.close()
