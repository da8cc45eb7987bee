"""PROTOCOL.md, "Server to client" and several connections per user.

``initial-response`` first and only to the joiner, ``user-connected`` to the
others, ``user-disconnected`` to those left; a user with two tabs appears once,
is announced once, leaves once, and gets direct messages on every tab.
Every test runs over WebSocket, long-polling, and polling upgraded to WebSocket.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from chatkit import ADA, SAM, TESS, Joiner, names, sync, token_of, wait_connections, wire_user

from roomchat.testing import ChatClient

pytestmark = pytest.mark.usefixtures("transport")


def test_initial_response_lists_the_room_in_order_of_joining(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    tess = join(room, token=token_of(TESS))
    cid = join(room, name="Cid")
    payload = cid.first("initial-response")
    assert payload == {"msg": payload["msg"], "data": [ann.me, wire_user(TESS), cid.me]}
    assert isinstance(payload["msg"], str) and payload["msg"]
    assert tess.users == [ann.me, wire_user(TESS)]
    assert ann.users == [ann.me]


def test_initial_response_is_the_first_event_and_only_to_the_joiner(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    bob = join(room, name="Bob")
    sync(bob, ann)
    assert names(bob.events)[0] == "initial-response"
    assert names(ann.events) == ["initial-response", "user-connected"]  # not Bob's initial-response
    assert len(bob.received("initial-response")) == 1


def test_initial_response_comes_before_messages_sent_to_the_joiner(join: Joiner, room: str) -> None:
    """Someone broadcasting non-stop cannot get a message to a joiner before its initial-response."""
    ann = join(room, name="Ann")
    for i in range(3):
        ann.emit("broadcast-message", {"type": "x-note", "value": i})
        newcomer = join(room, name=f"New {i}")
        assert names(newcomer.events)[0] == "initial-response"


def test_user_connected_goes_to_everyone_else(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    bob = join(room, name="Bob")
    tess = join(room, token=token_of(TESS))
    sync(tess, ann, bob)
    assert [p["data"] for p in ann.received("user-connected")] == [bob.me, wire_user(TESS)]
    assert [p["data"] for p in bob.received("user-connected")] == [wire_user(TESS)]
    assert tess.received("user-connected") == []
    payload = bob.received("user-connected")[0]
    assert set(payload) == {"msg", "data"} and isinstance(payload["msg"], str) and payload["msg"]


def test_user_disconnected_goes_to_everyone_left(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    bob = join(room, name="Bob")
    tess = join(room, token=token_of(TESS))
    tess.close()
    for left in (ann, bob):
        payload = left.wait_for("user-disconnected")
        assert payload["data"] == wire_user(TESS)
        assert set(payload) == {"msg", "data"} and isinstance(payload["msg"], str) and payload["msg"]
    bob.close()
    assert ann.wait_for("user-disconnected", count=2)["data"] == bob.me
    # A later joiner sees only who is still there.
    assert join(room, name="Dee").users[0] == ann.me


def test_events_do_not_leak_between_rooms(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    other = join(room + "-other", name="Other")
    join(room, name="Bob").close()
    ann.wait_for("user-disconnected")
    other.broadcast("x-note", "elsewhere")
    sync(other, ann)
    assert names(ann.events) == ["initial-response", "user-connected", "user-disconnected"]
    assert names(other.events) == ["initial-response"]


def test_the_same_user_in_two_rooms_is_two_memberships(join: Joiner, room: str) -> None:
    one = join(room, token=token_of(SAM))
    two = join(room + "-b", token=token_of(SAM))
    assert one.users == two.users == [wire_user(SAM)]
    one.close()
    wait_connections(join.server.url, 1)
    assert two.send(SAM, "x-note", "still here")["msg"] == "Message sent"


# -- several connections per user ----------------------------------------------------


def test_two_tabs_appear_once_and_are_announced_once(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    tab1 = join(room, token=token_of(SAM))
    tab2 = join(room, token=token_of(SAM))
    assert tab2.users == [ann.me, wire_user(SAM)]
    bob = join(room, name="Bob")
    assert bob.users == [ann.me, wire_user(SAM), bob.me]
    sync(bob, ann)
    assert [p["data"] for p in ann.received("user-connected")] == [wire_user(SAM), bob.me]
    sync(tab1, tab2)
    assert [p["data"] for p in tab1.received("user-connected")] == [bob.me]
    assert [p["data"] for p in tab2.received("user-connected")] == [bob.me]


def test_user_disconnected_only_after_the_last_tab_closes(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    tab1 = join(room, token=token_of(SAM))
    tab2 = join(room, token=token_of(SAM))
    tab1.close()
    wait_connections(join.server.url, 2)  # the server has let go of tab 1
    sync(tab2, ann)
    assert ann.received("user-disconnected") == []
    assert join(room, name="Bob").users[1] == wire_user(SAM)  # still in the room
    tab2.close()
    assert ann.wait_for("user-disconnected")["data"] == wire_user(SAM)


def test_a_direct_message_reaches_every_tab(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    tab1 = join(room, token=token_of(SAM))
    tab2 = join(room, token=token_of(SAM))
    ack = ann.send(SAM, "x-note", "to both tabs")
    assert ack["msg"] == "Message sent"
    assert tab1.wait_message() == tab2.wait_message() == ack["data"]


def test_a_message_to_ones_own_id_reaches_ones_own_tabs(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    tab1 = join(room, token=token_of(ADA))
    tab2 = join(room, token=token_of(ADA))
    ack = tab1.send(ADA, "x-note", "note to self")
    assert ack["msg"] == "Message sent" and ack["data"]["from"] == ADA
    assert tab1.wait_message() == tab2.wait_message() == ack["data"]
    sync(tab1, ann)
    assert ann.messages() == []


def test_a_guest_may_message_itself(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    ack = ann.send(ann.id, "x-note", "me")
    assert ann.wait_message() == ack["data"]


def test_a_broadcast_skips_every_connection_of_the_sender(join: Joiner, room: str) -> None:
    """The decision (README): "everyone except the sender" means none of the sender's tabs."""
    ann = join(room, name="Ann")
    tab1 = join(room, token=token_of(TESS))
    tab2 = join(room, token=token_of(TESS))
    ack = tab1.broadcast("x-note", "hello room")
    assert ack["msg"] == "Message sent"
    assert ann.wait_message() == ack["data"]
    sync(tab1, tab2)
    assert tab1.messages() == [] and tab2.messages() == []


def test_a_broadcast_from_a_single_tab_user_reaches_the_other_users_tabs(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    tab1 = join(room, token=token_of(TESS))
    tab2 = join(room, token=token_of(TESS))
    ack = ann.broadcast("x-note", "hi Tess")
    assert tab1.wait_message() == tab2.wait_message() == ack["data"]
    sync(ann)
    assert ann.messages() == []


def test_a_tab_that_joins_later_is_not_announced_and_gets_the_list(join: Joiner, room: str) -> None:
    tab1 = join(room, token=token_of(SAM))
    bob = join(room, name="Bob")
    tab2 = join(room, token=token_of(SAM))
    assert tab2.users == [wire_user(SAM), bob.me]
    sync(tab2, bob, tab1)
    assert bob.received("user-connected") == []
    assert [p["data"] for p in tab1.received("user-connected")] == [bob.me]


def test_simultaneous_joins_and_leaves_give_every_client_the_same_story(join: Joiner, room: str) -> None:
    """Each client's initial-response plus the user-connected / user-disconnected it saw afterwards
    is the room's true history: joins and leaves never interleave inside one client's view."""
    first = join(room, name="First")
    with ThreadPoolExecutor(6) as pool:
        clients = list(pool.map(lambda i: join(room, name=f"P{i}"), range(6)))
    leaving = clients[:3]
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda c: c.close(), leaving))
    staying = [first, *clients[3:]]
    for client in staying:
        client.wait_for("user-disconnected", count=3)
    last = join(room, name="Last")
    sync(last, *staying)
    final = [u["ID"] for u in last.users]
    for client in staying:
        view = [u["ID"] for u in client.users]
        for name, payload in client.events[1:]:
            if name == "user-connected":
                assert payload["data"]["ID"] not in view
                view.append(payload["data"]["ID"])
            elif name == "user-disconnected":
                view.remove(payload["data"]["ID"])
        assert view == final, client.me


def test_an_emit_made_on_connect_waits_for_the_join(join: Joiner, room: str, transport: str) -> None:
    """A client that sends in its ``connect`` handler: the room hears of it first, then its message."""
    bob = join(room, name="Bob")
    ann = ChatClient(join.server.url, room=room, name="Ann", transport=transport, connect=False)
    join.clients.append(ann)
    ann.sio.on("connect", lambda: ann.sio.emit("broadcast-message", {"type": "x-early", "value": "hello"}))
    ann.connect()
    bob.wait_message()
    assert names(bob.events) == ["initial-response", "user-connected", "message"]
    sync(ann)
    assert names(ann.events)[0] == "initial-response" and ann.received("error-response") == []
