"""The quiz bot's message types, for client authors (docs/bots.md has examples).

Sent to the bot (direct ``message`` to the bot's ID):

- ``quiz``: a command, teachers and admins only: ``{"action": ..., "bank"?: name, ...}``
  (``QuizCommand``); a bare string (``"pause"``) works too. The bot routes it
  to its ``@command`` of that name (``bot.py``), as it does ``/quiz <action> [bank]``.
- ``quiz-answer``: a student's answer: a string (``"B"``, ``"Paris"``,
  ``"true"``), or a number or boolean. Direct ``text`` messages to the bot are
  read as answers too.

Sent by the bot:

- to the room: ``quiz-status``, ``quiz-question``, ``quiz-hint``,
  ``quiz-reveal``, ``quiz-scoreboard``, ``quiz-leaderboard``, ``quiz-season``;
- to one user: ``quiz-received``, ``quiz-result``, ``quiz-error``,
  ``quiz-export`` (the CSV, to the teacher), ``quiz-progress`` (to the
  teachers: how many have answered), and ``quiz-question`` to a student who
  joins while a question is open.

All of these are registered as message types, so they pass in rooms that
admit only known types. The bot's own types may be sent only by bots.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, StringConstraints, model_validator

from roomchat.context import MessageContext
from roomchat.messagetypes import MessageType

COMMAND = "quiz"
ANSWER = "quiz-answer"
STATUS = "quiz-status"
QUESTION = "quiz-question"
HINT = "quiz-hint"
RECEIVED = "quiz-received"
REVEAL = "quiz-reveal"
SCOREBOARD = "quiz-scoreboard"
RESULT = "quiz-result"
LEADERBOARD = "quiz-leaderboard"
SEASON = "quiz-season"
EXPORT = "quiz-export"
PROGRESS = "quiz-progress"
ERROR = "quiz-error"

Action = Literal["start", "pause", "resume", "skip", "next", "stop", "status", "hint", "export", "season",
                 "leaderboard", "reset-season"]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]


class QuizCommand(BaseModel):
    """A ``quiz`` command's value."""

    model_config = ConfigDict(extra="forbid")

    action: Action = Field(description="start, pause, resume, skip (or next), stop, status, hint, export, season "
                                       "(or leaderboard), reset-season")
    bank: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = Field(
        None, description="start: the bank to play (default: the bot's default_bank, or its only bank)")
    speed_bonus: bool | None = Field(None, description="start: override the room's speed bonus for this quiz")
    streak_bonus: bool | None = Field(None, description="start: override the room's streak bonus for this quiz")
    shuffle: bool = Field(False, description="start: play the questions in a random order")
    questions: PositiveInt | None = Field(None, description="start: play only this many questions")

    @model_validator(mode="before")
    @classmethod
    def _bare_action(cls, value: Any) -> Any:
        return {"action": value.strip().lower()} if isinstance(value, str) else value


AnswerValue = Annotated[str, StringConstraints(max_length=500)] | int | float | bool


def answer_text(value: Any) -> str | None:
    """The text of an answer sent as ``quiz-answer`` or ``text`` (None if there is none)."""
    if isinstance(value, dict):
        value = value.get("text", value.get("answer", value.get("value")))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value if isinstance(value, str) else None


async def _only_bots(ctx: MessageContext) -> None:
    if not ctx.sender.bot:
        ctx.refuse("forbidden", f"Only the quiz bot sends {ctx.type!r} messages")


_FROM_BOT = {
    STATUS: "the quiz started, paused, resumed, skipped, stopped or finished (to the room), or a status reply",
    QUESTION: "a question is open: its number, text, options, time limit and deadline",
    HINT: "a hint for the open question",
    RECEIVED: "your answer was counted (private)",
    REVEAL: "time is up: the accepted answers and how many got it right",
    SCOREBOARD: "the scores after a question",
    RESULT: "how your answer was marked, your points, score and rank (private)",
    LEADERBOARD: "the final standings",
    SEASON: "the room's season leaderboard: totals over every quiz since the last reset (after each quiz, on "
            "request, and when a teacher resets it)",
    EXPORT: "the results as CSV, in one or more parts (to the teacher)",
    PROGRESS: "how many students have answered the open question (to the teachers and admins present)",
    ERROR: "a command or answer the quiz bot could not take, and why (private)",
}


def message_types() -> list[MessageType]:
    """Every quiz message type, for ``roomchat_register_message_types``."""
    types = [
        MessageType(COMMAND, QuizCommand, description="a teacher's command to the quiz bot: start, pause, skip...",
                    broadcast=False),
        MessageType(ANSWER, AnswerValue, description="a student's answer, sent privately to the quiz bot",
                    broadcast=False),
    ]
    types += [MessageType(name, Any, handlers=[_only_bots], description=text) for name, text in _FROM_BOT.items()]
    return types
