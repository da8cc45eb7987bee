"""A server that dies: its users leave every room within the bound, announced once; its bots move."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from cluster_kit import ANN, BOB, CAT, DEATH_BOUND, TEACHER, Cluster, RedisServer, marker, presence_events

BOT = 50


def connections(url: str) -> int:
    """The joined connections a server holds (``/healthz``)."""
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as reply:
        return json.loads(reply.read())["connections"]


def test_killed_server_users_disappear_from_the_other_servers_once(cluster: Cluster) -> None:
    s1, s2, s3 = cluster.start(3)
    room, other_room = cluster.room(), cluster.room()
    cluster.join(s1, room, ANN)
    guest = cluster.join(s1, room, name="Gus")
    cluster.join(s1, other_room, ANN)
    bob = cluster.join(s2, room, BOB)
    cat = cluster.join(s3, room, CAT)
    tess = cluster.join(s2, other_room, TEACHER)
    marker(cluster, s2, room, [bob, cat])
    s1.kill()  # SIGKILL: no goodbye, the heartbeat just stops
    for watcher in (bob, cat):
        for gone in (ANN, guest.id):
            watcher.wait_for("user-disconnected", lambda p, gone=gone: p["data"]["ID"] == gone, timeout=DEATH_BOUND)
    tess.wait_for("user-disconnected", lambda p: p["data"]["ID"] == ANN, timeout=DEATH_BOUND)
    marker(cluster, s3, room, [bob, cat])  # every later change arrived: a second notice would have too
    for watcher in (bob, cat):
        assert presence_events(watcher, ANN) == ["user-disconnected"]
        assert presence_events(watcher, guest.id) == ["user-disconnected"]
    # The dead server was removed from the room once, by one survivor.
    reaped = [s for s in (s2, s3) if "event=server_reaped" in s.log()]
    assert len(reaped) == 1, cluster.logs()
    newcomer = cluster.join(s3, room, name="Newcomer")
    assert ANN not in [u["ID"] for u in newcomer.users] and guest.id not in [u["ID"] for u in newcomer.users]


LEFT_PLUGIN = """
import logging
from roomchat import hookimpl


@hookimpl
def roomchat_user_left(room, user):
    logging.getLogger("roomchat.test").warning("hook=user_left room=%s user=%s", room, user.id)
"""


def test_plugins_hear_once_that_the_users_of_a_killed_server_left(redis_server: RedisServer, tmp_path: Path) -> None:
    plugin = tmp_path / "left_plugin.py"
    plugin.write_text(LEFT_PLUGIN, encoding="utf-8")
    cluster = Cluster(redis_server, tmp_path, plugins={"load": [str(plugin)]})
    try:
        s1, s2, s3 = cluster.start(3)
        room = cluster.room()
        cluster.join(s1, room, ANN)
        bob = cluster.join(s2, room, BOB)
        cat = cluster.join(s3, room, CAT)
        s1.kill()
        for watcher in (bob, cat):
            watcher.wait_for("user-disconnected", lambda p: p["data"]["ID"] == ANN, timeout=DEATH_BOUND)
        heard = f"hook=user_left room={room} user={ANN}"

        def times_heard() -> int:
            return s2.log().count(heard) + s3.log().count(heard)

        deadline = time.monotonic() + 10  # the reaper calls the hook right after its script
        while times_heard() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        marker(cluster, s3, room, [bob, cat])
        assert times_heard() == 1, cluster.logs()
    finally:
        cluster.close()


def test_a_server_stopped_cleanly_says_goodbye_at_once(cluster: Cluster) -> None:
    s1, s2 = cluster.start(2)
    room = cluster.room()
    cluster.join(s1, room, ANN)
    bob = cluster.join(s2, room, BOB)
    marker(cluster, s2, room, [bob])
    s1.stop()
    bob.wait_for("user-disconnected", lambda p: p["data"]["ID"] == ANN)
    assert "event=server_reaped" not in s2.log()  # nothing was left for the heartbeat to find
    assert "event=server_reaped" not in s1.log() and "event=cluster_left" in s1.log()  # leaving is no reaping
    store = cluster.redis.client()
    assert store.scard(f"{cluster.prefix}:servers") == 1


def test_a_rooms_bot_runs_once_and_moves_when_its_server_dies(redis_server: RedisServer, tmp_path: Path) -> None:
    cluster = Cluster(redis_server, tmp_path, bots=[{"kind": "echo", "ID": BOT, "name": "Echo", "rooms": ["botroom"]}])
    try:
        servers = cluster.start(3)
        deadline = time.monotonic() + 15
        while sum(connections(s.url) for s in servers) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        holders = [s for s in servers if connections(s.url)]
        assert len(holders) == 1, cluster.logs()  # one echo bot in the cluster, not one per server
        holder = holders[0]
        survivors = [s for s in servers if s is not holder]
        ann = cluster.join(survivors[0], "botroom", ANN)
        assert [u["ID"] for u in ann.users] == [BOT, ANN]
        assert ann.send(BOT, "text", "ping")["msg"] == "Message sent"
        assert ann.send(BOT, "text", "ping 2")["msg"] == "Message sent"
        ann.wait_message(lambda m: m["message"]["value"] == "ping 2")
        assert [m["message"]["value"] for m in ann.messages()].count("ping") == 1

        holder.kill()
        # The bot moves: a survivor takes its lease and starts it, and the dead server's connection is
        # reaped. The lease and the heartbeat expire together, so either may come first: Ann sees the bot
        # leave and come back, or (its new connection first) nothing at all, as for a user who reconnects.
        store = cluster.redis.client()
        bot_conns = f"{cluster.prefix}:room:botroom:conns:{BOT}"
        deadline = time.monotonic() + DEATH_BOUND + 5
        while time.monotonic() < deadline and not (
                sum(connections(s.url) for s in survivors) == 2 and len(store.hkeys(bot_conns)) == 1):
            time.sleep(0.05)
        assert sum(connections(s.url) for s in survivors) == 2  # Ann and the bot, on one of the two
        assert len(store.hkeys(bot_conns)) == 1  # the dead server's connection reaped
        if any(p["data"]["ID"] == BOT for p in ann.received("user-disconnected")):
            ann.wait_for("user-connected", lambda p: p["data"]["ID"] == BOT, timeout=DEATH_BOUND)
        assert ann.send(BOT, "text", "after")["msg"] == "Message sent"
        assert ann.send(BOT, "text", "after 2")["msg"] == "Message sent"
        ann.wait_message(lambda m: m["message"]["value"] == "after 2")
        assert [m["message"]["value"] for m in ann.messages()].count("after") == 1

        # A server that stops cleanly hands its bot over at once (no waiting for the lease to expire).
        second = survivors[1] if connections(survivors[1].url) else survivors[0]  # Ann is on survivors[0]
        last = survivors[0] if second is survivors[1] else survivors[1]
        cat = cluster.join(last, "botroom", CAT)
        second.stop()
        cat.wait_for("user-disconnected", lambda p: p["data"]["ID"] == BOT, timeout=DEATH_BOUND)
        cat.wait_for("user-connected", lambda p: p["data"]["ID"] == BOT, timeout=DEATH_BOUND)
        assert "event=lease_taken" in last.log()
    finally:
        cluster.close()
