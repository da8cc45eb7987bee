"""The moderator in a real class (issue 10): rules that judge text read only the text a type declares.

A class votes, changes its votes and reacts to the same poll, which repeats
the poll's id in every message: that is an interaction, never a repeated
message or a flood. ``poll-close`` and votes on a closed poll get their own
codes. Genuinely repeated text is still caught. Through the shipped
``config/roomchat.yaml`` (its ``classroom`` and moderator), and through a
server whose plugin declares the text of its own type.

Negative assertions do not sleep: the bot handles flags one at a time, in
order, so once the notice of a later offence arrived, any notice an earlier
message caused has arrived too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from roomchat import MessageType, hookimpl
from roomchat.testing import ChatClient, RoomchatProcess, RoomchatThread

CONFIG = Path(__file__).resolve().parents[2] / "config" / "roomchat.yaml"
MODERATOR = 901
ADA, GRACE, ALAN, MARGARET = 1, 2, 3, 4
TOKENS = {ADA: "demo-teacher-ada", GRACE: "demo-student-grace", ALAN: "demo-student-alan",
          MARGARET: "demo-admin-margaret"}
SENT = "Message sent"


@pytest.fixture
def classroom() -> Iterator[Callable[[int], ChatClient]]:
    """A fresh server with the shipped config and the test's own database (tests/conftest.py's ``data_dir``: mutes
    and offences, kept there, never leak between tests); joins ``classroom``."""
    clients: list[ChatClient] = []
    with RoomchatProcess(CONFIG) as server:
        def join(user: int) -> ChatClient:
            client = ChatClient(server.url, room="classroom", token=TOKENS[user])
            clients.append(client)
            return client
        yield join
        for client in clients:
            client.close()


def notices(client: ChatClient) -> list[dict[str, Any]]:
    return [d["message"]["value"] for d in client.messages() if d["message"]["type"] == "moderation"]


def notice(client: ChatClient, **expected: Any) -> dict[str, Any]:
    data = client.wait_message(lambda d: d["from"] == 0 and d["message"]["type"] == "moderation"
                               and all(d["message"]["value"].get(k) == v for k, v in expected.items()))
    return data["message"]["value"]


def sent(ack: dict[str, Any]) -> dict[str, Any]:
    assert ack["msg"] == SENT, ack
    return ack["data"]


def results(client: ChatClient, **expected: Any) -> dict[str, Any]:
    data = client.wait_message(lambda d: d["from"] == 0 and d["message"]["type"] == "poll-results"
                               and all(d["message"]["value"].get(k) == v for k, v in expected.items()))
    return data["message"]["value"]


def first_offence_is_now(student: ChatClient, teacher: ChatClient, student_id: int) -> None:
    """A genuine offence now is the student's first: nothing before it was one (and the teacher heard of no other)."""
    ack = student.broadcast("text", "this is shit")
    assert ack["data"]["code"] == "forbidden" and ack["data"]["rule"] == "words:profanity"
    assert notice(student, action="warn")["offence"] == 1
    notice(teacher, action="warn", user=student_id)
    assert [(n["user"], n["rule"]) for n in notices(teacher)] == [(student_id, "words:profanity")]


def test_a_class_that_votes_changes_votes_and_reacts_is_never_warned(classroom: Callable[[int], ChatClient]) -> None:
    ada, grace, alan = classroom(ADA), classroom(GRACE), classroom(ALAN)
    poll = sent(ada.broadcast("poll", {"question": "Which planet is the largest?",
                                       "options": ["Mars", "Jupiter", "Venus"]}))["message"]["value"]["id"]
    prompt = sent(ada.broadcast("text", "Vote now; change your mind as often as you like"))["id"]
    for option in (0, 1, 2, 1):                                         # Grace changes her mind three times
        sent(grace.broadcast("vote", {"poll": poll, "option": option}))
    for emoji, message in (("👍", poll), ("🎉", poll), ("👍", prompt)):
        sent(grace.broadcast("reaction", {"message": message, "emoji": emoji}))
    for option in (1, 1, 0):                                            # Alan votes the same twice, then changes
        sent(alan.broadcast("vote", {"poll": poll, "option": option}))
    sent(alan.broadcast("reaction", {"message": poll, "emoji": "👍"}))
    assert results(ada, total=2, counts=[1, 1, 0])["poll"] == poll       # the last vote of each counted
    sent(grace.broadcast("text", "Jupiter, by far"))
    sent(alan.broadcast("text", "Mars, no, Jupiter"))
    first_offence_is_now(grace, ada, GRACE)
    assert [n for n in notices(alan)] == []


def test_poll_close_and_a_vote_on_a_closed_poll_get_their_own_codes(classroom: Callable[[int], ChatClient]) -> None:
    ada, grace, alan = classroom(ADA), classroom(GRACE), classroom(ALAN)
    opened = sent(grace.broadcast("poll", {"question": "Lunch?", "options": ["pizza", "salad"]}))
    poll = opened["message"]["value"]["id"]
    sent(grace.broadcast("vote", {"poll": poll, "option": 0}))
    sent(grace.broadcast("vote", {"poll": poll, "option": 1}))
    sent(alan.broadcast("vote", {"poll": poll, "option": 1}))
    refused = alan.broadcast("poll-close", {"poll": poll})              # not his poll
    assert refused["data"]["code"] == "forbidden" and "rule" not in refused["data"]
    assert "creator" in refused["msg"]
    sent(grace.broadcast("poll-close", {"poll": poll}))
    assert results(ada, closed=True)["counts"] == [0, 2]
    for student in (grace, alan, grace):
        late = student.broadcast("vote", {"poll": poll, "option": 0})
        assert late["data"]["code"] == "validation_failed" and late["data"]["errors"][0]["type"] == "poll_closed"
    again = grace.broadcast("poll-close", {"poll": poll})
    assert again["data"]["code"] == "validation_failed" and again["data"]["errors"][0]["type"] == "poll_closed"
    first_offence_is_now(grace, ada, GRACE)


def test_repeated_text_is_caught_in_one_conversation_not_across_several(
        classroom: Callable[[int], ChatClient]) -> None:
    ada, margaret, grace, alan = classroom(ADA), classroom(MARGARET), classroom(GRACE), classroom(ALAN)
    for someone in (ALAN, ADA, MARGARET):                               # one question, asked of three people
        sent(grace.send(someone, "text", "Can you send me today's homework?"))
    sent(grace.broadcast("text", "buy my game"))
    sent(grace.broadcast("text", "BUY my game!"))
    ack = grace.broadcast("text", "buy  my  game")
    assert ack["data"]["code"] == "forbidden" and ack["data"]["rule"] == "repeat"
    assert notice(grace, action="warn")["rule"] == "repeat"
    assert notice(ada, user=GRACE)["offence"] == 1                      # the first offence: the questions were none
    assert notice(margaret, user=GRACE)["rule"] == "repeat"
    assert [n["rule"] for n in notices(margaret)] == ["repeat"]
    assert sum(1 for d in alan.messages() if d["from"] == GRACE and d["message"]["type"] == "text") == 3


# -- a plugin declares its type's text -------------------------------------------------------------------


class Rating(BaseModel):
    """A star rating with a comment and a machine tag."""

    stars: int
    comment: str = ""
    tag: str = ""


class RatingPlugin:
    """Registers ``rating``, whose human text is its ``comment``."""

    @hookimpl
    def roomchat_register_message_types(self, register: Callable[[MessageType], None]) -> None:
        register(MessageType("rating", Rating, text="comment", description="stars and a comment"))


def rating_server() -> RoomchatThread:
    users = [{"ID": i, "name": n, "role": "STUDENT", "token": f"tok-{n}"}
             for i, n in ((GRACE, "grace"), (ALAN, "alan"))]
    rules = {"words": [{"name": "profanity", "words": ["shit"], "action": "block"}],
             "shouting": {"min_letters": 12}, "repeat": {"times": 2, "seconds": "1m"}, "flood": {"enabled": False}}
    config = {"users": users, "rooms": {"open": {"admit": ["users"], "rate_limit": None}},
              "bots": [{"kind": "moderator", "ID": MODERATOR, "name": "Moddy", "rooms": ["open"], "settings": rules}]}
    return RoomchatThread(config, plugins={"rating": RatingPlugin()})


def test_rules_read_the_text_a_plugin_declares_and_every_string_of_an_unregistered_type() -> None:
    with rating_server() as server, ChatClient(server.url, room="open", token="tok-grace") as grace, \
            ChatClient(server.url, room="open", token="tok-alan") as alan:
        blocked = grace.broadcast("rating", {"stars": 1, "comment": "this is shit"})
        assert blocked["data"]["code"] == "forbidden" and blocked["data"]["rule"] == "words:profanity"
        shouted = {"stars": 5, "comment": "BEST LESSON EVER, REALLY", "tag": "ABC-DEF-GHI-JKL"}
        calm = sent(grace.broadcast("rating", shouted))
        assert calm["message"]["value"]["comment"] == "Best lesson ever, really"     # shouting: only the comment
        assert calm["message"]["value"]["tag"] == "ABC-DEF-GHI-JKL"
        for _ in range(3):                                              # the same tag again: not a repeated text
            sent(grace.broadcast("rating", {"stars": 4, "tag": "lesson-7"}))
        # an unregistered type in an open room: nobody declared its text, so words read every string in it
        unknown = grace.broadcast("sticker", {"name": "cat", "caption": "shit happens"})
        assert unknown["data"]["code"] == "forbidden" and unknown["data"]["rule"] == "words:profanity"
        for _ in range(3):                                              # but an id sent again is no repeat
            sent(grace.broadcast("sticker", {"name": "cat-wave"}))
        alan.wait_message(lambda d: d["from"] == GRACE and d["message"]["value"] == {"name": "cat-wave"}, count=3)
