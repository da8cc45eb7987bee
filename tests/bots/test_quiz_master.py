"""The quiz master's flow and timers, driven by a FakeClock through a BotRoom on a recording link.

These are unit tests of the logic between the game and the wire (which
message goes to whom, and when): a real QuizBot and BotRoom, whose link
records what the bot sends instead of sending it, and commands fed in as the
server's ``message`` events would be. tests/bots/test_quiz_bot.py plays whole
quizzes through real servers and real clients.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from roomchat_bots.quiz.bot import QuizBot
from roomchat_bots.quiz.controller import QuizMaster

from roomchat.bot import BotRoom
from roomchat.client import SENT, Ack
from roomchat.clock import FakeClock
from roomchat.users import Role, User

TEACHER = User(1, Role.TEACHER, "Ada")
ANN = User(2, Role.STUDENT, "Ann")
BOB = User(3, Role.STUDENT, "Bob")
BOT = User(900, Role.TEACHER, "Quiz", bot=True)

BANK = """
title: Test bank
questions:
  - question: Capital of France?
    answer: Paris
    time_limit: 30
    hints: [It starts with P., It ends with s.]
  - question: 2 + 2?
    options: ["3", "4", "5"]
    answer: "4"
    time_limit: 10
  - question: The sky is green.
    answer: false
    time_limit: 10
"""


class Room:
    """The link a BotRoom sends through, recording instead of sending; and what the bot sent, by recipient."""

    connected = True

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[int | None, str, Any]] = []  # (None for a broadcast, type, value)
        self.bot_room: BotRoom | None = None
        self._seen = 0

    async def call(self, event_name: str, *args: Any) -> Ack:
        message, to = (args[0], args[1]) if event_name == "message" else (args[0], None)
        self.sent.append((to, message["type"], message["value"]))
        return Ack(SENT, {"message": message})

    async def close(self) -> None:
        self.connected = False

    @property
    def users(self) -> dict[int, User]:
        assert self.bot_room is not None
        return self.bot_room.users

    def of(self, type: str, to: int | None | str = "any") -> list[Any]:
        return [v for u, t, v in self.sent if t == type and (to == "any" or u == to)]

    def take(self) -> list[tuple[int | None, str]]:
        """(recipient, type) of what was sent since the last ``take``."""
        new = [(u, t) for u, t, _ in self.sent[self._seen:]]
        self._seen = len(self.sent)
        return new


class Quiz:
    """A QuizBot in one room ("class", with the teacher, Ann and Bob), fed messages as the server would."""

    def __init__(self, bot: QuizBot, room: Room) -> None:
        self.bot = bot
        self.room = bot.room("class")
        self.link = room
        room.bot_room = self.room

    async def join(self) -> None:
        await self.room._joined(self.link, [u.as_wire() for u in (TEACHER, ANN, BOB, BOT)])

    async def message(self, sender: User, type: str, value: Any) -> None:
        """A direct message from ``sender`` to the bot, as the server delivers it."""
        await self.room._message({"from": sender.id, "to": BOT.id, "id": "m", "time": 0,
                                  "message": {"type": type, "value": value}})

    async def command(self, sender: User, value: Any) -> None:
        """A ``quiz`` command message (``{"action": ...}`` or the action's name)."""
        await self.message(sender, "quiz", value)

    @property
    def master(self) -> QuizMaster:
        return self.bot.master(self.room)


@pytest.fixture
def bank_file(tmp_path: Path) -> Path:
    path = tmp_path / "test.yaml"
    path.write_text(BANK)
    return path


def make(bank_file: Path, **settings: Any) -> tuple[Quiz, Room, FakeClock]:
    """A quiz bot in its room (call ``await quiz.join()`` first), the record of what it sent, and its clock."""
    clock = FakeClock()
    values = {"banks": {"test": str(bank_file)}, "start_delay": 3, "between_questions": 5, **settings}
    room = Room(clock)
    return Quiz(QuizBot(values, clock=clock, bot_ids=[BOT.id]), room), room, clock


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_a_whole_quiz_with_timers_hints_and_scores(bank_file: Path) -> None:
    async def play() -> Room:
        quiz, room, clock = make(bank_file)
        await quiz.join()
        await quiz.command(TEACHER, {"action": "start"})  # the only bank
        assert room.take() == [(None, "quiz-status")]
        await quiz.master.answer(ANN, "paris")
        assert room.of("quiz-error", ANN.id)[-1]["code"] == "no_question"
        await clock.advance(3)
        question = room.of("quiz-question")[-1]
        assert question["number"] == 1 and question["of"] == 3 and question["time_left"] == 30
        assert question["hints"] == 2 and "answers" not in question
        room.take()
        await clock.advance(10)  # hint 1 at a third of the time
        assert [v["text"] for v in room.of("quiz-hint")] == ["It starts with P."]
        await quiz.master.answer(ANN, "Pariss")  # a typo, 10 s in
        assert room.of("quiz-received", ANN.id)[-1] == {"number": 1, "answer": "Pariss", "read_as": "Pariss"}
        await quiz.master.answer(ANN, "Lyon")
        assert room.of("quiz-error", ANN.id)[-1]["code"] == "already_answered"
        await clock.advance(10)
        assert len(room.of("quiz-hint")) == 2
        await quiz.master.answer(BOB, "Marseille")
        room.take()
        await clock.advance(10)  # time is up
        reveal = room.of("quiz-reveal")[-1]
        assert reveal["answers"] == ["Paris"] and reveal["answered"] == 2 and reveal["correct"] == 1
        assert reveal["timed_out"] and reveal["next_in"] == 5
        board = room.of("quiz-scoreboard")[-1]
        assert [(r["name"], r["score"]) for r in board["scores"]] == [("Ann", 133), ("Bob", 0)]  # speed 33
        ann = room.of("quiz-result", ANN.id)[-1]
        assert ann["correct"] and ann["points"] == 133 and ann["rank"] == 1
        assert not room.of("quiz-result", BOB.id)[-1]["correct"]
        await quiz.master.answer(BOB, "Paris")
        assert room.of("quiz-error", BOB.id)[-1]["code"] == "too_late"
        await clock.advance(5)
        assert room.of("quiz-question")[-1]["options"] == [
            {"key": "A", "text": "3"}, {"key": "B", "text": "4"}, {"key": "C", "text": "5"}]
        await quiz.master.answer(ANN, "b")
        await quiz.master.answer(BOB, "d")
        assert room.of("quiz-error", BOB.id)[-1]["code"] == "not_recognized"  # not counted: may answer again
        await quiz.master.answer(BOB, "B")
        await clock.advance(10)
        await clock.advance(5)
        await quiz.master.answer(ANN, "faux")
        await quiz.master.answer(BOB, "vrai")
        room.take()
        await clock.advance(10)  # the last question closes: leaderboard, status, export to the teacher
        kinds = room.take()
        assert kinds[:2] == [(None, "quiz-reveal"), (None, "quiz-scoreboard")]
        assert kinds[-4:] == [(None, "quiz-leaderboard"), (None, "quiz-status"), (None, "quiz-season"),
                              (TEACHER.id, "quiz-export")]
        assert clock.pending() == 0
        return room

    room = run(play())
    final = room.of("quiz-leaderboard")[-1]
    # Ann: 100 + 33 speed; then instant answers: 100 + 50 speed + 10 and 20 streak. Bob: one instant answer.
    assert [(r["name"], r["score"], r["correct"]) for r in final["scores"]] == [("Ann", 133 + 160 + 170, 3),
                                                                              ("Bob", 150, 1)]
    assert final["played"] == 3 and not final["stopped"]
    export = room.of("quiz-export", TEACHER.id)[-1]
    assert export["filename"].startswith("quiz-test-") and export["parts"] == 1 and export["rows"] == 6
    rows = list(csv.DictReader(io.StringIO(export["csv"])))
    assert [(r["question"], r["student"], r["correct"]) for r in rows] == [
        ("1", "Ann", "yes"), ("1", "Bob", "no"), ("2", "Ann", "yes"), ("2", "Bob", "yes"),
        ("3", "Ann", "yes"), ("3", "Bob", "no")]


def test_pause_freezes_time_and_resume_continues(bank_file: Path) -> None:
    async def play() -> None:
        quiz, room, clock = make(bank_file, start_delay=0)
        await quiz.join()
        await quiz.command(TEACHER, {"action": "start", "bank": "test"})
        await clock.advance(5)
        await quiz.command(TEACHER, "pause")
        assert room.of("quiz-status")[-1]["state"] == "paused"
        assert room.of("quiz-status")[-1]["time_left"] == 25
        await clock.advance(1000)  # nothing happens while paused
        assert not room.of("quiz-hint") and not room.of("quiz-reveal")
        await quiz.master.answer(ANN, "paris")
        assert room.of("quiz-error", ANN.id)[-1]["code"] == "paused"
        await quiz.command(TEACHER, {"action": "resume"})
        assert room.of("quiz-status")[-1]["time_left"] == 25
        await clock.advance(5)  # 10 s of question time: hint 1
        assert len(room.of("quiz-hint")) == 1
        await clock.advance(20)
        assert len(room.of("quiz-reveal")) == 1

    run(play())


def test_skip_stop_hint_status_and_export(bank_file: Path) -> None:
    async def play() -> None:
        quiz, room, clock = make(bank_file, between_questions=None)  # teacher-paced
        await quiz.join()
        await quiz.command(TEACHER, {"action": "skip"})
        assert room.of("quiz-error", TEACHER.id)[-1]["code"] == "not_running"
        await quiz.command(TEACHER, {"action": "start", "bank": "nope"})
        assert room.of("quiz-error", TEACHER.id)[-1]["code"] == "unknown_bank"
        await quiz.command(TEACHER, {"action": "start", "speed_bonus": False})
        assert room.of("quiz-status")[-1]["scoring"]["speed_bonus"] is False
        await quiz.command(TEACHER, {"action": "start"})
        assert room.of("quiz-error", TEACHER.id)[-1]["code"] == "already_running"
        await quiz.command(TEACHER, {"action": "skip"})  # skip the countdown
        assert len(room.of("quiz-question")) == 1
        await quiz.command(TEACHER, {"action": "hint"})
        assert room.of("quiz-hint")[-1]["hint"] == 1
        await quiz.master.answer(ANN, "Paris")
        await quiz.command(TEACHER, {"action": "skip"})  # reveal now
        assert room.of("quiz-reveal")[-1]["timed_out"] is False and room.of("quiz-reveal")[-1]["next_in"] is None
        assert room.of("quiz-result", ANN.id)[-1]["points"] == 100  # no speed bonus this time
        await clock.advance(600)
        assert len(room.of("quiz-question")) == 1  # waits for the teacher
        await quiz.command(TEACHER, {"action": "status"})
        status = room.of("quiz-status", TEACHER.id)[-1]
        assert status["state"] == "running" and status["question"] == 1 and status["banks"] == ["test"]
        await quiz.command(TEACHER, {"action": "next"})
        assert len(room.of("quiz-question")) == 2
        await quiz.command(TEACHER, {"action": "stop"})  # mid-question: reveal it, then the leaderboard
        assert room.of("quiz-reveal")[-1]["number"] == 2
        assert room.of("quiz-leaderboard")[-1]["stopped"] is True
        assert room.of("quiz-leaderboard")[-1]["played"] == 2
        assert room.of("quiz-status")[-1]["event"] == "stopped"
        assert len(room.of("quiz-export", TEACHER.id)) == 1
        await quiz.command(TEACHER, {"action": "export"})  # again, on request
        assert len(room.of("quiz-export", TEACHER.id)) == 2
        assert clock.pending() == 0

    run(play())


def test_students_cannot_control_and_teachers_do_not_play(bank_file: Path) -> None:
    async def play() -> None:
        quiz, room, _ = make(bank_file)
        await quiz.join()
        await quiz.command(ANN, {"action": "start"})
        error = room.of("quiz-error", ANN.id)[-1]
        assert error["code"] == "forbidden" and "Only teachers and admins" in error["message"]
        assert not room.of("quiz-status")
        await quiz.command(TEACHER, {"action": "dance"})
        assert room.of("quiz-error", TEACHER.id)[-1]["code"] == "bad_command"
        await quiz.master.answer(TEACHER, "Paris")
        assert room.of("quiz-error", TEACHER.id)[-1]["code"] == "not_a_player"
        await quiz.master.answer(ANN, "Paris")
        assert room.of("quiz-error", ANN.id)[-1]["code"] == "no_quiz"

    run(play())


def test_a_late_joiner_gets_the_open_question_and_big_exports_come_in_parts(bank_file: Path) -> None:
    async def play() -> None:
        quiz, room, clock = make(bank_file, start_delay=0, export_part_bytes=1000)
        await quiz.join()
        await quiz.command(TEACHER, {"action": "start"})
        cy = User(4, Role.STUDENT, "Cy")
        room.users[cy.id] = cy
        await clock.advance(12)
        await quiz.master.joined(cy)
        late = room.of("quiz-question", cy.id)[-1]
        assert late["time_left"] == 18 and late["hints_shown"] == ["It starts with P."]
        for i in range(40):
            student = User(100 + i, Role.STUDENT, f"Student {i:02d} with a rather long name")
            room.users[student.id] = student
            await quiz.master.answer(student, "paris")
        await quiz.command(TEACHER, {"action": "stop"})
        parts = room.of("quiz-export", TEACHER.id)
        assert len(parts) > 1 and [p["part"] for p in parts] == list(range(1, len(parts) + 1))
        assert all(p["parts"] == len(parts) for p in parts)
        rows = list(csv.DictReader(io.StringIO("".join(p["csv"] for p in parts))))
        assert len(rows) == 40 and parts[-1]["rows"] == 40

    run(play())


def test_a_bank_broken_since_start_up_is_reported_to_the_teacher(bank_file: Path) -> None:
    async def play() -> None:
        quiz, room, _ = make(bank_file)
        await quiz.join()
        bank_file.write_text("questions:\n  - question: Q\n    answer: a\n    hint: [oops]\n")
        await quiz.command(TEACHER, {"action": "start"})
        error = room.of("quiz-error", TEACHER.id)[-1]
        assert error["code"] == "bad_bank"
        assert str(bank_file) in error["message"] and "question 1 (questions.0), key 'hint'" in error["message"]
        assert not room.of("quiz-status")
        bank_file.write_text(BANK)  # fixed: the next start reads it again
        await quiz.command(TEACHER, {"action": "start", "questions": 1, "shuffle": True})
        assert room.of("quiz-status")[-1]["questions"] == 1

    run(play())


def test_text_commands_and_answers_arrive_through_the_bot(bank_file: Path) -> None:
    async def play() -> None:
        quiz, room, clock = make(bank_file, start_delay=0)
        await quiz.join()
        await quiz.message(ANN, "text", "/quiz start")
        assert room.of("quiz-error", ANN.id)[-1]["code"] == "forbidden"
        await quiz.message(TEACHER, "text", "/quiz start nope")
        assert "There is no bank called 'nope'" in room.of("quiz-error", TEACHER.id)[-1]["message"]
        await quiz.message(TEACHER, "text", "/quiz start my bank")  # the bank's name is the rest of the line
        assert "There is no bank called 'my bank'" in room.of("quiz-error", TEACHER.id)[-1]["message"]
        await quiz.message(TEACHER, "text", "/quiz")                 # the prefix alone: status
        assert room.of("quiz-status", TEACHER.id)[-1]["state"] == "idle"
        await quiz.message(TEACHER, "text", "/quizzes start test")   # not the prefix: an answer, of a teacher
        assert room.of("quiz-error", TEACHER.id)[-1]["code"] == "not_a_player"
        await quiz.message(TEACHER, "text", "/quiz start test")
        assert room.of("quiz-question")[-1]["number"] == 1
        await quiz.message(TEACHER, "text", "!QUIZ Pause")
        assert room.of("quiz-status")[-1]["state"] == "paused"
        await quiz.message(TEACHER, "text", "/quiz resume")
        await quiz.message(ANN, "text", "paris")
        await quiz.message(BOB, "quiz-answer", {"text": "Paris"})
        assert len(room.of("quiz-received")) == 2
        sent = len(room.sent)
        await quiz.message(BOB, "typing", True)  # not for the quiz: ignored
        assert len(room.sent) == sent  # nothing after the answers
        quiz.room.timers.close()       # what the runner does when the bot stops
        assert clock.pending() == 0

    run(play())


def test_bad_commands_get_a_quiz_error_that_says_what_to_send(bank_file: Path) -> None:
    async def play() -> None:
        quiz, room, _ = make(bank_file, start_delay=0)
        await quiz.join()
        await quiz.command(TEACHER, {"action": "dance"})
        error = room.of("quiz-error", TEACHER.id)[-1]
        assert error["code"] == "bad_command"
        assert error["message"].startswith("action: 'dance' is not one of 'start', 'pause', 'resume', 'skip', 'next'")
        assert error["message"].endswith('Send {"action": "start", "bank": "<name>"}, or pause, resume, skip, stop, '
                                         'status, hint, export, season or reset-season.')
        await quiz.command(TEACHER, {"action": "start", "questions": 0})
        assert room.of("quiz-error", TEACHER.id)[-1]["message"].startswith(
            "questions: Input should be greater than 0. Send {")
        await quiz.command(TEACHER, {"action": "start", "bnak": "test"})
        assert room.of("quiz-error", TEACHER.id)[-1]["message"].startswith("bnak: Extra inputs are not permitted.")
        await quiz.command(TEACHER, {"bank": "test"})
        assert room.of("quiz-error", TEACHER.id)[-1]["message"].startswith("action: Field required.")
        await quiz.message(TEACHER, "text", "/quiz pause now")
        assert room.of("quiz-error", TEACHER.id)[-1]["message"].startswith("'now': too many arguments.")
        full = {"action": "pause", "bank": None, "speed_bonus": None, "streak_bonus": None, "shuffle": False,
                "questions": None}  # a command as the server delivers it: QuizCommand's defaults filled in
        await quiz.command(TEACHER, full)
        assert room.of("quiz-error", TEACHER.id)[-1]["code"] == "not_running"  # pause, with nothing to pause
        await quiz.message(TEACHER, "text", "/quiz start test questions=1 shuffle=yes")  # options by name in a text
        assert room.of("quiz-status")[-1]["questions"] == 1
        assert [e["code"] for e in room.of("quiz-error")] == ["bad_command"] * 5 + ["not_running"]
        help_text = quiz.bot.help_text(TEACHER)
        assert help_text.splitlines()[0].startswith("Quiz commands")
        assert "/quiz start [bank] [speed_bonus=true|false] [streak_bonus=true|false] [shuffle=true|false] " \
               "[questions=<questions>]: Start a quiz" in help_text
        assert "/quiz skip (or next): Close the open question now, or open the next one now" in help_text
        assert quiz.bot.help_text(ANN).splitlines()[1:] == [  # a student may only look at the season
            "/quiz season (or leaderboard): The room's season leaderboard (every quiz since the last reset), to you"]

    run(play())


def test_teachers_get_a_live_count_of_answers(bank_file: Path) -> None:
    """quiz-progress: after each counted answer, the teachers present (not the students, not bots) learn the count."""

    async def play() -> Room:
        quiz, room, _ = make(bank_file, start_delay=0)
        await quiz.join()
        await quiz.command(TEACHER, {"action": "start"})
        await quiz.master.answer(ANN, "Paris")
        assert room.of("quiz-progress", TEACHER.id) == [{"number": 1, "answered": 1, "players": 2}]
        await quiz.master.answer(ANN, "Lyon")  # already answered: not counted again
        await quiz.master.answer(BOB, "Lyon")
        assert room.of("quiz-progress", TEACHER.id)[-1] == {"number": 1, "answered": 2, "players": 2}
        assert len(room.of("quiz-progress")) == 2 == len(room.of("quiz-progress", TEACHER.id))
        await quiz.command(TEACHER, {"action": "stop"})
        return room

    run(play())


def test_the_registered_quiz_type_and_the_bots_commands_agree() -> None:
    """The server validates ``quiz`` values with QuizCommand; the bot routes them to its commands."""
    from roomchat_bots.quiz.messages import ACTIONS, QuizCommand

    commands = QuizBot.command_table()
    assert set(ACTIONS) == {name for cmd in commands for name in cmd.names}
    start = commands.get("start")
    assert start is not None
    assert {a.name for a in start.arguments} == set(QuizCommand.model_fields) - {"action"}
