"""Whole quizzes through real servers and real clients, on a clock the test moves.

The same game is played with the bot inside the server (``RoomchatThread``
with a FakeClock, the bot from the config's ``bots:``) and out of process
(the server is a ``RoomchatProcess``; the bot runs in this process, connected
as an external bot, on its own FakeClock). Nothing waits for real time: every
step waits for the message it expects, and the clock only moves when the
test says so.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from roomchat_bots.quiz.bot import QuizBot

from roomchat.clock import FakeClock
from roomchat.testing import ChatClient, RoomchatProcess, RoomchatThread
from roomchat.testing.bots import BotThread

ROOT = Path(__file__).resolve().parents[2]
BOT_ID = 900
ROOM = "class"
BOT_TOKEN = "quiz-bot-token-for-tests"
USERS = [
    {"ID": 1, "name": "Ada", "role": "TEACHER", "token": "tok-teacher-ada"},
    {"ID": 2, "name": "Ann", "role": "STUDENT", "token": "tok-student-ann"},
    {"ID": 3, "name": "Bob", "role": "STUDENT", "token": "tok-student-bob"},
    {"ID": 4, "name": "Cy", "role": "STUDENT", "token": "tok-student-cy"},
]
BANK = """\
title: Test quiz
questions:
  - question: Which planet is the largest?
    options: [Mars, Jupiter, Venus, Earth]
    answer: Jupiter
    time_limit: 20
    hints: [It is a gas giant., It is named after a god.]
  - question: What is the capital of Australia?
    answer: Canberra
    time_limit: 20
  - question: Is a tomato a vegetable? (yes or no)
    answer: no
    time_limit: 10
"""


def settings(bank: Path) -> dict[str, Any]:
    return {"banks": {"test": str(bank)}, "start_delay": 2, "between_questions": 4}


def config(bank: Path, external: bool) -> dict[str, Any]:
    bot: dict[str, Any] = {"kind": "quiz", "ID": BOT_ID, "name": "Quiz Master", "role": "TEACHER", "rooms": [ROOM]}
    if external:
        bot.update(run="external", token=BOT_TOKEN)
    else:
        bot["settings"] = settings(bank)
    room = {"admit": ["users"], "message_types": "known", "rate_limit": {"messages": 200, "per_seconds": 1}}
    return {"users": USERS, "rooms": {ROOM: room}, "bots": [bot]}


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    path = tmp_path / "test.yaml"
    path.write_text(BANK)
    return path


@dataclass
class Classroom:
    """A running server with the quiz bot in ROOM, and a way to move the bot's clock."""

    url: str
    advance: Callable[[float], None]


@contextmanager
def in_process(bank: Path) -> Iterator[Classroom]:
    clock = FakeClock()
    with RoomchatThread(config(bank, external=False), clock=clock) as server:
        yield Classroom(server.url, server.advance)


@contextmanager
def out_of_process(bank: Path) -> Iterator[Classroom]:
    with RoomchatProcess(config(bank, external=True)) as server, \
            BotThread(QuizBot, server.url, BOT_TOKEN, [ROOM], settings=settings(bank), bot_ids=[BOT_ID]) as bot:
        yield Classroom(server.url, bot.advance)


def quiz(client: ChatClient, type: str, match: Callable[[Any], bool] = lambda v: True, count: int = 1) -> Any:
    """Wait for the ``count``-th quiz message of ``type`` from the bot whose value matches; return its value."""
    data = client.wait_message(
        lambda d: d["from"] == BOT_ID and d["message"]["type"] == type and match(d["message"]["value"]), count=count)
    return data["message"]["value"]


REPLIES = ("quiz-received", "quiz-error")


def _is_reply(data: dict[str, Any]) -> bool:
    return data["from"] == BOT_ID and data["message"]["type"] in REPLIES


def answer(student: ChatClient, text: str, type: str = "quiz-answer") -> dict[str, Any]:
    """Answer privately; wait until the bot took it (or said why not) and return that reply."""
    before = len([m for m in student.messages() if _is_reply(m)])
    assert student.send(BOT_ID, type, text)["msg"] == "Message sent"
    reply = student.wait_message(_is_reply, count=before + 1)
    return {"type": reply["message"]["type"], **reply["message"]["value"]}


@pytest.mark.parametrize("classroom", [in_process, out_of_process], ids=["in-process", "out-of-process"])
def test_a_whole_quiz(classroom: Callable[[Path], Any], bank: Path) -> None:
    with classroom(bank) as room, ExitStack() as stack:
        def join(token: str) -> ChatClient:
            return stack.enter_context(ChatClient(room.url, room=ROOM, token=token))

        ada, ann, bob, cy = (join(u["token"]) for u in USERS)
        assert BOT_ID in {u["ID"] for u in ann.users}  # the bot is an ordinary participant
        students = (ann, bob, cy)

        # A student cannot start a quiz: the bot refuses, privately.
        assert ann.send(BOT_ID, "quiz", {"action": "start", "bank": "test"})["msg"] == "Message sent"
        refusal = quiz(ann, "quiz-error")
        assert refusal["code"] == "forbidden" and "Only teachers and admins" in refusal["message"]
        assert ann.broadcast("quiz", {"action": "start"})["data"]["code"] == "forbidden"  # commands are direct only
        assert ann.broadcast("quiz-question", {"text": "fake"})["data"]["code"] == "forbidden"  # only bots send these

        # The teacher starts one; the first status everyone sees is the teacher's start.
        assert ada.send(BOT_ID, "quiz", {"action": "start", "bank": "test"})["msg"] == "Message sent"
        for client in (ada, *students):
            started = quiz(client, "quiz-status")
            assert started["event"] == "started" and started["by"] == 1 and started["questions"] == 3

        # Question 1 (multiple choice, 20 s, hints at 6.7 and 13.3 s).
        room.advance(2)
        q1 = quiz(bob, "quiz-question")
        assert q1["number"] == 1 and q1["kind"] == "choice" and q1["options"][1] == {"key": "B", "text": "Jupiter"}
        assert "answers" not in q1
        assert answer(ann, "b") == {"type": "quiz-received", "number": 1, "answer": "b", "read_as": "B: Jupiter"}
        room.advance(7)
        assert quiz(cy, "quiz-hint") == {"number": 1, "hint": 1, "of": 2, "text": "It is a gas giant."}
        assert answer(bob, "jupyter", type="text")["read_as"] == "B: Jupiter"  # a typo, as plain text
        assert answer(cy, "Mars")["type"] == "quiz-received"
        again = answer(cy, "B")
        assert again["type"] == "quiz-error" and again["code"] == "already_answered"
        room.advance(7)
        assert quiz(ann, "quiz-hint", lambda v: v["hint"] == 2)["text"] == "It is named after a god."
        room.advance(6)  # 20 s: time is up
        reveal = quiz(ann, "quiz-reveal")
        assert reveal["answers"] == ["B: Jupiter"] and reveal["options"] == ["B"]
        assert (reveal["answered"], reveal["correct"], reveal["timed_out"]) == (3, 2, True)
        board = quiz(cy, "quiz-scoreboard")
        assert [(r["name"], r["score"], r["rank"]) for r in board["scores"]] == [
            ("Ann", 150, 1), ("Bob", 132, 2), ("Cy", 0, 3)]  # Bob answered at 7 s of 20: speed bonus 32
        mine = quiz(bob, "quiz-result")
        assert (mine["correct"], mine["points"], mine["speed_bonus"], mine["rank"]) == (True, 132, 32, 2)
        assert quiz(cy, "quiz-result")["correct"] is False
        late = answer(cy, "Jupiter")
        assert late["type"] == "quiz-error" and late["code"] == "too_late"

        # Question 2 (free answer) in a room the teacher locked, with a pause in the middle.
        assert ada.broadcast("moderation", {"action": "lock"})["msg"] == "Message sent"
        assert ann.broadcast("text", "psst")["msg"] != "Message sent"  # students may not talk now
        room.advance(4)
        assert quiz(ann, "quiz-question", lambda v: v["number"] == 2)["kind"] == "free"
        assert answer(ann, "  CANBERA ")["type"] == "quiz-received"  # case, spaces and a typo forgiven
        assert answer(bob, "Sydney")["type"] == "quiz-received"
        room.advance(1)
        ada.send(BOT_ID, "quiz", {"action": "pause"})
        assert quiz(cy, "quiz-status", lambda v: v["event"] == "paused")["time_left"] == 19
        room.advance(300)  # nothing moves while paused
        paused = answer(cy, "Canberra")
        assert paused["type"] == "quiz-error" and paused["code"] == "paused"
        ada.send(BOT_ID, "quiz", "resume")
        assert quiz(cy, "quiz-status", lambda v: v["event"] == "resumed")["time_left"] == 19
        room.advance(19)
        reveal = quiz(bob, "quiz-reveal", lambda v: v["number"] == 2)
        assert (reveal["answers"], reveal["answered"], reveal["correct"]) == (["Canberra"], 2, 1)

        # Question 3: `answer: no` stayed the word "no"; "nein" means the same. The teacher skips to the end.
        room.advance(4)
        assert quiz(cy, "quiz-question", lambda v: v["number"] == 3)["text"].startswith("Is a tomato")
        assert answer(ann, "No.")["type"] == "quiz-received"
        assert answer(bob, "nein")["type"] == "quiz-received"
        assert answer(cy, "yes")["type"] == "quiz-received"
        ada.send(BOT_ID, "quiz", {"action": "skip"})
        reveal = quiz(ann, "quiz-reveal", lambda v: v["number"] == 3)
        assert reveal["answers"] == ["no"] and reveal["correct"] == 2 and reveal["last"] is True

        # The final leaderboard, for everyone.
        final = quiz(cy, "quiz-leaderboard")
        # Ann: 150, then 100 + 50 + 10 (streak), then 100 + 50 + 20. Bob: 132, wrong, 150. Cy: nothing right.
        assert [(r["name"], r["score"], r["correct"]) for r in final["scores"]] == [
            ("Ann", 480, 3), ("Bob", 282, 2), ("Cy", 0, 0)]
        assert final["played"] == 3 and final["stopped"] is False
        assert quiz(ann, "quiz-status", lambda v: v["event"] == "finished")["state"] == "finished"

        # The CSV goes to the teacher only.
        export = quiz(ada, "quiz-export")
        assert export["media_type"] == "text/csv" and export["filename"].endswith(".csv")
        assert (export["part"], export["parts"], export["rows"]) == (1, 1, 9)
        rows = list(csv.DictReader(io.StringIO(export["csv"])))
        table = {(r["question"], r["student"]): r for r in rows}
        assert len(table) == 9
        assert table[("1", "Bob")]["answer"] == "jupyter" and table[("1", "Bob")]["read_as"] == "B: Jupiter"
        assert table[("2", "Ann")]["correct"] == "yes" and table[("2", "Ann")]["streak_bonus"] == "10"
        assert table[("2", "Cy")]["answer"] == "" and table[("2", "Cy")]["correct"] == ""
        assert table[("3", "Bob")]["correct"] == "yes" and table[("3", "Bob")]["running_score"] == "282"
        for student in students:
            assert not [m for m in student.messages() if m["message"]["type"] == "quiz-export"]

        # Answers were private: nobody but the bot ever saw one.
        for client in (ada, *students):
            assert not [m for m in client.messages() if m["message"]["type"] in ("quiz-answer", "text")]


def test_the_default_config_runs_the_quiz_bot_in_the_classroom(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config" / "roomchat.yaml", tmp_path / "roomchat.yaml")
    shutil.copytree(ROOT / "config" / "quiz", tmp_path / "quiz")  # the bank path is relative to the config
    with RoomchatProcess(tmp_path / "roomchat.yaml") as server, \
            ChatClient(server.url, room="classroom", token="demo-teacher-ada") as ada, \
            ChatClient(server.url, room="classroom", token="demo-student-grace") as grace:
        bot = next((u for u in ada.users if u["name"] == "Quiz Master"), None)
        if bot is None:  # the server answers before its bots have joined
            bot = ada.wait_for("user-connected", lambda p: p["data"]["name"] == "Quiz Master", timeout=10)["data"]
        assert ada.send(bot["ID"], "text", "/quiz")["msg"] == "Message sent"
        status = ada.wait_message(lambda d: d["message"]["type"] == "quiz-status")["message"]["value"]
        assert status["state"] == "idle" and status["banks"] == ["sample"]
        assert grace.send(bot["ID"], "text", "/quiz start")["msg"] == "Message sent"
        refusal = grace.wait_message(lambda d: d["message"]["type"] == "quiz-error")["message"]["value"]
        assert refusal["code"] == "forbidden"
