"""A cluster server whose presence feed stalls says so on ``/healthz`` (503), and ok once it moves again.

The stall is real: the feed waits for a room's lock, held by the test plugin
(stalekit.HOLD_PLUGIN) as the stale-client deadlock held it, while another
server's join in that room waits in the stream.
"""

from __future__ import annotations

from pathlib import Path

from cluster_kit import ANN, BOB, CAT, Cluster, RedisServer
from stalekit import health, wait_health, write_hold_plugin


def test_a_stalled_presence_feed_is_unhealthy(redis_server: RedisServer, tmp_path: Path) -> None:
    plugin = write_hold_plugin(tmp_path)
    cluster = Cluster(redis_server, tmp_path, plugins={"load": [plugin]})  # health defaults: 5 s of stall
    try:
        s1, s2 = cluster.start(2)
        room = cluster.room()
        ann = cluster.join(s1, room, ANN)
        bob = cluster.join(s2, room, BOB)
        ann.wait_for("user-connected", lambda p: p["data"]["ID"] == BOB, timeout=10)
        assert health(s1.url) == (200, {"status": "ok", "connections": 1})
        assert ann.call("broadcast-message", {"type": "x-hold-room-lock"})["msg"] == "Message sent"
        cat = cluster.join(s2, room, CAT)  # s1's feed must apply this join in Ann's room, and cannot
        body = wait_health(s1.url, 503, timeout=30)
        assert body["status"] == "unhealthy" and "presence feed has not moved" in body["reason"], body
        assert health(s2.url)[0] == 200  # the other server's feed is fine
        assert ann.call("broadcast-message", {"type": "x-release-room-lock"})["msg"] == "Message sent"
        ann.wait_for("user-connected", lambda p: p["data"]["ID"] == CAT, timeout=10)
        assert wait_health(s1.url, 200) == {"status": "ok", "connections": 1}
        assert bob.connected and cat.connected
    finally:
        cluster.close()
