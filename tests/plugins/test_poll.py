"""The built-in ``poll``, ``vote`` and ``poll-results`` types end to end, with several users and a real server."""

from __future__ import annotations

import pytest
from builtin_helpers import by_loc, nothing_received

ROOMS = {
    "staff-polls": {"plugins": {"settings": {"poll": {"creators": ["TEACHER", "ADMIN"]}}}},
    "final-votes": {"plugins": {"settings": {"poll": {"change_votes": False}}}},
}
LUNCH = {"question": "Lunch?", "options": ["Pizza", "Soup", "Salad"]}


def open_poll(user, poll=LUNCH) -> str:  # type: ignore[no-untyped-def]
    ack = user.broadcast("poll", poll)
    assert ack.ok, ack
    return ack.value["id"]


def results(user, count: int = 1) -> dict:  # type: ignore[no-untyped-def]
    """The ``count``-th poll-results the user got; it always comes from the room (ID 0)."""
    got = user.receive(type="poll-results", count=count)
    assert got.from_room
    return got.value


def test_a_poll_reaches_the_room_as_sent_with_its_id(room) -> None:
    ann, bob, cy = room.join("Ann"), room.join("Bob"), room.join("Cy")
    sent = {"question": "Lunch?\nSay by noon", "options": [" Pizza", "Soup "], "anonymous": True}
    ack = ann.broadcast("poll", sent)
    assert ack.ok
    poll_id = ack.value["id"]
    expected = {"id": poll_id, **sent}  # nothing trimmed, no default added, other keys kept
    assert ack.value == expected and next(iter(ack.value)) == "id"
    # the poll's id is given before delivery; the message's own id at delivery, in the room's order
    assert poll_id != ack.data["id"] and len(ack.data["id"]) == 16 and ack.data["id"].isdigit()
    for user in (bob, cy):
        got = user.receive(type="poll")
        assert got.from_id == ann.id and got.value == expected and got.id == ack.data["id"]


def test_a_vote_may_name_the_poll_by_its_message_id(room) -> None:
    """Clients written when a poll's id was its message's id keep working: both name the poll."""
    ann, bob, cy = room.join("Ann"), room.join("Bob"), room.join("Cy")
    ack = ann.broadcast("poll", LUNCH)
    assert bob.broadcast("vote", {"poll": ack.data["id"], "option": 1}).ok
    assert cy.broadcast("vote", {"poll": ack.value["id"], "option": 1}).ok
    assert results(ann, 2) == {"poll": ack.value["id"], "counts": [0, 2, 0], "total": 2}
    assert ann.broadcast("poll-close", {"poll": ack.data["id"]}).ok


def test_the_servers_id_replaces_one_the_sender_gave(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("poll", {"id": "mine", "question": "Q?", "options": ["a", "b"], "closed": True})
    assert ack.ok and ack.value["id"] != "mine"
    assert bob.receive(type="poll").value["id"] == ack.value["id"]
    # a key the poll's own state uses ("closed") is the sender's, not the poll's: it still takes votes
    assert bob.broadcast("vote", {"poll": ack.value["id"], "option": 0}).ok
    assert results(ann)["counts"] == [1, 0]


def test_an_option_may_be_named_by_its_text(room) -> None:
    ann, bob, cy = room.join("Ann"), room.join("Bob"), room.join("Cy")
    poll = open_poll(ann, {**LUNCH, "multiple": True})
    assert bob.broadcast("vote", {"poll": poll, "option": "Soup"}).ok
    assert cy.broadcast("vote", {"poll": poll, "option": [" salad ", 0]}).ok  # case and spaces do not count
    assert results(ann, 2) == {"poll": poll, "counts": [1, 1, 1], "total": 2}
    ack = cy.broadcast("vote", {"poll": poll, "option": "Pasta"})
    assert ack.code == "validation_failed" and by_loc(ack.errors)[("option",)]["type"] == "unknown_option"


def test_votes_are_tallied_and_the_results_go_to_everyone(room) -> None:
    ann, bob, cy, di = room.join("Ann"), room.join("Bob"), room.join("Cy"), room.join("Di")
    poll = open_poll(ann)
    assert bob.broadcast("vote", {"poll": poll, "option": 0}).ok
    assert cy.broadcast("vote", {"poll": poll, "option": 2}).ok
    assert ann.broadcast("vote", {"poll": poll, "option": 2}).ok
    for user in (ann, bob, cy, di):
        assert results(user, 1) == {"poll": poll, "counts": [1, 0, 0], "total": 1}
        assert results(user, 2) == {"poll": poll, "counts": [1, 0, 1], "total": 2}
        assert results(user, 3) == {"poll": poll, "counts": [1, 0, 2], "total": 3}
    # votes themselves are consumed: nobody receives them
    assert all(nothing_received(user, "vote") for user in (ann, bob, cy, di))


def test_the_tally_lives_in_the_plugins_store_under_the_room(room, server) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    poll = open_poll(ann)
    assert bob.send(ann, "vote", {"poll": poll, "option": 1}).ok  # a vote may also be sent direct
    results(bob)
    store = server.chat.plugins.view("poll").store
    assert server.call(store.get(f"{room.name}:{poll}"))["options"] == LUNCH["options"]
    assert server.call(store.hash_get_all(f"{room.name}:{poll}:votes")) == {str(bob.id): [1]}
    kv = server.chat.state.kv  # underneath: the server's key-value store, under the plugin's name
    assert server.call(kv.hash_get_all(f"poll:{room.name}:{poll}:votes")) == {str(bob.id): [1]}


def test_voting_again_replaces_the_earlier_vote(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    poll = open_poll(ann)
    assert bob.broadcast("vote", {"poll": poll, "option": 0}).ok
    assert bob.broadcast("vote", {"poll": poll, "option": 1}).ok
    assert bob.broadcast("vote", {"poll": poll, "option": 1}).ok
    assert results(ann, 3) == {"poll": poll, "counts": [0, 1, 0], "total": 1}


def test_a_room_can_make_votes_final(room_named) -> None:
    room = room_named("final-votes")
    ann, bob = room.join("Ann"), room.join("Bob")
    poll = open_poll(ann)
    assert bob.broadcast("vote", {"poll": poll, "option": 0}).ok
    ack = bob.broadcast("vote", {"poll": poll, "option": 1})
    assert ack.code == "validation_failed" and by_loc(ack.errors)[("poll",)]["type"] == "already_voted"
    assert ann.broadcast("vote", {"poll": poll, "option": 1}).ok
    assert results(ann, 2) == {"poll": poll, "counts": [1, 1, 0], "total": 2}


def test_a_multiple_choice_poll_takes_several_options_per_voter(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    poll = open_poll(ann, {**LUNCH, "multiple": True})
    assert bob.broadcast("vote", {"poll": poll, "option": [2, 0, 2]}).ok
    assert ann.broadcast("vote", {"poll": poll, "option": 2}).ok
    assert results(bob, 2) == {"poll": poll, "counts": [1, 0, 2], "total": 2}


def test_a_single_choice_poll_takes_one_option(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    poll = open_poll(ann)
    ack = bob.broadcast("vote", {"poll": poll, "option": [0, 1]})
    assert ack.code == "validation_failed" and by_loc(ack.errors)[("option",)]["type"] == "single_option"
    assert bob.broadcast("vote", {"poll": poll, "option": [1]}).ok  # a list of one is one option
    assert results(ann) == {"poll": poll, "counts": [0, 1, 0], "total": 1}


def test_votes_for_unknown_polls_or_options_are_refused(room, room_named) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    poll = open_poll(ann)
    ack = bob.broadcast("vote", {"poll": "no-such-poll", "option": 0})
    assert ack.code == "validation_failed" and by_loc(ack.errors)[("poll",)]["type"] == "unknown_poll"
    ack = bob.broadcast("vote", {"poll": poll, "option": 3})
    assert ack.code == "validation_failed" and by_loc(ack.errors)[("option",)]["type"] == "unknown_option"
    assert "0 to 2" in ack.errors[0]["msg"]
    for bad in (-1, 10, [], "0", 1.0, None):
        ack = bob.broadcast("vote", {"poll": poll, "option": bad})
        assert ack.code == "validation_failed" and ("option",) in by_loc(ack.errors), bad
    assert bob.broadcast("vote", {"poll": poll}).errors[0]["type"] == "missing"
    # a poll belongs to its room
    elsewhere = room_named(room.name + "-other").join("Eve")
    assert elsewhere.broadcast("vote", {"poll": poll, "option": 0}).errors[0]["type"] == "unknown_poll"
    assert nothing_received(ann, "poll-results")


@pytest.mark.parametrize(("poll", "field"), [
    ({"question": "Q?", "options": ["only one"]}, "options"),
    ({"question": "Q?", "options": [str(i) for i in range(11)]}, "options"),
    ({"question": "Q?", "options": ["Yes", "yes"]}, "options"),
    ({"question": "Q?", "options": ["Yes", "  "]}, "options"),
    ({"question": "Q\x00?", "options": ["a", "b"]}, "question"),
    ({"question": "Q?", "options": ["a", "\x1b[31mb"]}, "options"),
    ({"question": " \n ", "options": ["a", "b"]}, "question"),
    ({"question": "Q" * 301, "options": ["a", "b"]}, "question"),
    ({"question": "Q?", "options": ["a", "b"], "multiple": "yes"}, "multiple"),
    ({"options": ["a", "b"]}, "question"),
])
def test_a_bad_poll_is_refused_on_its_field(room, poll: dict, field: str) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("poll", poll)
    assert ack.code == "validation_failed"
    assert [e["loc"][0] for e in ack.errors] == [field]
    assert nothing_received(bob, "poll")


def test_a_poll_goes_to_the_whole_room_only(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.send(bob, "poll", LUNCH).code == "forbidden"


def test_a_room_chooses_who_may_open_polls(room_named) -> None:
    room = room_named("staff-polls")
    student, teacher = room.join("Sam"), room.join("Tess", role="TEACHER")
    ack = student.broadcast("poll", LUNCH)
    assert ack.code == "forbidden" and "poll" in ack.msg
    poll = open_poll(teacher)
    assert student.broadcast("vote", {"poll": poll, "option": 1}).ok  # everyone may vote
    assert results(teacher)["counts"] == [0, 1, 0]


def test_clients_cannot_send_poll_results(room) -> None:
    ann, bob = room.join("Ann"), room.join("Tess", role="TEACHER")
    fake = {"poll": "x", "counts": [9, 0], "total": 9}
    assert ann.broadcast("poll-results", fake).code == "forbidden"
    assert bob.send(ann, "poll-results", fake).code == "forbidden"


def test_closing_a_poll_sends_the_final_results_and_ends_the_voting(room) -> None:
    ann, bob, cy = room.join("Ann"), room.join("Bob"), room.join("Cy")
    poll = open_poll(ann)
    assert bob.broadcast("vote", {"poll": poll, "option": 1}).ok
    ack = ann.broadcast("poll-close", {"poll": poll})
    assert ack.ok
    for user in (ann, bob, cy):
        assert results(user, 2) == {"poll": poll, "counts": [0, 1, 0], "total": 1, "closed": True}
    ack = cy.broadcast("vote", {"poll": poll, "option": 0})
    assert ack.code == "validation_failed" and by_loc(ack.errors)[("poll",)]["type"] == "poll_closed"
    assert ann.broadcast("poll-close", {"poll": poll}).errors[0]["type"] == "poll_closed"
    assert all(nothing_received(user, "poll-close") for user in (ann, bob, cy))  # the request itself is consumed
    cy.sync()
    assert len(cy.messages(type="poll-results")) == 2


def test_only_the_creator_a_teacher_or_an_admin_may_close_a_poll(room) -> None:
    ann, bob, tess = room.join("Ann"), room.join("Bob"), room.join("Tess", role="TEACHER")
    poll = open_poll(ann)
    ack = bob.broadcast("poll-close", {"poll": poll})
    assert ack.code == "forbidden" and "creator" in ack.msg
    assert bob.broadcast("vote", {"poll": poll, "option": 2}).ok  # still open
    assert tess.broadcast("poll-close", {"poll": poll}).ok
    assert results(bob, 2)["closed"] is True
    assert bob.broadcast("poll-close", {"poll": "no-such-poll"}).errors[0]["type"] == "unknown_poll"
