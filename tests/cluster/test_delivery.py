"""Messages, broadcasts, kicks and moderation across servers: each reaches its addressees exactly once."""

from __future__ import annotations

import pytest
from cluster_kit import ANN, BOB, CAT, TEACHER, Cluster, marker

from roomchat.testing import JoinRefused


def values(client, type_: str = "text") -> list:  # type: ignore[no-untyped-def]
    """The values of the messages of one type a client received, in order."""
    return [m["message"]["value"] for m in client.messages() if m["message"]["type"] == type_]


def test_direct_and_broadcast_messages_cross_servers_exactly_once(shared_cluster: Cluster) -> None:
    s1, s2, s3 = shared_cluster.servers
    room = shared_cluster.room()
    ann = shared_cluster.join(s1, room, ANN)
    ann_tab2 = shared_cluster.join(s2, room, ANN)
    bob = shared_cluster.join(s2, room, BOB)
    cat = shared_cluster.join(s3, room, CAT)
    marker(shared_cluster, s1, room, [ann, bob, cat])  # every server has everyone in its roster

    assert ann.broadcast("text", "hello all")["msg"] == "Message sent"
    assert ann.broadcast("text", "end")["msg"] == "Message sent"
    for client in (bob, cat):
        client.wait_message(lambda m: m["message"]["value"] == "end")
        assert values(client) == ["hello all", "end"]  # once each, in order
    # The sender's other connection (another server) does not get its own broadcast.
    assert bob.broadcast("text", "from bob")["msg"] == "Message sent"
    ann_tab2.wait_message(lambda m: m["message"]["value"] == "from bob")
    assert values(ann_tab2) == ["from bob"]

    assert bob.send(CAT, "text", "to cat")["msg"] == "Message sent"
    assert bob.send(CAT, "text", "to cat, end")["msg"] == "Message sent"
    cat.wait_message(lambda m: m["message"]["value"] == "to cat, end")
    assert values(cat)[-2:] == ["to cat", "to cat, end"] and values(cat).count("to cat") == 1
    # A message to a user reaches each of its connections, on both servers, once.
    assert cat.send(ANN, "text", "to ann")["msg"] == "Message sent"
    assert cat.send(ANN, "text", "to ann, end")["msg"] == "Message sent"
    for tab in (ann, ann_tab2):
        tab.wait_message(lambda m: m["message"]["value"] == "to ann, end")
        assert values(tab).count("to ann") == 1
    assert bob.send(999, "text", "nobody")["data"]["code"] == "user_not_found"


def test_a_mute_set_through_one_server_holds_on_the_others(shared_cluster: Cluster) -> None:
    s1, s2, s3 = shared_cluster.servers
    room = shared_cluster.room()
    tess = shared_cluster.join(s1, room, TEACHER)
    bob = shared_cluster.join(s2, room, BOB)
    bob_tab2 = shared_cluster.join(s3, room, BOB)
    marker(shared_cluster, s1, room, [tess])
    ack = tess.broadcast("moderation", {"action": "mute", "user": BOB, "seconds": 600, "reason": "test"})
    assert ack["msg"] == "Message sent", ack
    for tab in (bob, bob_tab2):
        assert tab.broadcast("text", "can I talk?")["data"]["code"] == "muted"
    assert tess.broadcast("moderation", {"action": "unmute", "user": BOB})["msg"] == "Message sent"
    assert bob_tab2.broadcast("text", "free again")["msg"] == "Message sent"


def test_kick_and_ban_reach_connections_on_other_servers(shared_cluster: Cluster) -> None:
    s1, s2, s3 = shared_cluster.servers
    room = shared_cluster.room()
    tess = shared_cluster.join(s1, room, TEACHER)
    cat = shared_cluster.join(s2, room, CAT)
    cat_tab2 = shared_cluster.join(s3, room, CAT)
    marker(shared_cluster, s1, room, [tess])
    assert tess.broadcast("moderation", {"action": "ban", "user": CAT, "seconds": 600})["msg"] == "Message sent"
    cat.wait_for("disconnect")
    cat_tab2.wait_for("disconnect")
    tess.wait_for("user-disconnected", lambda p: p["data"]["ID"] == CAT)
    for server in (s1, s2, s3):  # the ban is one, whichever server Cat tries
        with pytest.raises(JoinRefused) as refused:
            shared_cluster.join(server, room, CAT)
        assert refused.value.code == "banned"


def test_a_users_rate_limit_counts_its_messages_on_every_server(shared_cluster: Cluster) -> None:
    s1, s2, s3 = shared_cluster.servers
    tess = shared_cluster.join(s1, "limited", TEACHER)
    tabs = [shared_cluster.join(server, "limited", BOB) for server in (s1, s2, s3)]
    acks = [tab.send(TEACHER, "text", f"from tab {i}")["msg"] for i, tab in enumerate(tabs)]
    assert acks == ["Message sent"] * 3  # three allowed in the window, one through each server
    for tab in tabs:
        assert tab.send(TEACHER, "text", "one too many")["data"]["code"] == "rate_limited"
    assert tess.send(BOB, "text", "the teacher has her own limit")["msg"] == "Message sent"


def test_a_poll_opened_on_one_server_counts_votes_from_the_others(shared_cluster: Cluster) -> None:
    s1, s2, s3 = shared_cluster.servers
    room = shared_cluster.room()
    tess = shared_cluster.join(s1, room, TEACHER)
    bob = shared_cluster.join(s2, room, BOB)
    cat = shared_cluster.join(s3, room, CAT)
    marker(shared_cluster, s1, room, [tess, bob, cat])
    ack = tess.broadcast("poll", {"question": "Tea or coffee?", "options": ["tea", "coffee"]})
    assert ack["msg"] == "Message sent", ack
    poll_id = ack["data"]["id"]
    assert bob.broadcast("vote", {"poll": poll_id, "option": 0})["msg"] == "Message sent"
    assert cat.broadcast("vote", {"poll": poll_id, "option": 1})["msg"] == "Message sent"
    results = tess.wait_message(lambda m: m["message"]["type"] == "poll-results" and m["message"]["value"]["total"] == 2)
    assert results["message"]["value"]["counts"] == [1, 1]
