"""The moderator bot end to end: real servers, real clients, a clock the test moves.

Every test runs twice: with the bot inside the server (a ``RoomchatThread``
whose config declares it, on a FakeClock) and out of process (a
``RoomchatProcess``, the bot run by a ``BotThread`` in the test process,
connecting with the token of an external bot, on its own FakeClock). One
server per mode serves the module; every test has a room of its own, so
offences, mutes and bans never leak from one test into another.

Negative assertions never sleep: the bot handles flags one at a time, in
order, so once the notice of a later offence arrived, anything an earlier
message would have caused has arrived too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from roomchat_bots.moderator import Moderator

from roomchat.clock import FakeClock
from roomchat.testing import ChatClient, JoinRefused, RoomchatProcess, RoomchatThread
from roomchat.testing.bots import BotThread, wait_until

MODERATOR = 901
TEACHER, GRACE, ALAN, ADMIN = 1, 2, 3, 4
USERS = {
    TEACHER: ("Ada Lovelace", "TEACHER", "tok-teacher-ada"),
    GRACE: ("Grace Hopper", "STUDENT", "tok-student-grace"),
    ALAN: ("Alan Turing", "STUDENT", "tok-student-alan"),
    ADMIN: ("Margaret Hamilton", "ADMIN", "tok-admin-margaret"),
}
BOT_TOKEN = "tok-moderator-bot-901"

SETTINGS: dict[str, Any] = {
    "words": [
        {"name": "profanity", "words": ["shit", "fuck*", "bitch"], "action": "block"},
        {"name": "mild", "words": ["darn", "stupid"], "action": "redact", "penalty": "warn"},
        {"name": "watch", "words": ["homework machine"], "action": "allow", "penalty": "report"},
    ],
    "flood": {"messages": 6, "seconds": "5m"},
    "repeat": {"times": 3, "seconds": "5m"},
    "shouting": {"min_letters": 12, "action": "redact", "penalty": "warn"},
    "links": {"allowed_domains": ["wikipedia.org"], "action": "block", "penalty": "mute 2m"},
    "escalation": {"steps": ["warn", "mute 60s", "kick", "ban"], "decay": "1h"},
    "grace_seconds": 0,  # the server's clock is real out of process; grace is unit-tested
    "text_notices": True,
}
ROOMS = ["words", "evasion", "redact", "report", "escalation", "decay", "flood", "repeat", "shouting", "links",
         "exempt", "dryrun", "direct", "commands", "scunthorpe"]
STRICT_ROOM = {"admit": ["users"], "rate_limit": None, "message_types": "known"}


def server_config(bot: dict[str, Any]) -> dict[str, Any]:
    rooms = {name: dict(STRICT_ROOM) for name in ROOMS}
    # a room where the server runs no moderator filter: the bot watches alone
    rooms["nofilter"] = {"admit": ["users"], "rate_limit": None, "plugins": {"enabled": ["text", "moderation"]}}
    return {
        "users": [{"ID": i, "name": n, "role": r, "token": t} for i, (n, r, t) in USERS.items()],
        "rooms": rooms,
        "bots": [{"kind": "moderator", "ID": MODERATOR, "name": "Moddy", "rooms": [*ROOMS, "nofilter"], **bot}],
    }


@dataclass
class Env:
    """One way of running the moderator: where the server is, and how to move the bot's time."""

    mode: str
    url: str
    advance: Callable[[float], None]
    """Move the bot's clock (in process, the server's too)."""
    lift_mute: Callable[[str, int], None]
    """End a user's mute: let its time pass (in process), or have the teacher unmute them."""


def _unmute_by_teacher(url: str) -> Callable[[str, int], None]:
    def lift(room: str, user_id: int) -> None:
        with ChatClient(url, room=room, token=USERS[TEACHER][2]) as teacher:
            ack = teacher.broadcast("moderation", {"action": "unmute", "user": user_id})
            assert ack["msg"] == "Message sent", ack
    return lift


@pytest.fixture(scope="module", params=["in_process", "out_of_process"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    if request.param == "in_process":
        clock = FakeClock()
        with RoomchatThread(server_config({"role": "TEACHER", "settings": SETTINGS}), clock=clock) as server:
            yield Env("in_process", server.url, server.advance, lambda room, user: server.advance(61))
    else:
        config = server_config({"run": "external", "token": BOT_TOKEN})
        with RoomchatProcess(config) as server, \
                BotThread(Moderator, server.url, BOT_TOKEN, [*ROOMS, "nofilter"], settings=SETTINGS,
                          bot_ids=[MODERATOR]) as bot:
            yield Env("out_of_process", server.url, bot.advance, _unmute_by_teacher(server.url))


@pytest.fixture
def join(env: Env) -> Iterator[Callable[[str, int], ChatClient]]:
    clients: list[ChatClient] = []

    def connect(room: str, user_id: int) -> ChatClient:
        client = ChatClient(env.url, room=room, token=USERS[user_id][2])
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


# -- helpers ---------------------------------------------------------------------------------


def notice(client: ChatClient, count: int = 1, **expected: Any) -> dict[str, Any]:
    """Wait for the ``count``-th moderation notice (from the room) matching ``expected``; return its value."""
    def match(data: dict[str, Any]) -> bool:
        value = data["message"]["value"]
        return (data["from"] == 0 and data["message"]["type"] == "moderation"
                and all(value.get(k) == v for k, v in expected.items()))
    return client.wait_message(match, count=count)["message"]["value"]


def notices(client: ChatClient) -> list[dict[str, Any]]:
    """Every moderation notice received so far."""
    return [d["message"]["value"] for d in client.messages() if d["message"]["type"] == "moderation"]


def texts_from(client: ChatClient, sender: int) -> list[str]:
    return [d["message"]["value"] for d in client.messages() if d["from"] == sender and d["message"]["type"] == "text"]


def text_from(client: ChatClient, sender: int, contains: str = "", count: int = 1) -> str:
    data = client.wait_message(lambda d: d["from"] == sender and d["message"]["type"] == "text"
                               and contains in str(d["message"]["value"]), count=count)
    return data["message"]["value"]


def refused(ack: dict[str, Any], code: str = "forbidden", rule: str | None = None) -> bool:
    data = ack["data"]
    return ack["msg"] != "Message sent" and data["code"] == code and (rule is None or data.get("rule") == rule)


def sync(client: ChatClient) -> None:
    """A round trip behind everything the server already sent this client (a malformed emit, refused)."""
    assert client.call("message", None)["data"]["code"] == "invalid_message"


def said(client: ChatClient, text: str) -> dict[str, Any]:
    return client.broadcast("text", text)


def logged_action(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    """The bot's first moderation_action line: it logs once the core answered, which may be after the notice."""
    deadline = time.monotonic() + 10
    while not (logged := [r for r in caplog.records if r.getMessage() == "moderation_action"]):
        assert time.monotonic() < deadline, "no moderation_action was logged"
        time.sleep(0.02)
    return logged[0]


# -- words: block, evasions, redact ---------------------------------------------------------------


def test_a_banned_word_is_blocked_and_warned_with_the_rule(join: Callable[..., ChatClient],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="roomchat.bots.moderator")   # the bot runs in this process either way
    teacher, grace, alan = join("words", TEACHER), join("words", GRACE), join("words", ALAN)
    ack = said(grace, "this is shit")
    assert refused(ack, rule="words:profanity")
    assert "“shit”" in ack["msg"]
    warned = notice(grace, action="warn")
    assert warned["user"] == GRACE and warned["by"] == MODERATOR
    assert warned["rule"] == "words:profanity" and warned["offence"] == 1 and warned["next"] == "mute 1m"
    assert "Your message was not sent" in warned["reason"] and "muted for 1 minute" in warned["reason"]
    assert notice(teacher, action="warn", user=GRACE)["rule"] == "words:profanity"   # the teacher is told
    assert said(alan, "all good here")["msg"] == "Message sent"
    grace.wait_message(lambda d: d["from"] == ALAN)
    assert texts_from(grace, ALAN) == ["all good here"] and texts_from(alan, GRACE) == []
    # text_notices: the same explanation as a plain text, for clients that show only text
    assert text_from(grace, MODERATOR).startswith("Your message was not sent: it contains “shit”")
    fields = logged_action(caplog).fields  # type: ignore[attr-defined]
    assert fields["rule"] == "words:profanity" and fields["step"] == "warn" and fields["user"] == GRACE
    assert fields["offence"] == 1 and fields["done"] is True
    assert "shit" not in repr(fields)                                  # never the message's contents


EVASIONS = ["SHIT", "sh1t", "$h!t", "s.h.i.t", "s h i t", "shiiiiit", "Ѕhіt", "ｓｈｉｔ", "sh\u200bit", "ŝhít",
            "fuuuucking", "b1tch", "@$$hole? no: b-i-t-c-h", "ꜱʜɪᴛ", "ᏚᎻᎥᎢ"]  # small capitals, Cherokee


def test_look_alike_evasions_are_caught(join: Callable[..., ChatClient]) -> None:
    # In a dry run every evasion is reported without escalating, so one student can try them all.
    teacher, grace = join("evasion", TEACHER), join("evasion", GRACE)
    teacher.send(MODERATOR, "text", "dry-run on")
    text_from(teacher, MODERATOR, "Dry run is on")
    for count, evasion in enumerate(EVASIONS, 1):
        assert said(grace, f"you {evasion} lol")["msg"] == "Message sent"
        report = text_from(teacher, MODERATOR, "[dry run]", count=count)
        assert "words:profanity" in report, (evasion, report)
    teacher.send(MODERATOR, "text", "dry-run off")
    text_from(teacher, MODERATOR, "Dry run is off")
    assert refused(said(grace, "you Ѕh1t"), rule="words:profanity")


def test_scunthorpe_is_not_flagged(join: Callable[..., ChatClient]) -> None:
    grace, alan = join("scunthorpe", GRACE), join("scunthorpe", ALAN)
    innocent = ["Scunthorpe is in Lincolnshire", "a classic assassin passes the bass", "skills and shiitake",
                "he'll bitcheck? no: the pitch", "Dickens wrote it; Cockburn too"]
    for text in innocent:
        assert said(grace, text)["msg"] == "Message sent", text
    for count, text in enumerate(innocent, 1):
        assert text_from(alan, GRACE, count=count) == text
    assert refused(said(grace, "now: shit"), rule="words:profanity")
    assert notice(grace, action="warn")["offence"] == 1      # none of the above was an offence


def test_redacted_words_are_delivered_masked(join: Callable[..., ChatClient]) -> None:
    teacher, grace, alan = join("redact", TEACHER), join("redact", GRACE), join("redact", ALAN)
    ack = said(grace, "that is d4rn STUPID, right")
    assert ack["msg"] == "Message sent"
    assert ack["data"]["message"]["value"] == "that is **** ******, right"
    assert text_from(alan, GRACE) == "that is **** ******, right"
    warned = notice(grace, action="warn")
    assert warned["rule"] == "words:mild" and warned["outcome"] == "redacted" and "offence" not in warned
    assert "changed before the room saw it" in warned["reason"]
    notice(teacher, action="warn", user=GRACE)


def test_a_report_only_rule_tells_the_teachers_and_nobody_else(join: Callable[..., ChatClient]) -> None:
    teacher, grace, alan = join("report", TEACHER), join("report", GRACE), join("report", ALAN)
    assert said(grace, "who has the Homework-Machine link?")["msg"] == "Message sent"
    assert text_from(alan, GRACE) == "who has the Homework-Machine link?"
    report = text_from(teacher, MODERATOR)
    assert report.startswith("Grace Hopper (2) (words:watch): the message was delivered: it contains “Homework-Machine”")
    assert refused(said(grace, "shit"))
    assert notice(grace, action="warn")["offence"] == 1          # the report was no offence
    assert notices(grace) == [notice(grace, action="warn")] and texts_from(grace, MODERATOR)[0].startswith(
        "Your message was not sent")


# -- escalation: warn -> mute -> kick -> ban, enforced by the core --------------------------------


def test_every_step_of_the_escalation(env: Env, join: Callable[..., ChatClient]) -> None:
    teacher, grace, alan = join("escalation", TEACHER), join("escalation", GRACE), join("escalation", ALAN)
    # 1: warn
    assert refused(said(grace, "shit"), rule="words:profanity")
    assert notice(grace, action="warn")["offence"] == 1
    # 2: mute, enforced by the server
    assert refused(said(grace, "sh1t again"), rule="words:profanity")
    muted = notice(grace, action="mute")
    assert muted["offence"] == 2 and muted["seconds"] == 60 and muted["next"] == "kick"
    assert notice(teacher, action="mute", user=GRACE)["rule"] == "words:profanity"
    assert refused(said(grace, "let me talk"), code="muted")
    assert refused(grace.send(ALAN, "text", "psst"), code="muted")
    assert grace.send(TEACHER, "text", "why am I muted?")["msg"] == "Message sent"   # muted users may ask
    env.lift_mute("escalation", GRACE)
    assert said(grace, "sorry everyone")["msg"] == "Message sent"
    # 3: kick (they may come back)
    assert refused(said(grace, "fuck this"), rule="words:profanity")
    kicked = notice(grace, action="kick")
    assert kicked["offence"] == 3 and kicked["next"] == "ban"
    grace.wait_for("disconnect")
    grace = join("escalation", GRACE)
    # 4: ban, refused on reconnect
    assert refused(said(grace, "b!tch"), rule="words:profanity")
    banned = notice(grace, action="ban")
    assert banned["offence"] == 4 and "seconds" not in banned and "banned from this room" in banned["reason"]
    grace.wait_for("disconnect")
    with pytest.raises(JoinRefused) as refusal:
        join("escalation", GRACE)
    assert refusal.value.code == "banned"
    notice(teacher, action="ban", user=GRACE)
    assert [n["action"] for n in notices(teacher) if n["user"] == GRACE] == ["warn", "mute", "kick", "ban"]
    assert said(alan, "still here")["msg"] == "Message sent"


def test_offences_decay(env: Env, join: Callable[..., ChatClient]) -> None:
    grace = join("decay", GRACE)
    assert refused(said(grace, "shit"))
    assert notice(grace, action="warn")["offence"] == 1
    env.advance(2 * 3600)   # longer than escalation.decay: the offence is forgotten
    assert refused(said(grace, "shit"))
    again = notice(grace, action="warn", count=2)
    assert again["offence"] == 1


# -- the other rules ------------------------------------------------------------------------------


def test_flood(join: Callable[..., ChatClient]) -> None:
    grace, alan = join("flood", GRACE), join("flood", ALAN)
    for i in range(6):
        assert said(grace, f"message number {i}")["msg"] == "Message sent"
    ack = said(grace, "message number 6")
    assert refused(ack, rule="flood") and "more than 6 messages in 5 minutes" in ack["msg"]
    flood = notice(grace, action="warn")
    assert flood["rule"] == "flood" and flood["offence"] == 1
    assert text_from(alan, GRACE, count=6) == "message number 5"
    sync(alan)
    assert "message number 6" not in texts_from(alan, GRACE)


def test_repeated_text(join: Callable[..., ChatClient]) -> None:
    grace, alan = join("repeat", GRACE), join("repeat", ALAN)
    assert said(grace, "buy my game")["msg"] == "Message sent"
    assert said(grace, "BUY my game!")["msg"] == "Message sent"
    assert refused(said(grace, "buy  my  game"), rule="repeat")
    assert notice(grace, action="warn")["rule"] == "repeat"
    assert said(alan, "buy my game")["msg"] == "Message sent"       # someone else's count is their own


def test_shouting_is_calmed_and_warned(join: Callable[..., ChatClient]) -> None:
    grace, alan = join("shouting", GRACE), join("shouting", ALAN)
    assert said(grace, "I LOVE NASA")["msg"] == "Message sent"       # too short to be shouting
    ack = said(grace, "WHY IS NOBODY ANSWERING ME")
    assert ack["data"]["message"]["value"] == "Why is nobody answering me"
    assert text_from(alan, GRACE, count=2) == "Why is nobody answering me"
    warned = notice(grace, action="warn")
    assert warned["rule"] == "shouting" and "capital letters" in warned["reason"]


def test_links_outside_the_allowed_domains(join: Callable[..., ChatClient]) -> None:
    teacher, grace = join("links", TEACHER), join("links", GRACE)
    assert said(grace, "read https://en.wikipedia.org/wiki/Cat")["msg"] == "Message sent"
    ack = said(grace, "free robux at evil.example.com/win")
    assert refused(ack, rule="links") and "evil.example.com" in ack["msg"]
    muted = notice(grace, action="mute")                            # this rule's own penalty: mute 2m
    assert muted["rule"] == "links" and muted["seconds"] == 120 and "offence" not in muted
    assert teacher.broadcast("text", "see https://example.com")["msg"] == "Message sent"   # teachers are exempt


def test_direct_messages_are_checked_too(join: Callable[..., ChatClient]) -> None:
    grace, alan = join("direct", GRACE), join("direct", ALAN)
    assert refused(grace.send(ALAN, "text", "you are a b1tch"), rule="words:profanity")
    assert notice(grace, action="warn")["rule"] == "words:profanity"
    assert grace.send(ALAN, "text", "sorry")["msg"] == "Message sent"
    assert text_from(alan, GRACE) == "sorry"
    assert texts_from(alan, GRACE) == ["sorry"]             # the insult never arrived, and it came first


# -- exemption, dry run, commands ---------------------------------------------------------------------


def test_teachers_and_admins_are_exempt(join: Callable[..., ChatClient]) -> None:
    teacher, admin, grace = join("exempt", TEACHER), join("exempt", ADMIN), join("exempt", GRACE)
    for who in (teacher, admin):
        assert said(who, "oh shit, WHY IS THE PROJECTOR BROKEN AGAIN")["msg"] == "Message sent"
    assert text_from(grace, TEACHER) == "oh shit, WHY IS THE PROJECTOR BROKEN AGAIN"
    assert refused(said(grace, "shit"))
    assert notice(teacher, action="warn")["user"] == GRACE
    assert notice(admin, action="warn")["user"] == GRACE
    assert [n["user"] for n in notices(teacher) + notices(admin)] == [GRACE, GRACE]   # nothing about them


def test_dry_run_only_reports(join: Callable[..., ChatClient]) -> None:
    teacher, grace, alan = join("dryrun", TEACHER), join("dryrun", GRACE), join("dryrun", ALAN)
    assert teacher.send(MODERATOR, "text", "dry-run on")["msg"] == "Message sent"
    assert "Dry run is on" in text_from(teacher, MODERATOR)
    assert said(grace, "this is shit")["msg"] == "Message sent"      # delivered as it is
    assert text_from(alan, GRACE) == "this is shit"
    report = text_from(teacher, MODERATOR, "[dry run]")
    assert "Grace Hopper (2) would have been warned" in report and "words:profanity" in report
    assert "would not have been sent" in report
    assert teacher.send(MODERATOR, "text", "dry-run off")["msg"] == "Message sent"
    assert "Dry run is off" in text_from(teacher, MODERATOR, "Dry run is off")
    assert refused(said(grace, "this is shit"))
    first = notice(grace, action="warn")
    assert first["offence"] == 1                                        # the dry run recorded nothing
    assert len(notices(grace)) == 1


def test_teacher_commands_and_students_asking(join: Callable[..., ChatClient]) -> None:
    teacher, grace = join("commands", TEACHER), join("commands", GRACE)
    assert refused(said(grace, "shit"))
    notice(teacher, action="warn")
    teacher.send(MODERATOR, "text", "status")
    status = text_from(teacher, MODERATOR, "Moderator in commands")
    assert "Grace Hopper (2): 1 offence(s); next: mute 1m" in status and "server filter active" in status
    teacher.send(MODERATOR, "text", "log")
    assert "Grace Hopper (2): warn for words:profanity (offence 1)" in text_from(teacher, MODERATOR, "warn for")
    teacher.send(MODERATOR, "text", "forgive 2")
    assert text_from(teacher, MODERATOR, "Forgot") == "Forgot 1 offence(s) of user 2."
    assert refused(said(grace, "shit"))
    assert notice(grace, action="warn", count=2)["offence"] == 1
    teacher.send(MODERATOR, "text", "what can you do")
    assert "forgive <ID>" in text_from(teacher, MODERATOR, "Moderator commands")
    assert grace.send(MODERATOR, "text", "shit, what is the status")["msg"] == "Message sent"  # only bots read it
    assert "ask your teacher" in text_from(grace, MODERATOR, "ask your teacher")   # students get no commands
    assert refused(grace.send(MODERATOR, "moderator-flag", {"user": {}}))   # nobody can forge a flag
    assert refused(grace.send(GRACE, "moderator-config", None))             # nor can a student switch it off


def test_without_the_server_filter_the_bot_still_escalates(join: Callable[..., ChatClient]) -> None:
    teacher, grace, alan = join("nofilter", TEACHER), join("nofilter", GRACE), join("nofilter", ALAN)
    assert said(grace, "this is shit")["msg"] == "Message sent"     # nothing can stop it before delivery
    assert text_from(alan, GRACE) == "this is shit"
    warned = notice(grace, action="warn")
    assert warned["rule"] == "words:profanity" and "broke a room rule" in warned["reason"]
    teacher.send(MODERATOR, "text", "status")
    assert "watching messages myself" in text_from(teacher, MODERATOR, "Moderator in nofilter")


# -- the shipped configuration --------------------------------------------------------------------


def test_the_default_config_moderates_the_classroom() -> None:
    config = Path(__file__).resolve().parents[2] / "config" / "roomchat.yaml"  # its database: this test's data_dir
    with RoomchatProcess(config) as server, \
            ChatClient(server.url, room="classroom", token="demo-teacher-ada") as ada, \
            ChatClient(server.url, room="classroom", token="demo-student-grace") as grace, \
            ChatClient(server.url, room="classroom", token="demo-student-alan") as alan:
        # The server answers /healthz before its own bots have connected; the moderator configures
        # the classroom's filter as it joins: wait for that.
        wait_until(lambda: "event=filter_configured room=classroom" in server.log(), "the moderator's rules are in")
        assert MODERATOR in [u["ID"] for u in ada.users] or ada.wait_for(
            "user-connected", lambda p: p["data"]["ID"] == MODERATOR)
        assert refused(said(grace, "what the f.u.c.k"), rule="words:profanity")
        assert notice(ada, action="warn", user=GRACE)["rule"] == "words:profanity"
        assert said(alan, "you are st00pid? no, stupid")["data"]["message"]["value"] == "you are st00pid? no, ******"
        assert said(alan, "Scunthorpe: see https://en.wikipedia.org/wiki/Scunthorpe")["msg"] == "Message sent"


def test_an_external_bot_configures_the_filter_again_after_a_server_restart() -> None:
    first = RoomchatProcess(server_config({"run": "external", "token": BOT_TOKEN})).start()
    with BotThread(Moderator, first.url, BOT_TOKEN, ["words"], settings=SETTINGS, bot_ids=[MODERATOR]) as bot:
        with ChatClient(first.url, room="words", token=USERS[GRACE][2]) as grace:
            assert refused(said(grace, "shit"), rule="words:profanity")
            assert notice(grace, action="warn")["offence"] == 1
        first.stop()
        # Count joins from here: the first server is gone now, but while it drained it still took connections, so
        # a second join counted before this line may have been to the first server, not to the second.
        joins = bot.joins("words")
        with RoomchatProcess(first.config_path, port=first.port) as second:
            deadline = time.monotonic() + 30
            while bot.joins("words") <= joins:           # reconnected to this server, and on_join sent the rules
                assert time.monotonic() < deadline, "the bot did not come back"
                time.sleep(0.05)
            with ChatClient(second.url, room="words", token=USERS[GRACE][2]) as grace:
                assert refused(said(grace, "shit"), rule="words:profanity")
                assert notice(grace, action="mute")["offence"] == 2   # the bot kept its own memory
