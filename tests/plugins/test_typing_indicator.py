"""The built-in ``typing`` type through a real server: delivery, throttling on the server's clock, refusals.

The server's clock is a FakeClock here, so "a second later" is ``advance(1)``, not a sleep.
"""

from __future__ import annotations

import pytest
from builtin_helpers import by_loc, nothing_received

from roomchat.clock import FakeClock

ROOMS = {
    "unthrottled": {"plugins": {"settings": {"typing": {"min_interval": 0}}}},
    "slow": {"plugins": {"settings": {"typing": {"min_interval": 5}}}},
}
TYPING, STOPPED = {"typing": True}, {"typing": False}
FAKE_CLOCK = True  # the module's server runs on a clock that moves only when told (conftest.py)


@pytest.fixture(scope="module")
def clock(server) -> FakeClock:  # type: ignore[no-untyped-def]
    """The module server's clock."""
    assert isinstance(server.clock, FakeClock)
    return server.clock


@pytest.fixture
def advance(server, clock):  # type: ignore[no-untyped-def]
    """``advance(seconds)``: move the server's clock forward."""
    return lambda seconds: server.call(clock.advance(seconds))


def typing_values(user) -> list[bool]:  # type: ignore[no-untyped-def]
    user.sync()
    return [m.value["typing"] for m in user.messages(type="typing")]


@pytest.mark.parametrize("value", [TYPING, True, None, {"typing": True, "user": "Ann", "field": "chat"}])
def test_typing_reaches_the_room_as_sent(room, value: object) -> None:
    ann, bob, cy = room.join("Ann"), room.join("Bob"), room.join("Cy")
    ack = ann.broadcast("typing", value)
    assert ack.ok and ack.value == value
    for user in (bob, cy):
        got = user.receive(type="typing")
        assert got.from_id == ann.id and got.value == value


def test_a_bare_state_is_throttled_like_the_object(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    for value in (True, TYPING, None, False, STOPPED, False):  # null means typing
        assert ann.broadcast("typing", value).ok
    bob.sync()
    assert [m.value for m in bob.messages(type="typing")] == [True, False]


def test_repeats_within_a_second_are_dropped_silently(room, advance) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("typing", TYPING).ok
    advance(0.5)
    ack = ann.broadcast("typing", TYPING)
    assert ack.ok and ack.value == TYPING  # accepted as far as the sender can tell
    assert typing_values(bob) == [True]
    advance(0.5)  # a second after the first one went out
    assert ann.broadcast("typing", TYPING).ok
    assert typing_values(bob) == [True, True]


def test_a_change_of_state_always_goes_through(room, advance) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("typing", TYPING).ok
    assert ann.broadcast("typing", STOPPED).ok
    assert ann.broadcast("typing", TYPING).ok
    assert ann.broadcast("typing", TYPING).ok  # the repeat is dropped
    assert ann.broadcast("typing", STOPPED).ok
    assert typing_values(bob) == [True, False, True, False]


def test_each_user_and_audience_is_throttled_on_its_own(room) -> None:
    ann, bob, cy = room.join("Ann"), room.join("Bob"), room.join("Cy")
    assert ann.broadcast("typing", TYPING).ok
    assert bob.broadcast("typing", TYPING).ok  # another user
    assert ann.send(bob, "typing", TYPING).ok  # another audience: Bob alone
    assert ann.send(bob, "typing", TYPING).ok  # dropped
    bob.sync()
    assert [(m.from_id, m.value["typing"]) for m in bob.messages(type="typing")] == [(ann.id, True), (ann.id, True)]
    cy.sync()
    assert [(m.from_id, m.value["typing"]) for m in cy.messages(type="typing")] == [(ann.id, True), (bob.id, True)]


def test_a_room_sets_its_interval(room_named, advance) -> None:
    fast, slow = room_named("unthrottled"), room_named("slow")
    ann, bob = fast.join("Ann"), fast.join("Bob")
    for _ in range(3):
        assert ann.broadcast("typing", TYPING).ok
    assert typing_values(bob) == [True, True, True]
    cy, di = slow.join("Cy"), slow.join("Di")
    assert cy.broadcast("typing", TYPING).ok
    advance(4.9)
    assert cy.broadcast("typing", TYPING).ok
    assert typing_values(di) == [True]
    advance(0.1)
    assert cy.broadcast("typing", TYPING).ok
    assert typing_values(di) == [True, True]


@pytest.mark.parametrize("value", [{}, {"typing": "yes"}, {"typing": 1}, {"typing": None}, "yes", 1, [True]])
def test_a_bad_typing_value_is_refused(room, value: object) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("typing", value)
    assert ack.code == "validation_failed" and ack.errors
    if isinstance(value, dict):
        assert set(by_loc(ack.errors)) == {("typing",)}
    assert nothing_received(bob, "typing")
