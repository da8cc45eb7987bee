"""Core moderation through a real server: every action, every refusal code, expiry on a FakeClock.

Teachers and admins moderate with ``moderation`` messages; a bot does the same
through ``BotRoom.moderate``. Users are known users (tokens), so a ban follows
the same ID when it comes back.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from roomchat.bot import Bot
from roomchat.clock import FakeClock
from roomchat.testing import ChatClient, JoinRefused, RoomchatThread
from roomchat.testing.bots import BotThread, bot_token, user_token, wait_until

_rooms = itertools.count(1)
TEACHER, TEACHER2, ADMIN, ANN, BOB = 10, 11, 12, 20, 21
NAMES = {TEACHER: ("Tess", "TEACHER"), TEACHER2: ("Theo", "TEACHER"), ADMIN: ("Ada", "ADMIN"),
         ANN: ("Ann", "STUDENT"), BOB: ("Bob", "STUDENT")}


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatThread]:
    config = {"server": {"create_rooms": True, "new_room": {"admit": ["users", "guests"], "rate_limit": None}}}
    with RoomchatThread(config, clock=FakeClock()) as srv:
        srv.tokens = {uid: user_token(srv, uid, *NAMES[uid]) for uid in NAMES}  # type: ignore[attr-defined]
        yield srv


@pytest.fixture
def room() -> str:
    return f"mod-{next(_rooms)}"


class People:
    """Clients joined to one room by user ID; all closed at the end of the test."""

    def __init__(self, server: RoomchatThread, room: str) -> None:
        self.server, self.room, self.clients = server, room, []

    def join(self, uid: int) -> ChatClient:
        client = ChatClient(self.server.url, room=self.room, token=self.server.tokens[uid])  # type: ignore[attr-defined]
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture
def people(server: RoomchatThread, room: str) -> Iterator[People]:
    p = People(server, room)
    yield p
    p.close()


def moderate(client: ChatClient, action: str, user: int | None = None, **extra: Any) -> dict[str, Any]:
    value = {"action": action, **({"user": user} if user is not None else {}), **extra}
    return client.broadcast("moderation", value)


def code(ack: dict[str, Any]) -> str | None:
    return None if ack["msg"] == "Message sent" else ack["data"]["code"]


def notices(client: ChatClient) -> list[dict[str, Any]]:
    return [m["message"]["value"] for m in client.messages() if m["from"] == 0 and m["message"]["type"] == "moderation"]


def sync(*clients: ChatClient) -> None:
    for client in clients:
        client.call("message", None)


def test_students_may_not_moderate(people: People) -> None:
    tess, ann, bob = people.join(TEACHER), people.join(ANN), people.join(BOB)
    for action in ("mute", "unmute", "kick", "ban", "unban", "warn"):
        assert code(moderate(ann, action, BOB, seconds=60)) == "forbidden"
    for action in ("lock", "unlock"):
        assert code(moderate(ann, action)) == "forbidden"
    sync(tess, bob)
    assert notices(bob) == [] and notices(tess) == []  # refused: nobody heard of it
    assert code(bob.broadcast("text", "still free")) is None


def test_mute_refuses_messages_until_it_expires(server: RoomchatThread, people: People) -> None:
    tess, theo, ann, bob = people.join(TEACHER), people.join(TEACHER2), people.join(ANN), people.join(BOB)
    ack = moderate(tess, "mute", ANN, seconds=60, reason="flooding")
    assert code(ack) is None
    told = ann.wait_message(lambda d: d["from"] == 0)["message"]
    assert told["type"] == "moderation"
    assert {k: told["value"][k] for k in ("action", "user", "by", "seconds", "reason")} == \
        {"action": "mute", "user": ANN, "by": TEACHER, "seconds": 60, "reason": "flooding"}
    assert isinstance(told["value"]["until"], int)
    assert theo.wait_message(lambda d: d["from"] == 0)["message"]["value"]["action"] == "mute"  # the other teacher
    sync(tess, bob)
    assert notices(tess) == [] and notices(bob) == []  # not the actor, not the other students

    refused = ann.broadcast("text", "hello?")
    assert code(refused) == "muted" and "flooding" in refused["msg"] and refused["data"]["until"]
    assert code(ann.send(BOB, "text", "psst")) == "muted"
    assert code(ann.send(TEACHER, "text", "why?")) is None  # a muted student may still ask a teacher
    server.advance(59)
    assert code(ann.broadcast("text", "now?")) == "muted"
    server.advance(2)
    assert code(ann.broadcast("text", "free again")) is None
    assert bob.wait_message(lambda d: d["from"] == ANN)["message"]["value"] == "free again"


def test_unmute_and_an_open_ended_mute(people: People) -> None:
    tess, ann = people.join(TEACHER), people.join(ANN)
    assert code(moderate(tess, "mute", ANN)) is None
    assert code(ann.broadcast("text", "x")) == "muted"
    assert code(moderate(tess, "unmute", ANN)) is None
    ann.wait_message(lambda d: d["from"] == 0, count=2)
    assert [n["action"] for n in notices(ann)] == ["mute", "unmute"]
    assert code(ann.broadcast("text", "x")) is None


def test_kick_closes_every_connection_of_the_user_in_the_room(people: People) -> None:
    tess, ann, ann2, bob = people.join(TEACHER), people.join(ANN), people.join(ANN), people.join(BOB)
    assert code(moderate(tess, "kick", ANN, reason="take a break")) is None
    for conn in (ann, ann2):
        conn.wait_for("disconnect")
        assert notices(conn)[0]["action"] == "kick"
    assert bob.wait_for("user-disconnected")["data"]["ID"] == ANN
    assert bob.connected
    back = people.join(ANN)  # a kick is not a ban
    assert back.id == ANN


def test_ban_refuses_the_user_until_unbanned_or_expired(server: RoomchatThread, people: People, room: str) -> None:
    tess, ann = people.join(TEACHER), people.join(ANN)
    assert code(moderate(tess, "ban", ANN, reason="abuse")) is None
    ann.wait_for("disconnect")
    with pytest.raises(JoinRefused) as refused:
        people.join(ANN)
    assert refused.value.code == "banned" and "abuse" in refused.value.message
    with ChatClient(server.url, room=room + "-other", token=server.tokens[ANN]) as elsewhere:  # type: ignore[attr-defined]
        assert elsewhere.id == ANN  # bans are per room
    assert code(moderate(tess, "unban", ANN)) is None
    people.join(ANN)

    assert code(moderate(tess, "ban", ANN, seconds=120)) is None
    with pytest.raises(JoinRefused, match="banned") as again:
        people.join(ANN)
    assert again.value.code == "banned"
    server.advance(121)
    assert people.join(ANN).id == ANN


def test_lock_limits_students_to_messages_to_teachers_and_bots(server: RoomchatThread, people: People,
                                                             room: str) -> None:
    tess, ann, bob = people.join(TEACHER), people.join(ANN), people.join(BOB)
    with BotThread(Bot, server.url, bot_token(server, 90, "Helper"), [room]):
        assert code(moderate(tess, "lock", reason="test time")) is None
        for client in (ann, bob):
            notice = client.wait_message(lambda d: d["from"] == 0)["message"]["value"]
            assert notice["action"] == "lock" and notice["scope"] == "all"
        assert code(ann.broadcast("text", "hi all")) == "forbidden"
        assert code(ann.send(BOB, "text", "answer is 4")) == "forbidden"
        assert code(ann.send(TEACHER, "text", "question")) is None
        assert code(ann.send(90, "quiz-answer", "4")) is None  # answers to a bot still pass
        assert code(tess.broadcast("text", "quiet please")) is None
        assert code(moderate(tess, "unlock")) is None
        assert code(ann.broadcast("text", "hi all")) is None

        assert code(moderate(tess, "lock", scope="broadcast", seconds=30)) is None
        assert code(ann.broadcast("text", "x")) == "forbidden"
        assert code(ann.send(BOB, "text", "x")) is None
        server.advance(31)
        assert code(ann.broadcast("text", "lock expired")) is None


def test_who_may_moderate_whom(people: People) -> None:
    tess, theo, ada, ann = people.join(TEACHER), people.join(TEACHER2), people.join(ADMIN), people.join(ANN)
    assert code(moderate(tess, "mute", ADMIN)) == "forbidden"
    assert code(moderate(tess, "mute", TEACHER2)) == "forbidden"
    assert code(moderate(tess, "mute", TEACHER)) == "forbidden"  # yourself
    assert code(moderate(ada, "mute", TEACHER2, seconds=5)) is None
    assert code(theo.broadcast("text", "hm")) == "muted"
    assert code(moderate(tess, "kick", 999)) == "user_not_found"
    assert code(moderate(tess, "warn", 0)) == "user_not_found"
    missing = moderate(tess, "mute")
    assert code(missing) == "validation_failed" and missing["data"]["errors"][0]["loc"] == ["user"]
    assert code(moderate(tess, "explode", ANN)) == "validation_failed"
    assert code(moderate(tess, "mute", ANN, seconds=-1)) == "validation_failed"
    assert code(ann.send(TEACHER, "moderation", {"action": "warn"})) == "forbidden"


def test_warn_only_tells_and_extra_keys_reach_the_notices(people: People) -> None:
    tess, theo, ann = people.join(TEACHER), people.join(TEACHER2), people.join(ANN)
    assert code(moderate(tess, "warn", ANN, reason="language", rule="banned-words")) is None
    told = ann.wait_message(lambda d: d["from"] == 0)["message"]["value"]
    assert told["action"] == "warn" and told["reason"] == "language" and told["rule"] == "banned-words"
    assert theo.wait_message(lambda d: d["from"] == 0)["message"]["value"]["rule"] == "banned-words"
    assert code(ann.broadcast("text", "sorry")) is None
    # Sent directly to the user it is about, ``user`` may be left out.
    assert code(tess.send(ANN, "moderation", {"action": "warn", "reason": "again"})) is None
    assert ann.wait_message(lambda d: d["from"] == 0, count=2)["message"]["value"]["reason"] == "again"


def test_bots_moderate_through_the_same_actions(server: RoomchatThread, people: People, room: str) -> None:
    tess, ann = people.join(TEACHER), people.join(ANN)
    with BotThread(Bot, server.url, bot_token(server, 91, "Sheriff"), [room]) as bot:  # a STUDENT-role bot
        ack = bot.call(bot.room().moderate("mute", ANN, seconds=30, reason="flood", rule="flood"))
        assert ack.ok, ack
        assert code(ann.broadcast("text", "x")) == "muted"
        report = tess.wait_message(lambda d: d["from"] == 0)["message"]["value"]
        assert report["by"] == 91 and report["rule"] == "flood"
        assert bot.call(bot.room().moderate("kick", TEACHER)).code == "forbidden"
        assert bot.call(bot.room().moderate("unmute", ANN)).ok
        assert code(ann.broadcast("text", "x")) is None
        lock = bot.call(bot.room().moderate("lock", seconds=10))
        assert lock.ok
        assert code(ann.broadcast("text", "y")) == "forbidden"
        assert bot.call(bot.room().moderate("unlock")).ok
    wait_until(lambda: tess.received("user-disconnected"), "the bot left")


def test_a_teacher_away_is_bound_only_by_an_admin(people: People) -> None:
    tess, ada = people.join(TEACHER), people.join(ADMIN)
    assert code(moderate(tess, "ban", TEACHER2)) is None  # Theo is away: his role is not known yet
    assert people.join(TEACHER2).id == TEACHER2  # ...and a teacher's ban does not bind a teacher
    people.clients[-1].close()
    people.clients[0].wait_for("user-disconnected", lambda p: p["data"]["ID"] == TEACHER2)
    assert code(moderate(ada, "ban", TEACHER2)) is None
    with pytest.raises(JoinRefused) as refused:
        people.join(TEACHER2)
    assert refused.value.code == "banned"
    assert code(moderate(ada, "unban", TEACHER2)) is None
