"""Clients that stop answering pings (a closed laptop lid) never freeze a room, the server's sweep or shutdown.

An emit that reaches a connection past its ping timeout makes python-engineio
close it and run the disconnect handler inside the emit. Join and leave
announcements used to be emitted under the room's lock, which that handler
needs: the room froze (newcomers never got ``initial-response``), the
ping-timeout sweep died with it, and SIGTERM never finished. Each test here
runs its own server (a frozen one must not take the next test with it) with a
one-second heartbeat, and bounds every wait.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatkit import base_config, start_server
from stalekit import PING, churn_until, gone, stale_client

from roomchat.testing import ChatClient, RoomchatProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RoomchatProcess]:
    """A server of its own with a one-second heartbeat."""
    process = start_server(base_config(**PING), tmp_path)
    yield process
    process.stop(timeout=5)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize("count", [1, 3])
def test_room_keeps_welcoming_newcomers_past_stale_clients(server: RoomchatProcess, transport: str,
                                                            count: int) -> None:
    observer = ChatClient(server.url, room="lobby-x", name="Olive")
    stale = [stale_client(server.url, "lobby-x", transport, f"Lid {i}") for i in range(count)]
    for s in stale:
        observer.wait_for("user-connected", lambda p, i=s.id: p["data"]["ID"] == i)
    # Newcomers come and go while the stale clients time out and are closed: every newcomer
    # gets its list, the observer hears every join and leave, and every stale client's leave.
    churn_until([server.url], "lobby-x", [observer], gone(observer, [s.id for s in stale]),
                "the stale clients to be closed")
    last = ChatClient(server.url, room="lobby-x", name="Last")
    assert [u["ID"] for u in last.users] == [observer.id, last.id]  # no stale client left in the list
    observer.wait_for("user-connected", lambda p: p["data"]["ID"] == last.id)
    for client in (last, observer, *(s.raw for s in stale)):
        client.close()


def test_ping_timeout_sweep_keeps_reaping_after_stale_pollers_in_one_room(server: RoomchatProcess) -> None:
    # Long-polling clients are closed only by python-engineio's sweep (or an emit that finds them):
    # the sweep closing one ran its leave, whose announcement reached the other and stopped the sweep.
    observer = ChatClient(server.url, room="den", name="Olive")
    stale = [stale_client(server.url, "den", "polling", f"Lid {i}") for i in range(2)]
    observer.wait_for("user-disconnected", count=2, timeout=15)
    assert gone(observer, [s.id for s in stale])()
    # Later stale clients, in another room, are closed too: the sweep is alive.
    watcher = ChatClient(server.url, room="attic", name="Walt")
    later = stale_client(server.url, "attic", "polling", "Later lid")
    watcher.wait_for("user-disconnected", lambda p: p["data"]["ID"] == later.id, timeout=15)
    for client in (watcher, observer, later.raw, *(s.raw for s in stale)):
        client.close()


def test_sigterm_finishes_with_stale_clients_in_a_room(server: RoomchatProcess) -> None:
    observer = ChatClient(server.url, room="den", name="Olive")
    stale = [stale_client(server.url, "den", transport, f"Lid {i}")
             for i, transport in enumerate(["polling", "polling", "websocket"])]
    observer.wait_for("user-disconnected", timeout=15)  # the first stale client was found and closed
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"SIGTERM did not stop the server; its log:\n{server.log()[-3000:]}")
    assert "event=stopped" in server.log()
    for s in stale:
        s.raw.close()
