"""PROTOCOL.md, "Joining a room": auth and the query-string fallback, names, every refusal code.

Every test runs over WebSocket, long-polling, and polling upgraded to WebSocket.
(``banned`` is the moderation work's: tests/test_moderation*.py.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import pytest
from chatkit import (
    ADA,
    GUEST_ID_START,
    JWT_SECRET,
    SAM,
    STU,
    TESS,
    Joiner,
    base_config,
    is_sentence,
    make_jwt,
    start_server,
    sync,
    token_of,
    wire_user,
)

from roomchat.testing import JoinRefused, RoomchatProcess

pytestmark = pytest.mark.usefixtures("transport")


def assert_refused(refusal: JoinRefused, code: str) -> None:
    """``connect_error``: a readable ``err.message`` and ``err.data == {"code": code}`` exactly."""
    assert refusal.data == {"code": code}, refusal.data
    assert is_sentence(refusal.message), refusal.message
    assert code not in refusal.message  # a sentence for people, not the code again


# -- joining ------------------------------------------------------------------------


def test_guest_joins_with_auth(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    payload = ann.first("initial-response")
    assert payload["msg"] and isinstance(payload["msg"], str)
    [me] = payload["data"]
    assert set(me) == {"ID", "role", "name"}
    assert me["name"] == "Ann" and me["role"] == "STUDENT"
    assert type(me["ID"]) is int and me["ID"] >= GUEST_ID_START


def test_known_user_joins_with_token(join: Joiner, room: str) -> None:
    tess = join(room, token=token_of(TESS))
    assert tess.users == [wire_user(TESS)]


def test_query_string_fallback(join: Joiner, room: str) -> None:
    guest = join(auth={}, query=urlencode({"room": room, "name": "Quinn"}))
    assert guest.me["name"] == "Quinn"
    ada = join(auth={}, query=urlencode({"room": room, "token": token_of(ADA)}))
    assert ada.users == [guest.me, wire_user(ADA)]


def test_auth_wins_over_query_string(join: Joiner, room: str) -> None:
    other = room + "-other"
    guest = join(auth={"room": room, "name": "FromAuth"}, query=urlencode({"room": other, "name": "FromQuery"}))
    assert guest.me["name"] == "FromAuth"
    # A bad token in the query does not matter when auth gives a good one.
    tess = join(auth={"room": room, "token": token_of(TESS)}, query=urlencode({"room": other, "token": "nope-nope"}))
    assert tess.me == wire_user(TESS)
    assert tess.users == [guest.me, wire_user(TESS)]  # both in `room`, not `other`


def test_keys_fall_back_one_by_one(join: Joiner, room: str) -> None:
    """A key auth does not give is taken from the query string."""
    ada = join(auth={"room": room}, query=urlencode({"token": token_of(ADA)}))
    assert ada.me == wire_user(ADA)
    guest = join(auth={"name": "Half"}, query=urlencode({"room": room}))
    assert guest.users == [wire_user(ADA), guest.me] and guest.me["name"] == "Half"


def test_other_auth_keys_are_ignored(join: Joiner, room: str) -> None:
    guest = join(auth={"room": room, "name": "Extra", "ID": 1, "colour": "blue"})
    assert guest.me["name"] == "Extra" and guest.me["ID"] != 1


# -- names --------------------------------------------------------------------------


def test_name_is_trimmed(join: Joiner, room: str) -> None:
    assert join(room, name="  \tPadded Name \n ").me["name"] == "Padded Name"


@pytest.mark.parametrize("name", ["A", "x" * 64, "Kiki Gunþīharjaz", "😀 emoji", "  " + "y" * 64 + "  "])
def test_names_of_1_to_64_characters_are_accepted(join: Joiner, room: str, name: str) -> None:
    assert join(room, name=name).me["name"] == name.strip()


@pytest.mark.parametrize("name", ["x" * 65, "bell\x07", "new\nline", "tab\tinside", "nul\x00", "del\x7f",
                                  "c1\x85inside", "bidi\x9bx", "  " + "z" * 65 + "  "])
def test_bad_names_are_refused(join: Joiner, room: str, name: str) -> None:
    assert_refused(join.refused(room, name=name), "invalid_name")


@pytest.mark.parametrize("name", [123, True, ["Ann"], {"first": "Ann"}])
def test_a_name_that_is_not_a_string_is_refused(join: Joiner, room: str, name: Any) -> None:
    assert_refused(join.refused(auth={"room": room, "name": name}), "invalid_name")


def test_two_guests_may_share_a_name(join: Joiner, room: str) -> None:
    first, second = join(room, name="Twin"), join(room, name="Twin")
    assert [u["name"] for u in second.users] == ["Twin", "Twin"]
    assert first.id != second.id


@pytest.mark.parametrize("given", [None, ""])
def test_a_guest_without_a_name_gets_one(join: Joiner, room: str, given: str | None) -> None:
    auth = {"room": room} if given is None else {"room": room, "name": given}
    guest = join(auth=auth)
    number = re.fullmatch(r"Guest ([0-9]+)", guest.me["name"])
    assert number is not None and 0 < int(number[1]) < guest.id - GUEST_ID_START  # a count, not the ID
    assert guest.me["role"] == "STUDENT"


def test_a_known_user_keeps_its_configured_name(join: Joiner, room: str) -> None:
    """``name`` is for guests: a token's user is named by its credential."""
    assert join(room, token=token_of(STU), name="Someone Else").me == wire_user(STU)


@pytest.mark.parametrize("name", ["x" * 65, "new\nline", 123])
def test_a_known_user_is_not_refused_for_a_name_it_does_not_need(join: Joiner, room: str, name: Any) -> None:
    assert join(auth={"room": room, "token": token_of(STU), "name": name}).me == wire_user(STU)


# -- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize("auth", [{}, {"name": "Ann"}, {"room": ""}, {"room": "   "}, {"room": None},
                                  {"room": ["lobby"]}, {"room": {"name": "lobby"}}])
def test_room_required(join: Joiner, auth: dict[str, Any]) -> None:
    assert_refused(join.refused(auth=auth), "room_required")


def test_room_required_in_the_query_string_too(join: Joiner) -> None:
    assert_refused(join.refused(auth={}, query="room=&name=Ann"), "room_required")


@pytest.fixture(scope="module")
def closed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    """A server that does not create rooms on first join."""
    config = base_config(create_rooms=False)
    server = start_server(config, tmp_path_factory.mktemp("closed"))
    yield server
    server.stop()


def test_room_not_found(closed_server: RoomchatProcess, transport: str) -> None:
    closed = Joiner(closed_server, transport)
    try:
        assert_refused(closed.refused("no-such-room", name="Ann"), "room_not_found")
        assert_refused(closed.refused("no-such-room", token=token_of(TESS)), "room_not_found")
        assert closed("tokens", token=token_of(TESS)).me == wire_user(TESS)  # a listed room still works
    finally:
        closed.close_all()


def test_a_room_name_longer_than_rooms_may_be_is_not_found(join: Joiner) -> None:
    assert_refused(join.refused("r" * 129, name="Ann"), "room_not_found")


@pytest.mark.parametrize("name", [
    pytest.param("Staff", id="case"),
    pytest.param("STAFF", id="upper"),
    pytest.param("\u0455taff", id="cyrillic-dze"),
    pytest.param("st\u0430ff", id="cyrillic-a"),
    pytest.param("\uff53\uff54\uff41\uff46\uff46", id="fullwidth"),
    pytest.param(" staff ", id="spaces"),
    pytest.param("staff\u200b", id="zero-width"),
    pytest.param("\u202estaff", id="rtl-override"),
])
def test_a_new_room_may_not_look_like_a_configured_one(join: Joiner, name: str) -> None:
    """``staff`` is configured: a lookalike is not created beside it (it would be anybody's)."""
    refusal = join.refused(name, name="Ann")
    assert_refused(refusal, "room_not_found")
    assert "looks like room 'staff'" in refusal.message
    assert join("staff", token=token_of(TESS)).users == [wire_user(TESS)]  # the real one, untouched


def test_new_rooms_that_look_like_no_configured_room_are_created(join: Joiner, room: str) -> None:
    for name in (f"{room}-Maths", f"{room}-\u0444\u0438\u0437\u0438\u043a\u0430", f"{room}-staff-room"):
        assert join(name, name="Ann").users[-1]["name"] == "Ann"


@pytest.mark.parametrize("token", ["not-a-token", "x" * 300, "a.b.c", "Bearer tok-teacher-tess", " tok-teacher-tess"])
def test_a_bad_token_is_unauthorized_even_where_guests_may_enter(join: Joiner, room: str, token: str) -> None:
    assert_refused(join.refused(room, token=token, name="Would-be guest"), "unauthorized")


@pytest.mark.parametrize("token", [True, False, 12345678, ["tok-teacher-tess"], {"token": "tok-teacher-tess"}],
                         ids=repr)
def test_a_token_that_is_not_a_string_is_unauthorized(join: Joiner, room: str, token: Any) -> None:
    assert_refused(join.refused(auth={"room": room, "token": token, "name": "Would-be guest"}), "unauthorized")


@pytest.mark.parametrize("token", [None, ""])
def test_an_empty_token_is_a_missing_one(join: Joiner, room: str, token: str | None) -> None:
    assert join(auth={"room": room, "token": token, "name": "Guest"}).me["role"] == "STUDENT"
    assert_refused(join.refused(auth={"room": "tokens", "token": token}), "unauthorized")


def test_no_token_where_one_is_needed_is_unauthorized(join: Joiner) -> None:
    assert_refused(join.refused("tokens", name="Guest"), "unauthorized")
    assert_refused(join.refused("tokens"), "unauthorized")


def test_an_expired_jwt_is_unauthorized(join: Joiner, room: str) -> None:
    assert_refused(join.refused(room, token=make_jwt(40, ttl=-60)), "unauthorized")


def test_a_jwt_signed_with_another_secret_is_unauthorized(join: Joiner, room: str) -> None:
    assert_refused(join.refused(room, token=make_jwt(41, secret=JWT_SECRET[::-1])), "unauthorized")


def test_a_credential_of_a_way_the_room_does_not_admit_is_unauthorized(join: Joiner) -> None:
    assert_refused(join.refused("users-only", token=make_jwt(42)), "unauthorized")
    assert_refused(join.refused("jwt-only", token=token_of(TESS)), "unauthorized")
    assert join("jwt-only", token=make_jwt(42, "Jo")).me == {"ID": 42, "role": "STUDENT", "name": "Jo"}
    assert join("users-only", token=token_of(TESS)).me == wire_user(TESS)


def test_a_role_the_room_does_not_admit_is_forbidden(join: Joiner) -> None:
    assert_refused(join.refused("staff", token=token_of(STU)), "forbidden")
    assert_refused(join.refused("staff", name="A guest is a student"), "forbidden")
    assert_refused(join.refused("staff", token=make_jwt(43, role="STUDENT")), "forbidden")
    tess = join("staff", token=token_of(TESS))
    ada = join("staff", token=make_jwt(44, "Jwt Admin", role="ADMIN"))
    assert ada.users == [tess.me, {"ID": 44, "role": "ADMIN", "name": "Jwt Admin"}]


def test_a_jwt_whose_rooms_claim_leaves_the_room_out_is_forbidden(join: Joiner, room: str) -> None:
    token = make_jwt(45, rooms=[room + "-a", room + "-b"])
    assert_refused(join.refused(room, token=token), "forbidden")
    assert join(room + "-b", token=token).me["ID"] == 45
    assert_refused(join.refused(room, token=make_jwt(46, rooms=[])), "forbidden")


def test_room_full(join: Joiner) -> None:
    sam = join("pair", token=token_of(SAM))
    second = join("pair", name="Second")
    assert_refused(join.refused("pair", name="Third"), "room_full")
    assert_refused(join.refused("pair", token=token_of(TESS)), "room_full")
    # Another connection of a user already inside is not another user.
    tab = join("pair", token=token_of(SAM))
    assert [u["ID"] for u in tab.users] == [SAM, second.id]
    # When a user leaves (its last connection), there is room again.
    sam.close()
    tab.close()
    second.wait_for("user-disconnected")
    fourth = join("pair", name="Fourth")
    assert [u["name"] for u in fourth.users] == ["Second", "Fourth"]


def test_room_full_holds_under_simultaneous_joins(join: Joiner) -> None:
    def attempt(i: int) -> str:
        try:
            join("pair", name=f"Rush {i}")
        except JoinRefused as refusal:
            return str(refusal.code)
        return "joined"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(attempt, range(6)))
    assert sorted(outcomes) == ["joined"] * 2 + ["room_full"] * 4


def test_a_room_name_in_the_query_string_is_decoded(join: Joiner, room: str) -> None:
    name = room + " ü/&?=#"
    first = join(auth={}, query=urlencode({"room": name, "name": "Query"}))
    second = join(auth={"room": name, "name": "Auth"})
    assert second.users == [first.me, second.me]


def test_a_refused_join_is_not_announced(join: Joiner, room: str) -> None:
    ann = join(room, name="Ann")
    join.refused(room, name="bad\x01name")
    join.refused(room, token="bad-token-here")
    sync(ann)
    assert [name for name, _ in ann.events] == ["initial-response"]
