"""Identity: users from the YAML (plain and ``{env: VAR}`` tokens), JWTs from ``roomchat token``, guests.

A role is never taken from the client. An ID names one user: a JWT cannot take a configured user's or
bot's ID, presence never shows one ID as two people, guest IDs never repeat (a restart included), and a
guest cannot take (or imitate) a configured user's or bot's name.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from chatkit import (
    ADA,
    GUEST_ID_START,
    JWT_SECRET,
    SAM,
    SAM_TOKEN,
    SAM_TOKEN_ENV,
    STU,
    TESS,
    USERS,
    Joiner,
    base_config,
    make_jwt,
    start_server,
    sync,
    token_of,
    wait_connections,
    wire_user,
)

from roomchat.state.base import wall_clock_us
from roomchat.testing import RoomchatProcess


def roomchat(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the ``roomchat`` command line."""
    return subprocess.run([sys.executable, "-m", "roomchat", *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def issue(env: dict[str, str], *args: str) -> str:
    """``roomchat token ...`` with the test secret; returns the token."""
    done = roomchat("token", *args, env={**env, "ROOMCHAT_JWT_SECRET": JWT_SECRET})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# -- users from the YAML ----------------------------------------------------------------


@pytest.mark.parametrize("user_id", [TESS, ADA, STU])
def test_a_plain_yaml_token_names_its_user(join: Joiner, room: str, user_id: int) -> None:
    assert join(room, token=token_of(user_id)).me == wire_user(user_id)


def test_a_token_from_the_environment(join: Joiner, room: str) -> None:
    assert join(room, token=SAM_TOKEN).me == wire_user(SAM)
    # The reference is not itself a token.
    assert join.refused(room, token=SAM_TOKEN_ENV).code == "unauthorized"
    assert join.refused(room, token="{env: " + SAM_TOKEN_ENV + "}").code == "unauthorized"


def test_a_token_is_matched_exactly(join: Joiner, room: str) -> None:
    tess = token_of(TESS)
    for near in (tess.upper(), tess + " ", tess[:-1], tess + "x", tess + "\x00"):
        assert join.refused(room, token=near).code == "unauthorized"


# -- the client never chooses its role ----------------------------------------------------


def test_a_guest_claiming_a_role_is_a_student(join: Joiner, room: str) -> None:
    guest = join(auth={"room": room, "name": "Mallory", "role": "ADMIN", "ID": TESS, "id": 1})
    assert guest.me["role"] == "STUDENT" and guest.me["ID"] >= GUEST_ID_START


def test_a_role_in_the_query_string_is_ignored(join: Joiner, room: str) -> None:
    guest = join(auth={}, query=f"room={room}&name=Mallory&role=ADMIN&ID=1")
    assert guest.me["role"] == "STUDENT" and guest.me["ID"] >= GUEST_ID_START


def test_a_known_user_cannot_raise_its_role(join: Joiner) -> None:
    assert join.refused(auth={"room": "staff", "token": token_of(STU), "role": "TEACHER"}).code == "forbidden"
    student = make_jwt(60, role="STUDENT")
    assert join.refused(auth={"room": "staff", "token": student, "role": "ADMIN"}).code == "forbidden"
    assert join.refused("staff", name="Guest", auth=None).code == "forbidden"


# -- JWTs ------------------------------------------------------------------------------------


def test_roomchat_token_issues_a_jwt_the_server_accepts(join: Joiner, room: str, clean_env: dict[str, str]) -> None:
    token = issue(clean_env, "--id", "77", "--name", "Kiki Gunþīharjaz", "--role", "TEACHER", "--ttl", "600")
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"], issuer="roomchat")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert claims["sub"] == "77" and claims["role"] == "TEACHER" and claims["name"] == "Kiki Gunþīharjaz"
    assert claims["exp"] - claims["iat"] == 600 and abs(claims["iat"] - time.time()) < 300
    assert "rooms" not in claims
    assert join(room, token=token).me == {"ID": 77, "role": "TEACHER", "name": "Kiki Gunþīharjaz"}
    assert join("staff", token=token).me["ID"] == 77  # a teacher may enter the staff room


def test_the_rooms_claim(join: Joiner, room: str, clean_env: dict[str, str]) -> None:
    token = issue(clean_env, "--id", "78", "--name", "Roomy", "--rooms", f"{room},{room}-b")
    assert jwt.decode(token, JWT_SECRET, algorithms=["HS256"], issuer="roomchat")["rooms"] == [room, f"{room}-b"]
    assert join(room, token=token).me == {"ID": 78, "role": "STUDENT", "name": "Roomy"}
    assert join(f"{room}-b", token=token).me["ID"] == 78
    refusal = join.refused(f"{room}-c", token=token)
    assert refusal.code == "forbidden" and refusal.data == {"code": "forbidden"}


def test_an_expired_token_from_the_cli_is_refused(join: Joiner, room: str, clean_env: dict[str, str]) -> None:
    token = issue(clean_env, "--id", "79", "--name", "Late", "--ttl=-5")
    refusal = join.refused(room, token=token)
    assert refusal.code == "unauthorized" and "expired" in refusal.message


def test_roomchat_token_needs_the_secret(clean_env: dict[str, str]) -> None:
    done = roomchat("token", "--id", "5", "--name", "No Secret", env=clean_env)
    assert done.returncode == 2 and "ROOMCHAT_JWT_SECRET" in done.stderr and done.stdout == ""
    done = roomchat("token", "--id", "5", "--name", "Other", "--secret-env", "MY_SECRET",
                    env={**clean_env, "MY_SECRET": JWT_SECRET})
    assert done.returncode == 0
    assert jwt.decode(done.stdout.strip(), JWT_SECRET, algorithms=["HS256"], issuer="roomchat")["sub"] == "5"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": "90", "name": "Claimant", "role": "STUDENT", "iat": now, "exp": now + 600,
                            "iss": "roomchat"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("token", [
    pytest.param(jwt.encode(claims(exp=None), JWT_SECRET, algorithm="HS256"), id="no-exp"),
    pytest.param(jwt.encode(claims(sub=None), JWT_SECRET, algorithm="HS256"), id="no-sub"),
    pytest.param(jwt.encode(claims(name=None), JWT_SECRET, algorithm="HS256"), id="no-name"),
    pytest.param(jwt.encode(claims(role=None), JWT_SECRET, algorithm="HS256"), id="no-role"),
    pytest.param(jwt.encode(claims(role="SUPERUSER"), JWT_SECRET, algorithm="HS256"), id="bad-role"),
    pytest.param(jwt.encode(claims(name="   "), JWT_SECRET, algorithm="HS256"), id="blank-name"),
    pytest.param(jwt.encode(claims(sub="0"), JWT_SECRET, algorithm="HS256"), id="sub-0"),
    pytest.param(jwt.encode(claims(sub="-3"), JWT_SECRET, algorithm="HS256"), id="sub-negative"),
    pytest.param(jwt.encode(claims(sub="abc"), JWT_SECRET, algorithm="HS256"), id="sub-not-digits"),
    pytest.param(jwt.encode(claims(sub=str(GUEST_ID_START)), JWT_SECRET, algorithm="HS256"), id="sub-guest-range"),
    pytest.param(jwt.encode(claims(iss="someone-else"), JWT_SECRET, algorithm="HS256"), id="wrong-issuer"),
    pytest.param(jwt.encode(claims(iss=None), JWT_SECRET, algorithm="HS256"), id="no-issuer"),
    pytest.param(jwt.encode(claims(rooms="a-room"), JWT_SECRET, algorithm="HS256"), id="rooms-not-a-list"),
    pytest.param(jwt.encode(claims(), JWT_SECRET, algorithm="HS512"), id="HS512"),
    pytest.param(jwt.encode(claims(), "another-secret-of-enough-length-0123456789", algorithm="HS256"),
                 id="other-secret"),
    pytest.param(jwt.encode(claims(), None, algorithm="none"), id="alg-none"),
    pytest.param(jwt.encode(claims(nbf=int(time.time()) + 3600), JWT_SECRET, algorithm="HS256"), id="not-yet"),
])
def test_bad_jwts_are_unauthorized(join: Joiner, room: str, token: str) -> None:
    refusal = join.refused(room, token=token, name="Would be a guest")
    assert refusal.data == {"code": "unauthorized"}


def test_a_good_hand_made_jwt(join: Joiner, room: str) -> None:
    token = jwt.encode(claims(sub="91", role="ADMIN", name="  Hand Made  "), JWT_SECRET, algorithm="HS256")
    assert join(room, token=token).me == {"ID": 91, "role": "ADMIN", "name": "Hand Made"}


@pytest.fixture(scope="module")
def no_secret_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    """A server whose JWT secret variable is not set."""
    config = base_config()
    config["auth"]["jwt_secret_env"] = "RC_TEST_SECRET_THAT_IS_NOT_SET"
    server = start_server(config, tmp_path_factory.mktemp("nosecret"))
    yield server
    server.stop()


def test_without_a_secret_jwts_are_refused_and_yaml_tokens_work(no_secret_server: RoomchatProcess) -> None:
    joiner = Joiner(no_secret_server, "websocket")
    try:
        refusal = joiner.refused("anywhere", token=make_jwt(92))
        assert refusal.code == "unauthorized" and "secret" in refusal.message.lower()
        assert joiner("anywhere", token=token_of(TESS)).me == wire_user(TESS)
        assert joiner("anywhere", name="Guest").me["role"] == "STUDENT"
    finally:
        joiner.close_all()
    assert "RC_TEST_SECRET_THAT_IS_NOT_SET" in no_secret_server.log()  # the start-up warning names it


# -- guests ------------------------------------------------------------------------------------


def test_guest_ids_are_fresh_and_never_configured_ones(join: Joiner, room: str) -> None:
    guests = [join(room, name=f"G{i}") for i in range(12)]
    ids = [g.me["ID"] for g in guests]
    assert len(set(ids)) == len(ids)
    assert all(i >= GUEST_ID_START for i in ids)
    assert not set(ids) & set(USERS)
    for g in guests:
        g.close()
    again = join(room, name="Later")
    assert again.me["ID"] not in ids  # IDs are not reused after guests leave


@pytest.fixture(scope="module")
def low_guest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    """A server whose guest IDs start at 10, just above the configured users."""
    config = base_config()
    config["auth"]["guest_id_start"] = 10
    server = start_server(config, tmp_path_factory.mktemp("lowguests"))
    yield server
    server.stop()


def test_guest_ids_start_above_configured_ones(low_guest_server: RoomchatProcess) -> None:
    joiner = Joiner(low_guest_server, "websocket")
    try:
        before = wall_clock_us()
        guests = [joiner("r", name=f"G{i}") for i in range(3)]
        ids = [g.me["ID"] for g in guests]
        assert ids == sorted(ids) and len(set(ids)) == 3
        assert ids[0] >= 10 + before  # guest_id_start plus the clock: never a configured ID, never an old guest's
        assert all(i < 2**53 for i in ids)  # exact in JavaScript
        assert guests[0].me["name"] == "G0"
        assert joiner("r").me["name"] == "Guest 4"  # guests are numbered from 1 for their default names
        assert joiner.refused("r", token=make_jwt(10)).code == "unauthorized"  # a JWT cannot take a guest ID
        assert joiner.refused("r", token=make_jwt(ids[0])).code == "unauthorized"
        assert joiner("r", token=make_jwt(9, "Nine")).me == {"ID": 9, "role": "STUDENT", "name": "Nine"}
    finally:
        joiner.close_all()


# -- one ID, one user (issue 9) ------------------------------------------------------------------

BOT_ID, BOT_NAME = 901, "Moderator"


@pytest.fixture(scope="module")
def bot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    """The test config plus a bot that runs in the server (ID 901, named like the moderator)."""
    config = base_config()
    config["bots"] = [{"kind": "echo", "ID": BOT_ID, "name": BOT_NAME, "rooms": ["botroom"]}]
    server = start_server(config, tmp_path_factory.mktemp("botserver"))
    yield server
    server.stop()


@pytest.fixture
def bot_join(bot_server: RoomchatProcess) -> Iterator[Joiner]:
    """``join`` against ``bot_server``; the test's clients are closed after it (the bot's connection stays)."""
    joiner = Joiner(bot_server, "websocket")
    yield joiner
    for client in joiner.clients:
        client.close()
    wait_connections(bot_server.url, 1)


@pytest.mark.parametrize("user_id", list(USERS))
def test_a_jwt_cannot_take_a_configured_users_id(join: Joiner, room: str, user_id: int) -> None:
    owner = join(room, token=token_of(user_id))
    refusal = join.refused(room, token=make_jwt(user_id, "Impostor", role="STUDENT"))
    assert refusal.code == "unauthorized" and "configured" in refusal.message
    # The configured user is still the only one with that ID: listed as itself, and its messages are its own.
    teller = join(room, token=make_jwt(95, "Teller"))
    assert [u for u in teller.users if u["ID"] == user_id] == [wire_user(user_id)]
    assert teller.send(user_id, "text", "for you only")["msg"] == "Message sent"
    assert owner.wait_message(lambda m: m["message"]["value"] == "for you only")["from"] == 95


def test_a_jwt_cannot_take_a_bots_id(bot_join: Joiner) -> None:
    refusal = bot_join.refused("botroom", token=make_jwt(BOT_ID, "Not A Bot", role="STUDENT"))
    assert refusal.code == "unauthorized" and "configured" in refusal.message
    # ID 901 is the bot's alone: listed as the bot, and a message to it reaches the bot (the echo answers).
    tess = bot_join("botroom", token=token_of(TESS))
    if all(u["ID"] != BOT_ID for u in tess.users):
        tess.wait_for("user-connected", lambda p: p["data"]["ID"] == BOT_ID)
    listed = [u for u in tess.users + [p["data"] for p in tess.received("user-connected")] if u["ID"] == BOT_ID]
    assert listed == [{"ID": BOT_ID, "role": "STUDENT", "name": BOT_NAME}]
    assert tess.send(BOT_ID, "text", "echo?")["msg"] == "Message sent"
    assert tess.wait_message(lambda m: m["message"]["value"] == "echo?")["from"] == BOT_ID


@pytest.mark.parametrize("second", [
    pytest.param({"name": "Kiki", "role": "TEACHER"}, id="another-role"),
    pytest.param({"name": "Mallory", "role": "STUDENT"}, id="another-name"),
])
def test_one_id_is_never_shown_as_two_people(join: Joiner, room: str, second: dict[str, str]) -> None:
    """A second token for an ID in the room with another name or role is refused, not merged into the first."""
    kiki = join(room, token=make_jwt(77, "Kiki", role="STUDENT"))
    refusal = join.refused(room, token=make_jwt(77, second["name"], role=second["role"]))
    assert refusal.code == "unauthorized" and "another name or role" in refusal.message
    again = join(room, token=make_jwt(77, "Kiki", role="STUDENT"))  # the same user: a second connection is fine
    assert [u for u in again.users if u["ID"] == 77] == [{"ID": 77, "role": "STUDENT", "name": "Kiki"}]
    kiki.close()
    again.close()
    # Once the first identity has left, the ID is free for the credential that names it now.
    assert join(room, token=make_jwt(77, second["name"], role=second["role"])).me == {"ID": 77, **second}


# -- a restart does not hand a guest's ID to someone else ----------------------------------------


def test_after_a_crash_no_guest_gets_an_earlier_guests_id(tmp_path: Any) -> None:
    """kill -9, start again: a client that still addresses the old guest reaches nobody, not a newcomer."""
    first = start_server(base_config(), tmp_path / "a")
    joiner = Joiner(first, "websocket")
    try:
        old = [joiner("room", name=f"Old {i}") for i in range(3)]
        old_ids = [g.id for g in old]
    finally:
        first.kill()
        for client in joiner.clients:
            client.close()
    second = start_server(base_config(), tmp_path / "b")
    joiner = Joiner(second, "websocket")
    try:
        newcomer = joiner("room", name="New")
        assert newcomer.id > max(old_ids)
        tess = joiner("room", token=token_of(TESS))  # reconnected, still talking to the old guests
        for old_id in old_ids:
            assert tess.send(old_id, "text", "are you still there?")["data"]["code"] == "user_not_found"
        sync(tess, newcomer)
        assert newcomer.messages() == []
    finally:
        joiner.close_all()
        second.stop()


# -- names: normal form, no lookalikes of configured users and bots --------------------------------


@pytest.mark.parametrize("name", [
    pytest.param("Tess Teacher", id="exact"),
    pytest.param("tess TEACHER", id="case"),
    pytest.param("\u0422ess Teacher", id="cyrillic-T"),
    pytest.param("T\u0435ss T\u0435acher", id="cyrillic-e"),
    pytest.param("\uff34\uff45\uff53\uff53 \uff34\uff45\uff41\uff43\uff48\uff45\uff52", id="fullwidth"),
    pytest.param("Tess\u200b Teacher", id="zero-width-space"),
    pytest.param("Tess  \u00a0Teacher", id="spaces"),
    pytest.param("\u202eTess Teacher", id="rtl-override"),
    pytest.param("Ada Adm\u0456n", id="cyrillic-i"),
])
def test_a_guest_cannot_take_a_configured_users_name(join: Joiner, room: str, name: str) -> None:
    refusal = join.refused(room, name=name)
    assert refusal.code == "invalid_name" and "taken" in refusal.message


@pytest.mark.parametrize("name", [BOT_NAME, "M\u043ederator", "MODERATOR"])
def test_a_guest_cannot_take_a_bots_name(bot_join: Joiner, name: str) -> None:
    refusal = bot_join.refused("anyroom", name=name)
    assert refusal.code == "invalid_name" and "taken" in refusal.message


@pytest.mark.parametrize(("sent", "shown"), [
    pytest.param("Ann\u202e", "Ann", id="rtl-override-dropped"),
    pytest.param("\u202egnp.exe", "gnp.exe", id="rtl-override-in-front"),
    pytest.param("A\u200bn\u200dn\ufeff", "Ann", id="zero-width-dropped"),
    pytest.param("Ann    Lee", "Ann Lee", id="spaces-collapsed"),
    pytest.param("\uff21\uff4e\uff4e", "Ann", id="nfkc"),
    pytest.param("Tess Teachers", "Tess Teachers", id="only-lookalikes-are-taken"),
])
def test_guest_names_are_normalised(join: Joiner, room: str, sent: str, shown: str) -> None:
    assert join(room, name=sent).me["name"] == shown


@pytest.mark.parametrize("name", ["\u200b", "\u200b\u200d\u2060", "\u202e\u202c", "\ufe0f"])
def test_a_name_of_invisible_characters_is_refused(join: Joiner, room: str, name: str) -> None:
    refusal = join.refused(room, name=name)
    assert refusal.code == "invalid_name" and "visible" in refusal.message


@pytest.mark.parametrize(("claimed", "shown"), [
    pytest.param("Kiki\x00", "Kiki", id="nul"),
    pytest.param("Kiki\nAdmin", "Kiki Admin", id="newline"),
    pytest.param("Kiki\u202e", "Kiki", id="rtl-override"),
    pytest.param("\uff2b\uff49\uff4b\uff49", "Kiki", id="nfkc"),
])
def test_jwt_names_are_cleaned(join: Joiner, room: str, claimed: str, shown: str) -> None:
    assert join(room, token=make_jwt(96, claimed)).me == {"ID": 96, "role": "STUDENT", "name": shown}


@pytest.mark.parametrize("claimed", ["\x00\n", "\u200b\u200d"])
def test_a_jwt_name_with_nothing_visible_is_refused(join: Joiner, room: str, claimed: str) -> None:
    assert join.refused(room, token=make_jwt(97, claimed)).code == "unauthorized"


def test_the_normal_form_is_what_everyone_sees(join: Joiner, room: str, transport: str) -> None:
    tess = join(room, token=token_of(TESS))
    join(room, name="\u202eMallory\u200b")
    arrived = tess.wait_for("user-connected")["data"]
    assert arrived["name"] == "Mallory"
