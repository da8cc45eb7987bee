"""A quiz and its season outlive restarts of a real server, on SQLite and on PostgreSQL.

The quiz bot runs in the server's process (``bots:``), on the real clock,
with questions that never time out (the teacher skips), no speed or streak
bonus (points do not depend on time), and ``resume_delay: 0``. The server is
stopped with SIGTERM in the middle of a question and killed (kill -9) between
two questions; each time the bot comes back with the quiz where it was (the
interrupted question asked again), the final leaderboard counts every
question, and the room's season leaderboard adds up quizzes across restarts.
An external bot (``roomchat bot run``) holds its quiz while the server is
away and goes on when it is back.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pgkit import pg_database, pg_url  # noqa: F401  (fixtures)

from roomchat.storage.config import StorageConfig, driver_url, with_data_dir
from roomchat.storage.database import open_database
from roomchat.storage.kv import DatabaseKeyValue
from roomchat.testing import ChatClient, RoomchatProcess
from roomchat.testing.bots import BotProcess
from roomchat.testing.bots import wait_until as kit_wait_until

BOT_ID = 900
BOT_TOKEN = "quiz-bot-token-for-persistence-tests"
ROOM = "class"
ADA, ANN, BOB = 1, 2, 3
USERS = [
    {"ID": ADA, "name": "Ada", "role": "TEACHER", "token": "tok-teacher-ada"},
    {"ID": ANN, "name": "Ann", "role": "STUDENT", "token": "tok-student-ann"},
    {"ID": BOB, "name": "Bob", "role": "STUDENT", "token": "tok-student-bob"},
]
TOKENS = {u["ID"]: u["token"] for u in USERS}
BANK = """\
title: Restart quiz
questions:
  - question: Capital of France?
    answer: Paris
  - question: 2 + 2?
    options: ["3", "4", "5"]
    answer: "4"
  - question: The sky is green.
    answer: false
"""
RUN_KEY = f"bot:quiz:{BOT_ID}:run:{ROOM}"


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    """None: the default SQLite file beside the config; else this test's (emptied) PostgreSQL database."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


def settings(bank: Path) -> dict[str, Any]:
    return {"banks": {"test": str(bank)}, "start_delay": 0, "between_questions": None, "time_limit": 3600,
            "speed_bonus": False, "streak_bonus": False, "resume_delay": 0}


def config(bank: Path, storage_url: str | None, external: bool = False) -> dict[str, Any]:
    bot: dict[str, Any] = {"kind": "quiz", "ID": BOT_ID, "name": "Quiz Master", "role": "TEACHER", "rooms": [ROOM],
                           "settings": settings(bank)}
    if external:
        bot.update(run="external", token=BOT_TOKEN)
    result: dict[str, Any] = {"users": USERS, "rooms": {ROOM: {"admit": ["users"], "rate_limit": None}},
                              "bots": [bot]}
    if storage_url is not None:
        result["storage"] = {"url": storage_url}
    return result


class Classroom:
    """A server (restartable on its config and database) and the clients of one test."""

    def __init__(self, tmp: Path, storage_url: str | None, external: bool = False, **bot_settings: Any) -> None:
        bank = tmp / "bank.yaml"
        bank.write_text(BANK, encoding="utf-8")
        self.storage_url = storage_url
        cfg = config(bank, storage_url, external)
        cfg["bots"][0]["settings"].update(bot_settings)
        self.server = RoomchatProcess(cfg).start()
        self.clients: dict[int, ChatClient] = {}

    @property
    def url(self) -> str:
        return self.server.url

    def join(self, *users: int) -> list[ChatClient]:
        for user in users:
            self.clients[user] = ChatClient(self.url, room=ROOM, token=TOKENS[user], timeout=20)
        return [self.clients[u] for u in users]

    def history_join(self, user: int) -> ChatClient:
        """Join asking for the room's last 50 messages (a ``history`` event before the live ones)."""
        client = ChatClient(self.url, auth={"room": ROOM, "token": TOKENS[user], "history": 50}, timeout=20)
        self.clients[user] = client
        return client

    def leave(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients = {}

    def restart(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL with ``kill``) and start it again on the same config and database."""
        self.leave()
        if kill:
            self.server.kill()
            self.server.stop()  # closes its log
        else:
            assert self.server.stop() in (0, -15)
        self.server = RoomchatProcess(self.server.config_path, port=self.server.port).start()

    def saved(self) -> Any:
        """The quiz in progress as the database holds it (read directly)."""
        # the default: where roomchat puts it ($ROOMCHAT_DATA_DIR, which tests/conftest.py sets, else beside the config)
        url = self.storage_url or with_data_dir(StorageConfig()).url

        async def read() -> Any:
            db = await open_database(driver_url(url, self.server.config_path.parent), migrate=False)
            try:
                return await DatabaseKeyValue(db).get(RUN_KEY)
            finally:
                await db.close()

        return asyncio.run(read())

    def close(self) -> None:
        self.leave()
        self.server.stop()


@pytest.fixture
def classroom(tmp_path: Path, storage_url: str | None) -> Iterator[Classroom]:
    room = Classroom(tmp_path, storage_url)
    yield room
    room.close()


def quiz(client: ChatClient, type: str, match: Callable[[Any], bool] = lambda v: True, count: int = 1) -> Any:
    """Wait for the ``count``-th quiz message of ``type`` from the bot whose value matches; return its value."""
    data = client.wait_message(
        lambda d: d["from"] == BOT_ID and d["message"]["type"] == type and match(d["message"]["value"]), count=count)
    return data["message"]["value"]


def command(teacher: ChatClient, value: Any) -> None:
    assert teacher.send(BOT_ID, "quiz", value)["msg"] == "Message sent"


def answer(student: ChatClient, text: str, number: int) -> None:
    """Answer privately and wait until the bot counted it."""
    assert student.send(BOT_ID, "quiz-answer", text)["msg"] == "Message sent"
    received = quiz(student, "quiz-received", lambda v: v["number"] == number)
    assert received["answer"] == text


wait_until = functools.partial(kit_wait_until, timeout=20.0)  # restarts and writes behind take longer than a handler


def scores(value: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(r["name"], r["score"], r["correct"]) for r in value["scores"]]


def test_a_quiz_resumes_after_a_sigterm_and_a_kill_and_its_season_outlives_restarts(classroom: Classroom) -> None:
    ada, ann, bob = classroom.join(ADA, ANN, BOB)
    command(ada, {"action": "start", "bank": "test"})
    assert quiz(ann, "quiz-question")["number"] == 1
    answer(ann, "Paris", 1)
    answer(bob, "Rome", 1)
    command(ada, "skip")
    assert quiz(bob, "quiz-reveal")["number"] == 1
    command(ada, "skip")
    assert quiz(ann, "quiz-question", lambda v: v["number"] == 2)["text"] == "2 + 2?"
    answer(ann, "4", 2)

    # SIGTERM in the middle of question 2: it is asked again when the bot is back.
    classroom.restart()
    ada, ann, bob = classroom.join(ADA, ANN, BOB)
    asked = quiz(ann, "quiz-question", lambda v: v["number"] == 2)  # live, or sent as Ann joined after the bot
    assert (asked["of"], asked["text"]) == (3, "2 + 2?")
    quiz(bob, "quiz-question", lambda v: v["number"] == 2)
    answer(ann, "4", 2)
    answer(bob, "B", 2)
    command(ada, "skip")
    assert quiz(ann, "quiz-reveal", lambda v: v["number"] == 2)["correct"] == 2
    wait_until(lambda: len((classroom.saved() or {}).get("results", [])) == 2, "question 2's results in the database")

    # kill -9 between questions 2 and 3: the quiz goes on with question 3.
    classroom.restart(kill=True)
    ada, ann, bob = classroom.join(ADA, ANN, BOB)
    assert quiz(ann, "quiz-question", lambda v: v["number"] == 3)["text"] == "The sky is green."
    answer(ann, "false", 3)
    command(ada, "skip")
    final = quiz(bob, "quiz-leaderboard")
    assert scores(final) == [("Ann", 300, 3), ("Bob", 100, 1)] and final["played"] == 3
    assert quiz(ann, "quiz-status", lambda v: v["event"] == "finished")["state"] == "finished"
    season = quiz(ann, "quiz-season")
    assert season["event"] == "quiz_ended" and season["quizzes"] == 1
    assert [(r["name"], r["score"]) for r in season["scores"]] == [("Ann", 300), ("Bob", 100)]
    export = quiz(ada, "quiz-export")
    assert export["rows"] == 6  # every question's results, the ones from before the restarts too
    wait_until(lambda: classroom.saved() is None, "the finished quiz gone from the database (written behind)")
    assert classroom.server.log().count("event=quiz_restored") == 1  # this server: after the kill
    assert "action=resumed" in classroom.server.log()

    # The season leaderboard outlives a restart, and the next quiz adds to it.
    classroom.restart()
    ada, ann, bob = classroom.join(ADA, ANN, BOB)
    command(ada, "season")
    kept = quiz(ada, "quiz-season", lambda v: v["event"] == "season")
    assert (kept["quizzes"], [(r["name"], r["score"]) for r in kept["scores"]]) == (1, [("Ann", 300), ("Bob", 100)])
    command(ada, {"action": "start", "bank": "test", "questions": 1})
    quiz(bob, "quiz-question", lambda v: v["number"] == 1)
    answer(bob, "paris", 1)
    command(ada, "skip")
    second = quiz(ann, "quiz-season", lambda v: v["event"] == "quiz_ended")
    assert second["quizzes"] == 2
    assert [(r["name"], r["score"], r["quizzes"]) for r in second["scores"]] == [("Ann", 300, 1), ("Bob", 200, 2)]


def test_an_interrupted_quiz_ends_with_its_results_when_it_may_not_resume(tmp_path: Path,
                                                                          storage_url: str | None) -> None:
    room = Classroom(tmp_path, storage_url, resume_within=0)  # never resume: end it, with its results
    try:
        ada, ann = room.join(ADA, ANN)
        command(ada, {"action": "start", "bank": "test"})
        answer(ann, "Paris", 1)
        command(ada, "skip")
        quiz(ann, "quiz-reveal")
        wait_until(lambda: len((room.saved() or {}).get("results", [])) == 1, "question 1's results in the database")
        room.restart(kill=True)
        # Whether Ann is back before the bot (she gets the end live) or after (it is in the room's history):
        ann = room.history_join(ANN)
        final = wait_until(lambda: found(ann, "quiz-leaderboard"), "the leaderboard, live or in history")
        assert final["restarted"] is True and final["stopped"] is True
        assert scores(final) == [("Ann", 100, 1)] and (final["played"], final["of"]) == (1, 3)
        assert wait_until(lambda: found(ann, "quiz-season"), "the season")["quizzes"] == 1
        # The CSV goes to the teacher present, or waits for the first one in.
        ada = room.history_join(ADA)
        export = quiz(ada, "quiz-export")
        assert export["rows"] == 1 and "Capital of France?" in export["csv"]
        wait_until(lambda: room.saved() is None, "the ended quiz gone from the database (written behind)")
        assert "action=ended" in room.server.log()
    finally:
        room.close()


def found(client: ChatClient, type: str, match: Callable[[Any], bool] = lambda v: True) -> Any:
    """The value of the bot's first ``type`` message (that matches) this client has, from its history event or
    live; else None."""
    history = [m for h in client.received("history") for m in h["data"]["messages"]]
    for data in history + client.messages():
        if data["from"] == BOT_ID and data["message"]["type"] == type and match(data["message"]["value"]):
            return data["message"]["value"]
    return None


def present(client: ChatClient, user_id: int) -> None:
    """Wait until ``user_id`` is in the client's room."""
    if user_id not in [u["ID"] for u in client.users]:
        client.wait_for("user-connected", lambda p: p["data"]["ID"] == user_id, timeout=30)


def test_an_external_quiz_bot_holds_its_quiz_while_the_server_restarts(tmp_path: Path) -> None:
    room = Classroom(tmp_path, None, external=True)
    bot = BotProcess(None, None, None, args=["--config", str(room.server.config_path), "--url", room.url]).start()
    try:
        ada, ann = room.join(ADA, ANN)
        present(ann, BOT_ID)
        command(ada, {"action": "start", "bank": "test"})
        quiz(ann, "quiz-question")
        answer(ann, "Paris", 1)
        room.restart()
        ada = room.join(ADA)[0]
        ann = room.history_join(ANN)
        present(ann, BOT_ID)
        # The quiz's clock stopped while the bot was away, and goes on now it is back (live, or in history).
        back = wait_until(lambda: found(ann, "quiz-status", lambda v: v.get("reconnected")), "the quiz going on")
        assert (back["event"], back["state"], back["question"]) == ("resumed", "running", 1)
        assert back["time_left"] > 3000
        # The same process, the same quiz: question 1 is still open, and Ann's answer still counts.
        assert ann.send(BOT_ID, "quiz-answer", "Lyon")["msg"] == "Message sent"
        assert quiz(ann, "quiz-error")["code"] == "already_answered"
        command(ada, "skip")
        reveal = quiz(ann, "quiz-reveal")
        assert (reveal["number"], reveal["correct"], reveal["timed_out"]) == (1, 1, False)
        assert "event=quiz_restored" not in bot.log()  # held and released, never brought back from the store
    finally:
        bot.stop()
        room.close()
    assert bot.proc is not None and bot.proc.returncode == 0, bot.log()
