"""The quiz's season and its restarts, driven by a FakeClock through BotRooms on recording links.

Two QuizBot instances on one ``BotStore`` stand for the bot before and after
a restart (a new process finds only what the store kept). Whole quizzes
through real servers that restart are in tests/bots/test_quiz_persistence.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from roomchat_bots.quiz.bot import QuizBot
from test_quiz_master import ANN, BANK, BOB, BOT, TEACHER, Quiz, Room, run

from roomchat.client.store import BotStore
from roomchat.clock import FakeClock


@pytest.fixture
def bank_file(tmp_path: Path) -> Path:
    path = tmp_path / "test.yaml"
    path.write_text(BANK)
    return path


def make(bank_file: Path, store: BotStore, clock: FakeClock | None = None, **settings: Any) -> tuple[Quiz, Room,
                                                                                                      FakeClock]:
    clock = clock or FakeClock()
    values = {"banks": {"test": str(bank_file)}, "start_delay": 0, "between_questions": None, "resume_delay": 5,
              **settings}
    room = Room(clock)
    return Quiz(QuizBot(values, clock=clock, bot_ids=[BOT.id], store=store), room), room, clock


async def play_one_question(quiz: Quiz, answers: dict[Any, str]) -> None:
    """Answer the open question and close it (a teacher's skip)."""
    for user, text in answers.items():
        await quiz.master.answer(user, text)
    await quiz.command(TEACHER, "skip")


def test_the_season_adds_up_quizzes_once_each_and_a_teacher_resets_it(bank_file: Path) -> None:
    async def play() -> None:
        store = BotStore.in_memory("bot:quiz:900")
        quiz, room, _ = make(bank_file, store)
        await quiz.join()
        await quiz.command(TEACHER, {"action": "start", "questions": 1})
        await play_one_question(quiz, {ANN: "Paris", BOB: "Rome"})
        first = room.of("quiz-season")[-1]
        assert first["event"] == "quiz_ended" and first["quizzes"] == 1
        assert [(r["name"], r["score"], r["quizzes"]) for r in first["scores"]] == [("Ann", 150, 1), ("Bob", 0, 1)]

        await quiz.command(TEACHER, {"action": "start", "questions": 1, "speed_bonus": False})
        await play_one_question(quiz, {BOB: "paris"})
        second = room.of("quiz-season")[-1]
        assert second["quizzes"] == 2
        assert [(r["name"], r["score"], r["correct"], r["rank"]) for r in second["scores"]] == [
            ("Ann", 150, 1, 1), ("Bob", 100, 1, 2)]

        # Anyone may look at it (privately); only a teacher resets it.
        await quiz.message(ANN, "text", "/quiz season")
        assert room.of("quiz-season", ANN.id)[-1]["scores"] == second["scores"]
        await quiz.command(ANN, "reset-season")
        assert room.of("quiz-error", ANN.id)[-1]["code"] == "forbidden"
        await quiz.command(TEACHER, {"action": "reset-season"})
        reset = room.of("quiz-season", None)[-1]
        assert (reset["event"], reset["by"], reset["quizzes"], reset["scores"]) == ("reset", TEACHER.id, 0, [])

        # A fresh bot on the same store sees the reset season, and a quiz it plays counts from zero.
        again, room2, _ = make(bank_file, store)
        await again.join()
        await again.command(TEACHER, {"action": "start", "questions": 1})
        await play_one_question(again, {ANN: "paris"})
        assert [(r["name"], r["quizzes"]) for r in room2.of("quiz-season")[-1]["scores"]] == [("Ann", 1)]
        assert await store.get("run:class") is None  # nothing in progress is left behind

    run(play())


def test_a_quiz_interrupted_by_a_restart_resumes_with_the_open_question_asked_again(bank_file: Path) -> None:
    async def play() -> None:
        store = BotStore.in_memory("bot:quiz:900")
        before, room, clock = make(bank_file, store)
        await before.join()
        await before.command(TEACHER, {"action": "start"})
        await play_one_question(before, {ANN: "paris"})                 # question 1: Ann 150
        await before.command(TEACHER, "skip")                            # question 2 opens
        assert room.of("quiz-question")[-1]["number"] == 2
        await before.master.answer(ANN, "4")                             # lost with the process
        before.room.timers.close()                                       # the process dies here;
        await clock.advance(60)                                          # a new one, on the same store, a minute later:
        after, room2, _ = make(bank_file, store, clock)
        await after.join()
        resumed = room2.of("quiz-status")[-1]
        assert (resumed["event"], resumed["restarted"], resumed["next_question"], resumed["first_in"]) == (
            "resumed", True, 2, 5)
        assert room2.of("quiz-question") == []
        await clock.advance(5)
        asked = room2.of("quiz-question")[-1]
        assert (asked["number"], asked["of"], asked["text"]) == (2, 3, "2 + 2?")
        await after.master.answer(ANN, "4")                              # answering again is allowed: a fresh question
        assert room2.of("quiz-received", ANN.id)[-1]["number"] == 2
        await after.command(TEACHER, "stop")
        final = room2.of("quiz-leaderboard")[-1]
        assert [(r["name"], r["score"], r["correct"]) for r in final["scores"]] == [("Ann", 310, 2)]  # the streak (2 in a row) came back too
        assert final["played"] == 2 and "restarted" not in final
        export = room2.of("quiz-export", TEACHER.id)[-1]
        assert export["rows"] == 2 and "Capital of France?" in export["csv"]  # question 1's results came back too
        assert room2.of("quiz-season")[-1]["quizzes"] == 1

    run(play())


def test_a_quiz_saved_too_long_ago_ends_with_its_results_sent(bank_file: Path) -> None:
    async def play() -> None:
        store = BotStore.in_memory("bot:quiz:900")
        before, _, clock = make(bank_file, store, resume_within=600)
        await before.join()
        await before.command(TEACHER, {"action": "start"})
        await play_one_question(before, {ANN: "paris", BOB: "paris"})
        before.room.timers.close()
        await clock.advance(601)
        after, room2, _ = make(bank_file, store, clock, resume_within=600)
        await after.join()
        final = room2.of("quiz-leaderboard")[-1]
        assert (final["stopped"], final["restarted"], final["played"], final["of"]) == (True, True, 1, 3)
        assert [r["name"] for r in final["scores"]] == ["Ann", "Bob"]
        assert room2.of("quiz-status")[-1]["event"] == "stopped"
        assert room2.of("quiz-season")[-1]["quizzes"] == 1
        assert room2.of("quiz-export", TEACHER.id)[-1]["rows"] == 2
        assert after.master.run is None and await store.get("run:class") is None
        # Counted once: a third instance finds nothing to bring back.
        third, room3, _ = make(bank_file, store, clock, resume_within=600)
        await third.join()
        assert room3.sent == []

    run(play())


def test_results_nobody_was_there_to_take_go_to_the_next_teacher_in(bank_file: Path) -> None:
    async def play() -> None:
        store = BotStore.in_memory("bot:quiz:900")
        before, _, clock = make(bank_file, store, resume_within=0)
        await before.join()
        await before.command(TEACHER, {"action": "start"})
        await play_one_question(before, {ANN: "paris"})
        before.room.timers.close()
        after, room2, _ = make(bank_file, store, clock, resume_within=0)   # 0: never resume
        await after.room._joined(room2, [u.as_wire() for u in (ANN, BOT)])  # the teacher is not back yet
        assert room2.of("quiz-leaderboard")[-1]["restarted"] is True and room2.of("quiz-export") == []
        await after.room._user_joined(TEACHER.as_wire())
        assert room2.of("quiz-export", TEACHER.id)[-1]["rows"] == 1

    run(play())


def test_the_quiz_holds_while_the_bot_is_disconnected_and_goes_on_when_it_is_back(bank_file: Path) -> None:
    async def play() -> None:
        quiz, room, clock = make(bank_file, BotStore.in_memory("bot:quiz:900"))
        await quiz.join()
        await quiz.command(TEACHER, {"action": "start"})
        await clock.advance(10)                                          # question 1: 30 s, 20 left
        await quiz.room._left()                                          # the server went away
        await clock.advance(300)
        assert room.of("quiz-reveal") == []                              # nothing closed while away
        await quiz.join()                                                # back
        back = room.of("quiz-status")[-1]
        assert (back["event"], back["reconnected"], back["time_left"]) == ("resumed", True, 20)
        await clock.advance(20)
        assert room.of("quiz-reveal")[-1]["number"] == 1

    run(play())
