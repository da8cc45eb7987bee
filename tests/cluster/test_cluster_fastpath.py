"""A cluster's messages take the WebSocket fast path too (issue 12): bursts from another server arrive in order.

Ann on one server bursts 500 broadcasts (raw frames, every fourth with an
ack); recipients on another server, over WebSocket and long-polling, read raw
frames (one thread, arrival order) and must get all of them once, in send order.
"""

from __future__ import annotations

import json

from cluster_kit import ANN, BOB, CAT, Cluster, marker, token
from rawio import RawClient

BURST = 500


def numbers(raw: RawClient) -> list[int]:
    return [p["data"]["message"]["value"]["n"] for p in raw.of("message") if p["data"]["message"]["type"] == "x-seq"]


def test_a_burst_from_another_server_arrives_in_order_over_both_transports(shared_cluster: Cluster) -> None:
    s1, s2, _ = shared_cluster.servers
    room = shared_cluster.room()
    watcher = shared_cluster.join(s2, room, name="Watcher")
    with RawClient(s2.url, "websocket", timeout=30) as bob, RawClient(s2.url, "polling", timeout=30) as cat, \
            RawClient(s1.url, "websocket", timeout=30) as ann:
        bob.join(room, token=token(BOB))
        cat.join(room, token=token(CAT))
        ann.join(room, token=token(ANN))
        marker(shared_cluster, s1, room, [watcher])  # every server knows everyone by now
        frames, acks = [], []
        for n in range(BURST):
            ack = "" if n % 4 else str(n + 1)
            acks += [n + 1] if ack else []
            frames.append("42" + ack + json.dumps(["broadcast-message", {"type": "x-seq", "value": {"n": n}}]))
        ann.send_many(frames)
        ann.wait_until(lambda: all(i in ann.acks for i in acks), "every ack", timeout=60)
        assert all(ann.acks[i][0]["msg"] == "Message sent" for i in acks)
        for raw in (bob, cat):
            raw.wait_until(lambda r=raw: len(numbers(r)) >= BURST, "every message", timeout=60)  # type: ignore[misc]
            assert numbers(raw) == list(range(BURST)), shared_cluster.logs()
