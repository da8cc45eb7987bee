"""One quiz being played in one room: questions, answers, time, scores. No I/O.

``QuizRun`` is a small state machine driven by the controller (which owns
the timers and the messages); every method takes the current monotonic time
so that tests can drive it with any clock.

Phases: ``question`` (a question is open), ``between`` (its answer was
revealed; the next one comes after a pause, or when a teacher skips),
``finished``. ``paused`` freezes the clock of the current phase.

Rules worth knowing: only a student's first recognised answer to a question
counts (a multiple-choice or true/false answer that names no option is sent
back, not counted); answers after the time limit are too late; teachers,
admins and bots do not play.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from roomchat.client.commands import CommandRefused

from .bank import Bank, Question
from .scoring import Points, Scoring, score

Phase = Literal["ready", "question", "between", "finished"]


class QuizProblem(CommandRefused):
    """An answer or a command that cannot be taken now; ``code`` is machine-readable.

    A command refusal of the bot SDK: raised by a command, it reaches the
    bot's ``on_command_refused``, which sends it as a ``quiz-error``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


@dataclass
class Player:
    """A student's running totals."""

    id: int
    name: str
    score: int = 0
    correct: int = 0
    answered: int = 0
    streak: int = 0
    best_streak: int = 0


@dataclass(frozen=True)
class Answer:
    """One counted answer to one question."""

    question: int  # 0-based index in the run's order
    user: int
    name: str
    given: str
    shown: str
    correct: bool
    elapsed: float
    points: Points
    streak: int
    time: float  # wall-clock seconds since the epoch


@dataclass
class QuestionResult:
    """What happened to one question, once it closed."""

    index: int
    question: Question
    answers: dict[int, Answer]
    timed_out: bool

    @property
    def correct(self) -> int:
        """How many answered correctly."""
        return sum(1 for a in self.answers.values() if a.correct)


@dataclass
class QuizRun:
    """The state of one quiz in one room."""

    bank: Bank
    scoring: Scoring
    default_time_limit: float
    started_by: int
    started_at: float  # wall clock
    order: list[int] = field(default_factory=list)
    phase: Phase = "ready"
    paused: bool = False
    index: int = -1
    hints_given: int = 0
    players: dict[int, Player] = field(default_factory=dict)
    results: list[QuestionResult] = field(default_factory=list)
    stopped: bool = False
    _answers: dict[int, Answer] = field(default_factory=dict)
    _phase_start: float = 0.0
    _elapsed_before: float = 0.0
    _between: float | None = None  # length of the current pause between questions (None: until a teacher skips)

    def __post_init__(self) -> None:
        if not self.order:
            self.order = list(range(len(self.bank.questions)))

    def shuffle(self, rng: random.Random | None = None) -> None:
        """Play the questions in a random order (before the first one)."""
        (rng or random.Random()).shuffle(self.order)

    # -- time -----------------------------------------------------------------

    @property
    def total(self) -> int:
        """Questions in this run."""
        return len(self.order)

    @property
    def question(self) -> Question:
        """The current (or last) question."""
        return self.bank.questions[self.order[self.index]]

    @property
    def number(self) -> int:
        """The current question's number, from 1."""
        return self.index + 1

    def time_limit(self, question: Question | None = None) -> float:
        """Seconds allowed for a question (the current one by default)."""
        question = question or self.question
        return question.time_limit or self.default_time_limit

    def elapsed(self, now: float) -> float:
        """Seconds spent in the current phase, pauses excluded."""
        running = 0.0 if self.paused else now - self._phase_start
        return self._elapsed_before + running

    def phase_length(self) -> float | None:
        """How long the current phase lasts (None: until a teacher acts)."""
        if self.phase == "question":
            return self.time_limit()
        if self.phase == "between":
            return self._between
        return None

    def time_left(self, now: float) -> float | None:
        """Seconds until the current phase ends by itself (None: it does not)."""
        length = self.phase_length()
        return None if length is None else max(0.0, length - self.elapsed(now))

    def _enter(self, phase: Phase, now: float) -> None:
        self.phase = phase
        self._phase_start = now
        self._elapsed_before = 0.0

    def pause(self, now: float) -> None:
        """Freeze the clock of the current phase."""
        if self.phase not in ("question", "between"):
            raise QuizProblem("not_running", "No quiz is running, so there is nothing to pause")
        if self.paused:
            raise QuizProblem("already_paused", "The quiz is already paused; send resume to go on")
        self._elapsed_before = self.elapsed(now)
        self.paused = True

    def resume(self, now: float) -> None:
        """Start the clock again where it stopped."""
        if not self.paused:
            raise QuizProblem("not_paused", "The quiz is not paused")
        self.paused = False
        self._phase_start = now

    # -- hints ------------------------------------------------------------------

    def hint_times(self) -> list[float]:
        """When (seconds into the question) each hint of the current question is due: evenly spaced."""
        hints = len(self.question.hints)
        limit = self.time_limit()
        return [limit * k / (hints + 1) for k in range(1, hints + 1)]

    def next_hint_in(self, now: float) -> float | None:
        """Seconds until the next hint is due (None: no more hints)."""
        times = self.hint_times()
        if self.phase != "question" or self.hints_given >= len(times):
            return None
        return max(0.0, times[self.hints_given] - self.elapsed(now))

    # -- questions and answers ------------------------------------------------

    def begin(self, now: float, delay: float) -> None:
        """Start the countdown to question 1 (a pause of ``delay`` seconds before it)."""
        self.index = -1
        self._between = delay
        self._enter("between", now)

    def rewind(self, now: float, delay: float) -> None:
        """Bring a quiz back after a restart: the next question in ``delay`` seconds.

        A question that was open is asked again (its answers were lost with
        the process that took them); after a closed one, the next one comes.
        A teacher's pause stays.
        """
        if self.phase == "question":
            self.index -= 1
        self._answers = {}
        self.hints_given = 0
        self._between = delay
        self._enter("between", now)

    def open_next(self, now: float) -> Question | None:
        """Open the next question; None (and phase ``finished``) when there is none."""
        if self.index + 1 >= self.total:
            self.finish()
            return None
        self.index += 1
        self.hints_given = 0
        self._answers = {}
        self.paused = False
        self._enter("question", now)
        return self.question

    def submit(self, user: int, name: str, given: str, now: float, wall: float) -> Answer:
        """Count a student's answer, or raise ``QuizProblem`` saying why it does not count."""
        if self.index < 0 and self.phase != "finished":
            raise QuizProblem("no_question", "The first question is coming; answer it then")
        if self.phase == "between" or (self.phase == "question" and self.elapsed(now) > self.time_limit()):
            raise QuizProblem("too_late", f"Time is up for question {self.number}; wait for the next one")
        if self.phase != "question":
            raise QuizProblem("no_question", "No question is open right now")
        if self.paused:
            raise QuizProblem("paused", "The quiz is paused; answer when it resumes")
        if user in self._answers:
            raise QuizProblem("already_answered",
                              f"You already answered question {self.number}; only your first answer counts")
        question = self.question
        verdict = question.mark(given)
        if not verdict.recognized:
            raise QuizProblem("not_recognized", _how_to_answer(question))
        player = self.players.setdefault(user, Player(user, name))
        player.name = name
        streak = player.streak + 1 if verdict.correct else 0
        elapsed = self.elapsed(now)
        points = score(self.scoring, verdict.correct, question.points, elapsed, self.time_limit(), streak)
        answer = Answer(self.index, user, name, given, verdict.shown, verdict.correct, elapsed, points, streak, wall)
        self._answers[user] = answer
        return answer

    @property
    def answers_in(self) -> int:
        """How many students' answers the open question has counted so far."""
        return len(self._answers)

    def close(self, now: float, timed_out: bool, next_in: float | None) -> QuestionResult:
        """Close the current question: update totals and streaks, and start the pause before the next.

        ``next_in``: seconds until the next question (None: until a teacher skips).
        """
        if self.phase != "question":
            raise QuizProblem("no_question", "No question is open right now")
        for player in self.players.values():
            answer = self._answers.get(player.id)
            if answer is None:
                player.streak = 0
                continue
            player.answered += 1
            player.score += answer.points.total
            player.correct += answer.correct
            player.streak = answer.streak
            player.best_streak = max(player.best_streak, player.streak)
        result = QuestionResult(self.index, self.question, dict(self._answers), timed_out)
        self.results.append(result)
        self.paused = False
        self._between = next_in
        self._enter("between", now)
        return result

    def finish(self, stopped: bool = False) -> None:
        """End the quiz."""
        self.phase = "finished"
        self.paused = False
        self.stopped = stopped

    def answered(self, user: int) -> bool:
        """Whether ``user`` has answered the open question."""
        return user in self._answers

    @property
    def answer_count(self) -> int:
        """Answers counted for the open question."""
        return len(self._answers)

    # -- standings ----------------------------------------------------------------

    def standings(self) -> list[dict[str, object]]:
        """Every player, best first; equal scores share a rank (1, 1, 3)."""
        players = sorted(self.players.values(), key=lambda p: (-p.score, -p.correct, p.name.casefold(), p.id))
        rows: list[dict[str, object]] = []
        for position, p in enumerate(players, 1):
            rank = rows[-1]["rank"] if rows and rows[-1]["score"] == p.score else position
            rows.append({"rank": rank, "ID": p.id, "name": p.name, "score": p.score, "correct": p.correct,
                         "answered": p.answered, "streak": p.streak, "best_streak": p.best_streak})
        return rows


def _how_to_answer(question: Question) -> str:
    if question.kind == "choice":
        last = chr(ord("A") + len(question.options) - 1)
        return f"That is not one of the options: answer with a letter (A to {last}), a number or the option's text"
    if question.kind == "truefalse":
        return "Answer true or false (yes/no, t/f, vrai/faux... work too)"
    return "Your answer was empty; write it in words"
