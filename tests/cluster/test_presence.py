"""Presence across servers: one user list and one join/leave event per user, wherever users connected."""

from __future__ import annotations

import threading

from cluster_kit import ANN, BOB, CAT, TEACHER, Cluster, marker, presence_events

from roomchat.testing import ChatClient


def test_users_on_different_servers_see_each_other(cluster: Cluster) -> None:
    s1, s2 = cluster.start(2)
    room = cluster.room()
    ann = cluster.join(s1, room, ANN)
    bob = cluster.join(s2, room, BOB)
    assert [u["ID"] for u in bob.users] == [ANN, BOB]  # in order of joining, across servers
    assert ann.wait_for("user-connected")["data"] == {"ID": BOB, "role": "STUDENT", "name": "Bob"}
    cat = cluster.join(s1, room, CAT)
    assert [u["ID"] for u in cat.users] == [ANN, BOB, CAT]
    bob.wait_for("user-connected", lambda p: p["data"]["ID"] == CAT)
    bob.close()
    assert ann.wait_for("user-disconnected")["data"]["ID"] == BOB
    assert cat.wait_for("user-disconnected")["data"]["ID"] == BOB
    marker(cluster, s2, room, [ann, cat])
    assert presence_events(ann, BOB) == ["user-connected", "user-disconnected"]
    assert presence_events(cat, BOB) == ["user-disconnected"]  # Bob was in Cat's initial list
    assert presence_events(ann, CAT) == ["user-connected"]
    assert not presence_events(cat, CAT)  # nobody is told about themselves


def test_one_user_with_connections_on_two_servers_is_one_user(cluster: Cluster) -> None:
    s1, s2, s3 = cluster.start(3)
    room = cluster.room()
    tess = cluster.join(s3, room, TEACHER)
    tab1 = cluster.join(s1, room, ANN)
    tab2 = cluster.join(s2, room, ANN)
    assert [u["ID"] for u in tab2.users] == [TEACHER, ANN]  # once, though connected twice
    tab1.close()
    probe = marker(cluster, s1, room, [tess, tab2])
    assert presence_events(tess, ANN) == ["user-connected"]  # still there: one connection left
    tab2.close()
    tess.wait_for("user-disconnected", lambda p: p["data"]["ID"] == ANN)
    marker(cluster, s2, room, [tess, probe])
    assert presence_events(tess, ANN) == ["user-connected", "user-disconnected"]
    # A direct message to a user reaches its connections on every server.
    left = cluster.join(s1, room, BOB)
    right = cluster.join(s2, room, BOB)
    assert tess.send(BOB, "text", "both tabs")["msg"] == "Message sent"
    assert left.wait_message()["message"]["value"] == "both tabs"
    assert right.wait_message()["message"]["value"] == "both tabs"


def test_simultaneous_joins_on_three_servers_give_every_client_one_consistent_view(cluster: Cluster) -> None:
    servers = cluster.start(3)
    room = cluster.room()
    clients: list[ChatClient] = []
    lock = threading.Lock()

    def join(index: int) -> None:
        client = cluster.join(servers[index % 3], room, name=f"guest-{index}")
        with lock:
            clients.append(client)

    threads = [threading.Thread(target=join, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(clients) == 12
    ids = sorted(c.id for c in clients)
    assert len(set(ids)) == 12  # guest IDs are unique across servers
    watchers = list(clients)
    marker(cluster, servers[0], room, watchers)
    for client in clients:
        # initial list plus arrivals = everyone, each exactly once
        seen = [u["ID"] for u in client.users] + [
            p["data"]["ID"] for p in client.received("user-connected") if p["data"]["ID"] in ids]
        assert sorted(seen) == ids, cluster.logs()
        assert not client.received("user-disconnected")
    # Everyone agrees on the order of joining.
    late = cluster.join(servers[1], room, name="late")
    orders = [[u["ID"] for u in late.users][:12]]
    orders.append([u["ID"] for u in cluster.join(servers[2], room, name="later").users][:12])
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == ids


def test_state_is_in_redis_under_the_key_prefix_and_gone_after_everyone_left(cluster: Cluster) -> None:
    s1, s2 = cluster.start(2)
    room = cluster.room()
    ann = cluster.join(s1, room, ANN)
    bob = cluster.join(s2, room, BOB)
    store = cluster.redis.client()
    assert store.zrange(f"{cluster.prefix}:room:{room}:order", 0, -1) == [str(ANN).encode(), str(BOB).encode()]
    assert store.scard(f"{cluster.prefix}:servers") == 2
    ann.close()
    bob.close()
    marker(cluster, s1, room, [])  # joins after both leaves were written
    probe_ids = store.zrange(f"{cluster.prefix}:room:{room}:order", 0, -1)
    assert len(probe_ids) == 1 and int(probe_ids[0]) not in (ANN, BOB)
