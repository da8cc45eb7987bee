"""Guest IDs in a cluster never repeat, not even after Redis restarted empty (issue 9).

A client still addressing an earlier guest (it stayed connected through the
outage) must reach nobody, never a newcomer who was handed the same ID.
"""

from __future__ import annotations

import time

from cluster_kit import TEACHER, Cluster

from roomchat.testing import RoomchatProcess


def wait_log(server: RoomchatProcess, text: str, timeout: float = 15.0) -> None:
    """Wait until the server logged ``text`` (a bound on waiting, not a timing claim)."""
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, f"{server.url} never logged {text!r}:\n{server.log()[-3000:]}"
        time.sleep(0.05)


def test_after_redis_restarts_empty_no_guest_gets_an_earlier_guests_id(cluster: Cluster) -> None:
    s1, s2 = cluster.start(2)
    room = cluster.room()
    teacher = cluster.join(s1, room, TEACHER)
    old = cluster.join(s1, room, name="Old")
    old_id = old.id
    teacher.wait_for("user-connected", lambda p: p["data"]["ID"] == old_id)
    old.close()
    teacher.wait_for("user-disconnected", lambda p: p["data"]["ID"] == old_id)

    cluster.redis.stop()  # its data goes with it: the guest counter too
    for server in (s1, s2):
        wait_log(server, "event=redis_down")
    cluster.redis.start()
    for server in (s1, s2):
        wait_log(server, "event=redis_data_lost")
    wait_log(s1, "event=cluster_resync")  # the teacher is back in Redis' presence

    newcomer = cluster.join(s2, room, name="New")  # the other server: it never handed out old_id itself
    assert newcomer.id > old_id
    # The teacher's client still has the old guest in its list and writes to it.
    ack = teacher.send(old_id, "text", "are you still there?")
    assert ack["data"]["code"] == "user_not_found", ack
    assert teacher.send(newcomer.id, "text", "welcome")["msg"] == "Message sent"
    newcomer.wait_message(lambda m: m["message"]["value"] == "welcome")  # behind anything sent before it
    assert [m["message"]["value"] for m in newcomer.messages()] == ["welcome"]
