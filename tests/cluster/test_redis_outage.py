"""Redis going away and coming back (restarted, empty): clear log lines, joins refused meanwhile, recovery."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from cluster_kit import ANN, BOB, CAT, Cluster, marker, presence_events

from roomchat.testing import JoinRefused, RoomchatProcess


def wait_log(server: RoomchatProcess, text: str, timeout: float = 15.0) -> None:
    """Wait until the server logged ``text`` (a bound on waiting, not a timing claim)."""
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, f"{server.url} never logged {text!r}:\n{server.log()[-3000:]}"
        time.sleep(0.05)


def wait_subscribed(cluster: Cluster, servers: int, timeout: float = 15.0) -> None:
    """Wait until every server's python-socketio listener and message feed are subscribed again."""
    store = cluster.redis.client()
    deadline = time.monotonic() + timeout
    for channel in (f"{cluster.prefix}:socketio", f"{cluster.prefix}:messages"):
        while dict(store.pubsub_numsub(channel)).get(channel.encode(), 0) < servers:
            assert time.monotonic() < deadline, f"the servers did not resubscribe to {channel}"
            time.sleep(0.05)


def health(server: RoomchatProcess) -> tuple[int, str]:
    """GET /healthz: its status code and ``status``."""
    try:
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as reply:
            return reply.status, json.load(reply)["status"]
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)["status"]


def test_redis_restart_is_survived_and_joins_are_refused_while_it_is_away(cluster: Cluster) -> None:
    s1, s2 = cluster.start(2)
    room = cluster.room()
    ann = cluster.join(s1, room, ANN)
    bob = cluster.join(s2, room, BOB)
    dan = cluster.join(s1, room, name="Dan")
    probe = marker(cluster, s2, room, [ann, bob])

    cluster.redis.stop()  # and its data with it: no persistence
    for server in (s1, s2):
        wait_log(server, "event=redis_down")
    with pytest.raises(JoinRefused) as refused:
        cluster.join(s2, room, CAT)
    assert refused.value.code == "unavailable" and "Redis" in refused.value.message
    assert ann.send(BOB, "text", "lost?")["data"]["code"] == "unavailable"  # refused, not silently dropped
    assert health(s1) == (503, "unavailable")  # a load balancer can steer new clients away
    dan.close()  # leaves while Redis is away
    # A server started while Redis is down starts anyway, and refuses joins.
    late = RoomchatProcess(cluster.config_path).start()
    cluster.servers.append(late)
    wait_log(late, "event=redis_down")
    with pytest.raises(JoinRefused) as refused:
        cluster.join(late, room, CAT)
    assert refused.value.code == "unavailable"

    cluster.redis.start()
    for server in (s1, s2):
        wait_log(server, "event=redis_up")
        wait_log(server, "event=redis_data_lost")
        wait_log(server, "event=cluster_resync")
    wait_log(late, "event=redis_up")  # it started during the outage: it refuses joins until its heartbeat gets through
    wait_subscribed(cluster, 3)
    cat = cluster.join(late, room, CAT)
    assert health(late) == (200, "ok")
    assert sorted(u["ID"] for u in cat.users) == sorted([ANN, BOB, CAT, probe.id])  # the servers put them back
    for watcher in (ann, bob):
        watcher.wait_for("user-connected", lambda p: p["data"]["ID"] == CAT)
        # Dan left while Redis was away: once the cluster compared notes, everyone is told, once.
        watcher.wait_for("user-disconnected", lambda p: p["data"]["ID"] == dan.id, timeout=15)
    marker(cluster, s1, room, [ann, bob, cat])
    # Re-registered after the restart, but they never left: no news.
    assert presence_events(ann, BOB) == ["user-connected"]  # from when Bob arrived, before the outage
    assert presence_events(bob, ANN) == []
    for watcher in (ann, bob):
        assert presence_events(watcher, CAT) == ["user-connected"]
        assert presence_events(watcher, dan.id) == ["user-connected", "user-disconnected"]
    assert ann.send(BOB, "text", "back")["msg"] == "Message sent"
    assert bob.wait_message(lambda m: m["message"]["value"] == "back")["from"] == ANN
