"""Stale clients on one server of a cluster never stop its presence feed (issue 9).

The feed applies the presence stream under each room's lock and used to emit
``user-connected`` / ``user-disconnected`` there: an emit reaching a client
past its ping timeout ran that client's disconnect, which waits for the same
lock, and the feed stopped for every room of that server. Users there stopped
seeing joins on the other servers, direct messages to those users were
refused with ``user_not_found``, and ``/healthz`` said ok. Helpers: stalekit.py.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from cluster_kit import ANN, BOB, CAT, Cluster, RedisServer
from stalekit import PING, churn_until, gone, health, stale_client


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_presence_feed_and_direct_messages_keep_working_past_stale_clients(
        redis_server: RedisServer, tmp_path: Path, transport: str) -> None:
    cluster = Cluster(redis_server, tmp_path, server=PING)
    try:
        s1, s2 = cluster.start(2)
        room = cluster.room()
        ann = cluster.join(s1, room, ANN)  # beside the stale clients
        bob = cluster.join(s2, room, BOB)
        stale = [stale_client(s1.url, room, transport, f"Lid {i}") for i in range(2)]
        for s in stale:
            for watcher in (ann, bob):
                watcher.wait_for("user-connected", lambda p, i=s.id: p["data"]["ID"] == i, timeout=10)
        # Newcomers on both servers come and go while the stale clients time out and are closed:
        # Ann, on the stale clients' server, hears every one (its feed is alive), and both hear the leaves.
        churn_until([s2.url, s1.url], room, [ann, bob],
                    lambda: gone(ann, [s.id for s in stale])() and gone(bob, [s.id for s in stale])(),
                    "both servers to see the stale clients leave")
        # Afterwards a user who joins on one server is known on the other: direct messages both ways.
        other = cluster.room()
        cat = cluster.join(s1, other, CAT)
        dan = cluster.join(s2, other, name="Dan")
        cat.wait_for("user-connected", lambda p: p["data"]["ID"] == dan.id, timeout=10)
        assert cat.send(dan.id, "text", "across")["msg"] == "Message sent"
        assert dan.wait_message()["message"]["value"] == "across"
        assert dan.send(CAT, "text", "and back")["msg"] == "Message sent"
        assert cat.wait_message()["message"]["value"] == "and back"
        assert health(s1.url)[0] == 200 and health(s2.url)[0] == 200
        for s in stale:
            s.raw.close()
    finally:
        cluster.close()


def test_sigterm_finishes_on_a_cluster_server_with_stale_clients(redis_server: RedisServer, tmp_path: Path) -> None:
    cluster = Cluster(redis_server, tmp_path, server=PING)
    try:
        s1, s2 = cluster.start(2)
        room = cluster.room()
        ann = cluster.join(s1, room, ANN)  # first on s1: python-engineio's sweep then comes by each stale
        bob = cluster.join(s2, room, BOB)  # client after both timed out, as it does on a busy server
        stale = [stale_client(s1.url, room, "polling", f"Lid {i}") for i in range(2)]
        # The first stale client was found and closed; its leave went through s1's feed to the other.
        bob.wait_for("user-disconnected", lambda p: p["data"]["ID"] in {s.id for s in stale}, timeout=15)
        assert s1.proc is not None
        s1.proc.send_signal(signal.SIGTERM)
        try:
            s1.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"SIGTERM did not stop the server; its log:\n{s1.log()[-3000:]}")
        assert "event=stopped" in s1.log()
        # It left the cluster cleanly: the other server tells its users that both stale clients are gone.
        bob.wait_for("user-disconnected", count=2, timeout=15)
        assert gone(bob, [s.id for s in stale])()
        bob.wait_for("user-disconnected", lambda p: p["data"]["ID"] == ANN, timeout=15)
        assert ann.disconnect_reason is not None
        for s in stale:
            s.raw.close()
    finally:
        cluster.close()
