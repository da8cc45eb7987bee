"""History in a cluster: several ``roomchat serve`` processes on one Redis and one PostgreSQL.

A client catches up on another server than the one that delivered the messages
(from the Redis tail while they are not committed, from the database after);
joins with history on both servers while senders on both are busy see each
sender's messages as one unbroken run, ids increasing; ``get-history`` answers
on any server; and the plugins' state comes back when Redis loses its data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chatkit import wait_for
from cluster_kit import ANN, BOB, CAT, TEACHER, Cluster, RedisServer, token
from historykit import Sender, after_join
from rawio import RawClient

from roomchat.testing import JoinRefused, RoomchatProcess


@pytest.fixture
def pg_cluster(redis_server: RedisServer, tmp_path: Path, pg_url: str) -> Iterator[Cluster]:
    """Two servers on this module's Redis and this test's PostgreSQL database (a 5 s batch window: the
    messages of a test are mostly still in the Redis tail when the other server reads them)."""
    group = Cluster(redis_server, tmp_path, storage={"url": pg_url, "batch_window": 5})
    group.start(2)
    yield group
    group.close()


def values_by(messages: list[dict[str, Any]], sender: int) -> list[int]:
    return [m["message"]["value"]["n"] for m in messages if m["from"] == sender and m["message"]["type"] == "x-seq"]


def wait_log(server: RoomchatProcess, text: str, timeout: float = 15.0) -> None:
    """Wait until the server logged ``text`` (a bound on waiting, not a timing claim)."""
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, f"{server.url} never logged {text!r}:\n{server.log()[-3000:]}"
        time.sleep(0.05)


def test_catch_up_on_another_server_than_the_one_that_delivered(pg_cluster: Cluster) -> None:
    s1, s2 = pg_cluster.servers
    room = pg_cluster.room()
    ann = pg_cluster.join(s1, room, ANN)
    acks = [ann.broadcast("x-seq", {"n": n})["data"] for n in range(4)]
    assert [a["id"] for a in acks] == sorted(a["id"] for a in acks)
    bob = pg_cluster.join(s2, room, BOB, auth={"room": room, "token": token(BOB), "history": 10})
    data = bob.first("history")["data"]
    assert values_by(data["messages"], ANN) == [0, 1, 2, 3] and data["complete"] is True
    cat = pg_cluster.join(s2, room, CAT, auth={"room": room, "token": token(CAT), "since": acks[1]["id"]})
    data = cat.first("history")["data"]
    assert values_by(data["messages"], ANN) == [2, 3] and data["complete"] is True
    page = cat.call("get-history", {"before": acks[2]["id"]})["data"]
    assert values_by(page["messages"], ANN) == [0, 1] and page["complete"] is True


def test_catch_up_after_the_delivering_server_stopped(pg_cluster: Cluster) -> None:
    """Its shutdown commits what it queued: the other server reads it from the database."""
    s1, s2 = pg_cluster.servers
    room = pg_cluster.room()
    ann = pg_cluster.join(s1, room, ANN)
    first = ann.broadcast("x-seq", {"n": 0})["data"]
    for n in range(1, 5):
        ann.broadcast("x-seq", {"n": n})
    ann.close()
    s1.stop()
    bob = pg_cluster.join(s2, room, BOB, auth={"room": room, "token": token(BOB), "since": first["id"]})
    data = bob.first("history")["data"]
    assert values_by(data["messages"], ANN) == [1, 2, 3, 4] and data["complete"] is True


def test_joins_on_both_servers_while_senders_on_both_are_busy(pg_cluster: Cluster) -> None:
    s1, s2 = pg_cluster.servers
    room = pg_cluster.room()
    senders = [Sender(s1.url, room, name="Sender one"), Sender(s2.url, room, name="Sender two")]
    joiners: list[RawClient] = []
    try:
        for sender in senders:
            sender.start()
        wait_for(lambda: all(s.sent >= 5 for s in senders), "both senders' first messages")
        for i in range(12):
            raw = RawClient((s1, s2)[i % 2].url, "websocket", timeout=20)
            raw.join(room, name=f"J{i}", history=500)
            joiners.append(raw)
        lasts = [sender.stop() for sender in senders]
        ids = [sender.client.id for sender in senders]
        mid_stream = 0
        for raw in joiners:
            def got_all(r: RawClient = raw) -> bool:
                _, history, live = after_join(r)
                seen = (history or {}).get("messages", []) + live
                return all(last in values_by(seen, uid) for uid, last in zip(ids, lasts, strict=True))

            raw.wait_until(got_all, "every sender's last message", timeout=30)
            names, history, live = after_join(raw)
            assert names[:2] == ["initial-response", "history"] and history is not None
            seen = history["messages"] + live
            for uid, last in zip(ids, lasts, strict=True):
                run = values_by(seen, uid)
                assert run == list(range(run[0], last + 1)), f"a gap or a duplicate in sender {uid}'s messages"
            order = [m["id"] for m in seen]
            assert order == sorted(order) and len(set(order)) == len(order)
            mid_stream += bool(history["messages"]) and bool(live)
        assert mid_stream > 0, "no join happened while the room was busy: the test proves nothing"
    finally:
        for sender in senders:
            sender.client.close()
        for raw in joiners:
            raw.close()


def test_plugins_state_comes_back_when_redis_loses_its_data(pg_cluster: Cluster) -> None:
    """A ban lives in Redis and in the database; Redis restarted empty gets it back from the database."""
    s1, s2 = pg_cluster.servers
    room = pg_cluster.room()
    teacher = pg_cluster.join(s1, room, TEACHER)
    pg_cluster.join(s2, room, CAT)
    ack = teacher.broadcast("moderation", {"action": "ban", "user": CAT, "seconds": 600})
    assert ack["msg"] == "Message sent", ack
    pg_cluster.redis.stop()  # no persistence: its data goes
    pg_cluster.redis.start()
    for server in (s1, s2):
        wait_log(server, "event=redis_data_lost")
    wait_log(s1, "event=state_restored")
    deadline = time.monotonic() + 15
    while True:  # joins are refused with `unavailable` until a server's heartbeat saw Redis back
        try:
            pg_cluster.join(s2, room, CAT)
        except JoinRefused as refused:
            if refused.code == "banned":
                break
            assert refused.code == "unavailable" and time.monotonic() < deadline, refused.code
            time.sleep(0.1)
        else:
            raise AssertionError("the banned user got in: the ban did not come back from the database")
