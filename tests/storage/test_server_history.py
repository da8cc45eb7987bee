"""History through a real server (PROTOCOL.md, "History and catch-up"), on SQLite and on PostgreSQL.

``roomchat serve`` processes and real clients: the ``history`` event on join (``history: N``,
``since``), with no gap and no duplicate while the room is busy; catch-up after a dropped
connection, with messages sent during the reconnect; ``get-history`` paging; nobody's
direct messages in anyone else's history; rooms with history off; ids ordered per room.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from chatkit import TESS, Joiner, sync, token_of, wait_for
from historykit import Sender, after_join, numbers, seen_numbers, serve, texts
from rawio import RawClient

from roomchat.testing import ChatClient, RoomchatProcess

ROOMS = {
    "quiet": {"admit": ["users", "guests"], "rate_limit": None, "history": "off"},
    "capped": {"admit": ["users", "guests"], "rate_limit": None},
}
CAP = 200  # storage.history_max of these servers: smaller than the default, so the cap is reached cheaply


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    """One server per storage for the module (each test uses rooms of its own)."""
    url = request.getfixturevalue("pg_database") if request.param == "postgresql" else None
    running = serve(tmp_path_factory.mktemp(request.param), url, ROOMS, history_max=CAP)
    yield running
    running.stop()


_rooms = itertools.count(1)


@pytest.fixture
def room(request: pytest.FixtureRequest) -> str:
    return f"h{next(_rooms)}-{request.node.name[:30]}"


@pytest.fixture
def join(server: RoomchatProcess) -> Iterator[Joiner]:
    joiner = Joiner(server, "websocket")
    yield joiner
    joiner.close_all()


def raw_join(server: RoomchatProcess, room: str, name: str, **auth: Any) -> RawClient:
    raw = RawClient(server.url, "websocket", timeout=20)
    raw.join(room, name=name, **auth)
    return raw


def test_history_on_join_is_the_last_n_the_joiner_may_see(server: RoomchatProcess, join: Joiner, room: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    for i in range(5):
        assert ann.broadcast("text", f"m{i}")["msg"] == "Message sent"
    assert ann.send(bob.id, "text", "psst")["msg"] == "Message sent"  # a DM: Ann's and Bob's only
    with raw_join(server, room, "Cy", history=3) as cy:
        cy.sync()
        names, history, live = after_join(cy)
        assert names[:2] == ["initial-response", "history"]
        assert history == {"messages": history["messages"], "complete": True}
        assert texts(history["messages"]) == ["m2", "m3", "m4"]
        ids = [m["id"] for m in history["messages"]]
        assert ids == sorted(ids) and len(set(ids)) == 3 and all(len(i) == 16 and i.isdigit() for i in ids)
        assert live == []
    bob_again = join(room, name="Bob2", auth={"room": room, "name": "Bob2", "history": 100})
    got = bob_again.first("history")["data"]
    assert texts(got["messages"]) == ["m0", "m1", "m2", "m3", "m4"] and got["complete"] is True


def test_a_room_with_fewer_messages_is_complete_and_the_cap_is_not(server: RoomchatProcess, join: Joiner,
                                                                    room: str) -> None:
    ann = join(room, name="Ann")
    for i in range(CAP + 3):
        ann.broadcast("text", f"m{i}")
    few = join(auth={"room": room, "name": "Few", "history": CAP + 10})
    data = few.first("history")["data"]
    assert len(data["messages"]) == CAP and data["complete"] is False  # the server's cap cut it
    assert texts(data["messages"])[-1] == f"m{CAP + 2}"
    capped = ann.call("get-history", {"limit": 1000})["data"]
    assert len(capped["messages"]) == CAP and capped["complete"] is False  # the cap applies to a page too
    other = f"{room}-new"
    join(other, name="Ann").broadcast("text", "only")
    one = join(auth={"room": other, "name": "One", "history": 5}).first("history")["data"]
    assert texts(one["messages"]) == ["only"] and one["complete"] is True
    zero = join(auth={"room": other, "name": "Zero", "history": 0})
    assert zero.first("history")["data"] == {"messages": [], "complete": True}


def test_a_join_without_history_keys_gets_no_history_event(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    ann.broadcast("text", "hello")
    bob = join(room, name="Bob")
    sync(ann, bob)
    assert "history" not in [name for name, _ in bob.events]
    assert bob.messages() == []
    ignored = join(auth={"room": room, "name": "Cy", "history": "lots"})  # not a count: ignored, not refused
    sync(ignored)
    assert "history" not in [name for name, _ in ignored.events]


def test_direct_messages_are_in_their_two_parties_history_only(join: Joiner, room: str) -> None:
    ann, bob, cy = join(room, name="Ann"), join(room, name="Bob"), join(room, name="Cy")
    tess = join(room, token=token_of(TESS))
    ann.send(bob.id, "text", "ann to bob")
    bob.send(ann.id, "text", "bob to ann")
    ann.broadcast("text", "to all")
    cy.send(cy.id, "text", "cy to herself")
    assert tess.broadcast("moderation", {"action": "warn", "user": bob.id, "reason": "calm"})["msg"] == "Message sent"
    sync(ann, bob, cy, tess)
    pages = {name: [(m["from"], m.get("to"), m["message"]["type"])
                    for m in client.call("get-history", {})["data"]["messages"]]
             for name, client in (("ann", ann), ("bob", bob), ("cy", cy), ("tess", tess))}
    assert pages == {
        "ann": [(ann.id, bob.id, "text"), (bob.id, ann.id, "text"), (ann.id, None, "text")],
        "bob": [(ann.id, bob.id, "text"), (bob.id, ann.id, "text"), (ann.id, None, "text"),
                (0, bob.id, "moderation")],  # the room's notice to Bob is Bob's
        "cy": [(ann.id, None, "text"), (cy.id, cy.id, "text")],
        "tess": [(ann.id, None, "text")],
    }
    newcomer = join(auth={"room": room, "name": "Di", "history": 10})
    assert texts(newcomer.first("history")["data"]["messages"]) == ["to all"]


def test_get_history_pages_back_to_the_start(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    for i in range(47):
        ann.broadcast("text", f"m{i}")
    seen: list[str] = []
    before: str | None = None
    while True:
        asked = {"limit": 10} if before is None else {"before": before, "limit": 10}
        answer = ann.call("get-history", asked)
        assert answer["msg"] == "Message history"
        page = answer["data"]["messages"]
        seen = texts(page) + seen
        if answer["data"]["complete"]:
            break
        assert len(page) == 10
        before = page[0]["id"]
    assert seen == [f"m{i}" for i in range(47)]


@pytest.mark.parametrize("bad", [[1], "x", {"before": "123"}, {"before": 5}, {"limit": 0}, {"limit": "3"},
                                 {"limit": True}])
def test_a_malformed_get_history_is_invalid_message(join: Joiner, room: str, bad: Any) -> None:
    ann = join(room, name="Ann")
    assert ann.call("get-history", bad)["data"]["code"] == "invalid_message"


def test_get_history_without_an_ack_is_refused(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    ann.emit("get-history", {})
    refusal = ann.wait_for("error-response")["data"]
    assert refusal["code"] == "invalid_message" and refusal["event"] == "get-history"


def test_get_history_counts_against_the_rate_limit(server: RoomchatProcess, join: Joiner, room: str) -> None:
    ann = join("limited", name=f"Ann-{room}")  # 3 emits per hour
    answers = [ann.call("get-history", {})["data"] for _ in range(4)]
    assert [a.get("code") for a in answers] == [None, None, None, "rate_limited"]


def test_a_room_with_history_off_answers_nothing_and_incomplete(join: Joiner) -> None:
    ann = join("quiet", name="Ann")
    ann.broadcast("text", "not kept")
    cy = join(auth={"room": "quiet", "name": "Cy", "history": 10})
    assert cy.first("history")["data"] == {"messages": [], "complete": False}
    assert ann.call("get-history", {})["data"] == {"messages": [], "complete": False}
    since = join(auth={"room": "quiet", "name": "Di", "since": ann.broadcast("text", "x")["data"]["id"]})
    assert since.first("history")["data"] == {"messages": [], "complete": False}


def test_an_unknown_or_malformed_since_gives_the_latest_incomplete(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    for i in range(4):
        ann.broadcast("text", f"m{i}")
    for since, count in (("not-an-id", 2), (12345, None), ("9" * 16, 3)):
        auth: dict[str, Any] = {"room": room, "name": "Bob", "since": since}
        if count is not None:
            auth["history"] = count
        data = join(auth=auth).first("history")["data"]
        assert data["complete"] is False
        assert texts(data["messages"]) == ["m0", "m1", "m2", "m3"][-(count or CAP):]


def test_since_gives_exactly_what_came_after(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    acks = [ann.broadcast("text", f"m{i}")["data"] for i in range(6)]
    data = join(auth={"room": room, "name": "Bob", "since": acks[2]["id"]}).first("history")["data"]
    assert texts(data["messages"]) == ["m3", "m4", "m5"] and data["complete"] is True
    data = join(auth={"room": room, "name": "Cy", "since": acks[-1]["id"]}).first("history")["data"]
    assert data == {"messages": [], "complete": True}


def test_joins_in_a_busy_room_get_no_gap_and_no_duplicate(server: RoomchatProcess, room: str) -> None:
    """A sender broadcasts consecutive numbers while 20 clients join with history: each sees one unbroken run."""
    sender = Sender(server.url, room)
    sender.start()
    joiners: list[RawClient] = []
    try:
        wait_for(lambda: sender.sent >= 5, "the sender's first messages")
        for i in range(20):
            joiners.append(raw_join(server, room, f"J{i}", history=CAP))
        last = sender.stop()
        mid_stream = 0
        for raw in joiners:
            raw.wait_until(lambda r=raw: last in seen_numbers(r), f"message {last}", timeout=30)
            names, history, live = after_join(raw)
            assert names.index("history") == 1 and names[0] == "initial-response"
            assert history is not None
            run = numbers(history["messages"]) + numbers(live)
            assert run == list(range(run[0], last + 1)), "a gap or a duplicate between history and live"
            ids = [m["id"] for m in history["messages"] + live]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)
            mid_stream += bool(history["messages"]) and bool(live)
        assert mid_stream > 0, "no join happened while the room was busy: the test proves nothing"
    finally:
        sender.client.close()
        for raw in joiners:
            raw.close()


def test_catch_up_after_a_dropped_connection_with_messages_during_the_reconnect(server: RoomchatProcess,
                                                                                room: str) -> None:
    """Ann's transport is cut without a goodbye; Bob sends while she is away and while she rejoins with since."""
    ann = raw_join(server, room, "Ann")
    bob = ChatClient(server.url, room=room, name="Bob", timeout=20)
    try:
        for n in range(3):
            bob.broadcast("x-seq", {"n": n})
        ann.wait_until(lambda: numbers(after_join(ann)[2]) == [0, 1, 2], "the first three")
        seen = after_join(ann)[2][-1]["id"]
        assert ann.ws is not None
        ann.ws.sock.close()  # the network drops: no Socket.IO disconnect, no WebSocket close frame
        bob.broadcast("x-seq", {"n": 3})  # while Ann is away
        sender = Sender(server.url, room, name="Cy", pause=0.005)
        sender.start()  # and while she reconnects
        wait_for(lambda: sender.sent >= 3, "Cy's first messages")
        back = raw_join(server, room, "Ann again", since=seen)
        back.wait_event("history")
        wait_for(lambda: sender.sent >= len(seen_numbers(back)) + 3, "Cy's messages after the history")
        last = sender.stop()
        back.wait_until(lambda: last in seen_numbers(back)[1:], f"message {last}", timeout=30)
        names, history, live = after_join(back)
        assert names[:2] == ["initial-response", "history"] and history is not None and history["complete"]
        assert numbers(history["messages"])[0] == 3  # Bob's message while she was away: first, once
        run = numbers(history["messages"]) + numbers(live)
        # Cy's numbers restart at 0: Bob's 3 comes first, then Cy's 0..last, each once, in order
        assert run == [3, *range(last + 1)]
        assert numbers(live), "nothing came live after the history: the test proves nothing"
        back.close()
        sender.client.close()
    finally:
        bob.close()
        ann.close()


def test_ids_are_ordered_in_a_room_whatever_the_plugins_took(join: Joiner, room: str) -> None:
    """A poll (whose handler awaits the store) and plain texts: ids follow the order of delivery."""
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    acks = []
    for i in range(5):
        acks.append(ann.broadcast("poll", {"question": f"q{i}?", "options": ["a", "b"]})["data"])
        acks.append(ann.broadcast("text", f"t{i}")["data"])
    sync(bob)
    ids = [m["id"] for m in bob.messages()]
    assert ids == [a["id"] for a in acks] == sorted(ids)
