"""The quiz master of one room: the teacher's actions, answers, timers and the messages they cause.

``QuizMaster`` turns the bot's commands (``bot.py`` routes them) and
students' answers into ``QuizRun`` calls, and what the run does into messages
(see ``messages.py`` for every type and value). It talks to the room only
through ``send``, ``broadcast``, ``timers``, ``users`` and ``clock``
(``RoomLike``), which the bot SDK's ``BotRoom`` provides, so the same code
runs in the server, out of process, and in unit tests.

The bot SDK runs a room's handlers and timer callbacks one at a time, and a
timer cancelled before its callback ran never runs, so nothing here locks or
checks for stale timers.

What outlives a restart is in the bot's store (``saved.py``): the quiz in
progress, saved whenever a question opens or closes (and at a teacher's pause
or resume), under ``run:<room>``; the room's season, under ``season:<room>``,
updated when a quiz ends (each quiz counted once, by its ID). A quiz master
that finds a saved quiz when its bot (re)starts (``restore``) resumes it, the
interrupted question asked again after ``resume_delay``, or ends it with its
results sent when it was saved more than ``resume_within`` seconds ago. While
the bot is disconnected (the server restarting under an external bot) the
quiz is held: its clock stops, and starts again when the bot is back.
"""

from __future__ import annotations

import functools
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from roomchat.client.store import BotStore
from roomchat.client.timers import Timers
from roomchat.clock import Clock
from roomchat.errors import ConfigError
from roomchat.logs import event
from roomchat.users import User

from . import messages as m
from .bank import Bank
from .export import results_csv, split_csv
from .game import Answer, QuestionResult, QuizProblem, QuizRun
from .saved import SavedRunError, Season, dump_run, load_run
from .scoring import Scoring

log = logging.getLogger("roomchat.bots.quiz")


class RoomLike(Protocol):
    """What the quiz master needs of a room (``roomchat.bot.BotRoom`` has it all)."""

    name: str
    users: dict[int, User]
    clock: Clock
    timers: Timers

    async def send(self, user_id: int, type: str, value: Any) -> Any: ...
    async def broadcast(self, type: str, value: Any) -> Any: ...


class QuizOptions(Protocol):
    """The settings the quiz master reads (the bot's ``Settings`` for this room)."""

    time_limit: float
    between_questions: float | None
    start_delay: float
    scoreboard_size: int
    export_part_bytes: int
    default_bank: str | None
    resume_within: float | None
    resume_delay: float
    season_size: int

    def scoring(self) -> Scoring: ...
    def bank_names(self) -> list[str]: ...
    def load_bank(self, name: str) -> Bank: ...


TIMERS = "quiz"
"""The quiz's timer group in the room's ``Timers``."""


class QuizMaster:
    """Runs quizzes in one room, one at a time; ``store`` keeps the quiz in progress and the season."""

    def __init__(self, room: RoomLike, options: QuizOptions, store: BotStore | None = None) -> None:
        self.room = room
        self.options = options
        self.store = store if store is not None else BotStore.in_memory("quiz")
        self.run: QuizRun | None = None
        self.run_id = ""  # the running (or last) quiz's ID: the season counts each once
        self.last: QuizRun | None = None  # the last finished run, for ``export``
        self.restored = False  # whether ``restore`` ran (once per quiz master: once per bot instance)
        self.held = False  # the bot paused the quiz itself while it was disconnected
        self.unsent_export: QuizRun | None = None  # results nobody was there to take (after a restart)

    @property
    def run_key(self) -> str:
        """The store's key of this room's quiz in progress."""
        return f"run:{self.room.name}"

    @property
    def season_key(self) -> str:
        """The store's key of this room's season."""
        return f"season:{self.room.name}"

    # -- time -------------------------------------------------------------------

    def _now(self) -> float:
        return self.room.clock.monotonic()

    def _wall_ms(self, seconds_from_now: float) -> int:
        return int((self.room.clock.now() + seconds_from_now) * 1000)

    def _cancel_timers(self) -> None:
        self.room.timers.cancel(TIMERS)

    def _later(self, seconds: float, step: Callable[[], Awaitable[None]]) -> None:
        self.room.timers.call_later(seconds, step, group=TIMERS)

    def _schedule(self) -> None:
        """Set the timers for the current phase (after any change)."""
        self._cancel_timers()
        run = self.run
        if run is None or run.paused or run.phase == "finished":
            return
        now = self._now()
        if run.phase == "question":
            hint_in = run.next_hint_in(now)
            if hint_in is not None:
                # The timer names its hint rather than asking the clock again: a clock's float
                # rounding must not turn "due now" into "due in a nanosecond", forever.
                self._later(hint_in, functools.partial(self._give_hint, run.hints_given + 1))
            self._later(run.time_left(now) or 0.0, self._time_up)
        elif run.phase == "between":
            left = run.time_left(now)
            if left is not None:
                self._later(left, self._advance)

    # -- the teacher's actions (the bot's commands: teachers and admins only) -----------

    async def start(self, user: User, bank: str | None = None, *, speed_bonus: bool | None = None,
                    streak_bonus: bool | None = None, shuffle: bool = False, questions: int | None = None) -> None:
        """Start a quiz from ``bank`` (default: the default bank, or the only one), with these options."""
        if self.run is not None:
            raise QuizProblem("already_running",
                              f"A quiz ({self.run.bank.name}) is already running; stop it first")
        name = bank or self.options.default_bank or _only(self.options.bank_names())
        if name is None:
            raise QuizProblem("no_bank", "Say which bank to play: " + _bank_list(self.options.bank_names()))
        if name not in self.options.bank_names():
            raise QuizProblem("unknown_bank", f"There is no bank called {name!r}. " + _bank_list(self.options.bank_names()))
        try:
            loaded = self.options.load_bank(name)  # read again: the file may have been edited since start-up
        except ConfigError as exc:
            raise QuizProblem("bad_bank", str(exc)) from None
        scoring = self.options.scoring()
        overrides = {k: v for k, v in (("speed_bonus", speed_bonus), ("streak_bonus", streak_bonus)) if v is not None}
        if overrides:
            scoring = scoring.model_copy(update=overrides)
        run = QuizRun(loaded, scoring, self.options.time_limit, user.id, self.room.clock.now())
        if shuffle:
            run.shuffle(random.Random())
        if questions is not None:
            run.order = run.order[:questions]
        run.begin(self._now(), self.options.start_delay)
        self.run, self.run_id = run, uuid.uuid4().hex
        await self._save()
        event(log, "quiz_started", room=self.room.name, bank=loaded.name, by=user.id, questions=run.total)
        # Timers are always set before the messages that announce the change go out: whoever
        # reacts to a message (a test moving the clock, say) finds the quiz already in its new state.
        if self.options.start_delay > 0:
            self._schedule()
        await self._broadcast(m.STATUS, self._status("started", user, scoring=scoring,
                                                     first_in=self.options.start_delay))
        if self.options.start_delay <= 0:
            await self._advance()

    async def pause(self, user: User) -> None:
        """Freeze the quiz's clock."""
        run = self._running()
        run.pause(self._now())
        self._cancel_timers()
        await self._save()
        await self._broadcast(m.STATUS, self._status("paused", user))

    async def resume(self, user: User) -> None:
        """Start the clock again where it stopped."""
        run = self._running()
        run.resume(self._now())
        self.held = False
        self._schedule()
        await self._save()
        await self._broadcast(m.STATUS, self._status("resumed", user))

    async def skip(self, user: User) -> None:
        """Close the open question now, or open the next one now."""
        run = self._running()
        await self._broadcast(m.STATUS, self._status("skipped", user))
        if run.phase == "question":
            await self._close(timed_out=False)
        else:
            await self._advance()

    async def stop(self, user: User) -> None:
        """End the quiz: reveal the open question, then the leaderboard and the export."""
        self._running()
        await self._close(timed_out=False, stopping=user)

    async def hint(self, user: User) -> None:
        """Give the open question's next hint now."""
        run = self._running()
        if run.phase != "question" or run.hints_given >= len(run.question.hints):
            raise QuizProblem("no_hint", "There is no hint left to give for this question")
        run.hints_given += 1
        self._schedule()
        await self._send_hint(run, run.hints_given)

    async def status(self, user: User) -> None:
        """A private ``quiz-status`` with the state and the bank names."""
        await self._send(user.id, m.STATUS, self._status("status", user, banks=self.options.bank_names()))

    async def export(self, user: User) -> None:
        """The CSV of the running or last quiz, to ``user``."""
        run = self.run or self.last
        if run is None or not run.results:
            raise QuizProblem("nothing_to_export", "No question has been played yet, so there are no results")
        await self._send_export(run, [user.id])

    def _running(self) -> QuizRun:
        if self.run is None:
            raise QuizProblem("not_running", "No quiz is running; start one with {\"action\": \"start\"}")
        return self.run

    # -- answers -----------------------------------------------------------------

    async def answer(self, user: User, given: str) -> None:
        """A direct message with an answer: count it (first answer only) and confirm it privately."""
        if user.role.is_staff:
            await self.error(user.id, "not_a_player", "Teachers and admins do not play; only students answer")
            return
        run = self.run
        if run is None:
            await self.error(user.id, "no_quiz", "No quiz is running right now")
            return
        try:
            answer = run.submit(user.id, user.name, given, self._now(), self.room.clock.now())
        except QuizProblem as problem:
            await self.error(user.id, problem.code, problem.message, number=run.number)
            return
        await self._send(user.id, m.RECEIVED, {"number": run.number, "answer": answer.given,
                                                   "read_as": answer.shown})
        await self._send_progress(run)

    # -- people -------------------------------------------------------------------

    async def joined(self, user: User) -> None:
        """Show a student who joins mid-question the open question; a teacher, results nobody could take yet."""
        run = self.run
        if run is not None and run.phase == "question" and not user.role.is_staff:
            await self._send(user.id, m.QUESTION, self._question_value(run))
        unsent = self.unsent_export
        if unsent is not None and user.role.is_staff and not user.bot:
            self.unsent_export = None
            await self._send_export(unsent, [user.id])

    # -- what outlives a restart --------------------------------------------------------

    async def _save(self) -> None:
        """Save the quiz in progress (a store that fails is logged: the quiz goes on)."""
        run = self.run
        if run is None:
            return
        data = dump_run(run, self.run_id, self.room.clock.now(), paused=run.paused and not self.held)
        try:
            await self.store.set(self.run_key, data)
        except Exception as exc:  # noqa: BLE001 - the store's backend may fail in many ways; the quiz goes on
            event(log, "quiz_not_saved", logging.WARNING, room=self.room.name, reason=f"{type(exc).__name__}: {exc}")

    async def _count_season(self, run: QuizRun) -> Season | None:
        """Count a finished quiz into the room's season (once) and forget it as a quiz in progress."""
        try:
            season = Season.load(await self.store.get(self.season_key))
            if season.add(run, self.run_id, self.room.clock.now()):
                await self.store.set(self.season_key, season.dump())
            await self.store.delete(self.run_key)
            return season
        except Exception as exc:  # noqa: BLE001 - see _save
            event(log, "quiz_season_not_saved", logging.WARNING, room=self.room.name,
                  reason=f"{type(exc).__name__}: {exc}")
            return None

    async def restore(self) -> None:
        """Bring back the quiz this room had in progress when the bot last stopped (once per quiz master).

        Saved less than ``resume_within`` seconds ago: it resumes (a
        ``quiz-status`` ``resumed`` with ``restarted: true``), and its next
        question (the interrupted one, asked again) opens after
        ``resume_delay``. Older: it ends, stopped, and its results are sent as
        at any end (``restarted: true`` on the leaderboard and the status).
        """
        if self.restored:
            return
        self.restored = True
        try:
            data = await self.store.get(self.run_key)
            if data is None:
                return
            season = Season.load(await self.store.get(self.season_key))
        except Exception as exc:  # noqa: BLE001 - see _save
            event(log, "quiz_not_restored", logging.WARNING, room=self.room.name, reason=f"{type(exc).__name__}: {exc}")
            return
        try:
            run, run_id, saved_at = load_run(data)
        except SavedRunError as exc:
            event(log, "quiz_not_restored", logging.WARNING, room=self.room.name, reason=str(exc))
            await self.store.delete(self.run_key)
            return
        if run_id in season.counted:  # it ended, and only forgetting it did not happen
            await self.store.delete(self.run_key)
            return
        self.run, self.run_id = run, run_id
        away = max(0.0, self.room.clock.now() - saved_at)
        within = self.options.resume_within
        if within is not None and away >= within:
            event(log, "quiz_restored", room=self.room.name, bank=run.bank.name, action="ended", away=round(away))
            self._end(run, stopped=True)
            await self._announce_end(run, None, restarted=True)
            return
        delay = self.options.resume_delay
        run.rewind(self._now(), delay)
        event(log, "quiz_restored", room=self.room.name, bank=run.bank.name, action="resumed", away=round(away),
              next=run.index + 2)
        self._schedule()
        await self._save()
        await self._broadcast(m.STATUS, self._status("resumed", None, restarted=True, next_question=run.index + 2,
                                                     first_in=delay))
        if delay <= 0 and not run.paused:
            await self._advance()

    def hold(self) -> None:
        """The bot lost its connection: stop the quiz's clock until it is back (``release``)."""
        run = self.run
        if run is None or run.paused or run.phase not in ("question", "between"):
            return
        run.pause(self._now())
        self.held = True
        self._cancel_timers()

    async def release(self) -> None:
        """The bot is back: start the clock of a quiz ``hold`` stopped again, where it stopped."""
        run = self.run
        if not self.held or run is None:
            self.held = False
            return
        self.held = False
        run.resume(self._now())
        self._schedule()
        await self._broadcast(m.STATUS, self._status("resumed", None, reconnected=True))

    # -- the season -------------------------------------------------------------------

    async def season(self, user: User | None, user_id: int) -> None:
        """The room's season leaderboard, privately (``quiz-season``)."""
        try:
            season = Season.load(await self.store.get(self.season_key))
        except Exception as exc:  # noqa: BLE001 - see _save
            raise QuizProblem("unavailable", f"The season cannot be read right now ({type(exc).__name__})") from None
        await self._send(user_id, m.SEASON, self._season_value(season, "season"))

    async def reset_season(self, user: User) -> None:
        """Start a new season in this room (teachers and admins): everyone's totals go back to nothing."""
        try:
            old = Season.load(await self.store.get(self.season_key))
            fresh = Season(counted=old.counted, since=self.room.clock.now())  # a quiz counted before stays counted
            await self.store.set(self.season_key, fresh.dump())
        except Exception as exc:  # noqa: BLE001 - see _save
            raise QuizProblem("unavailable", f"The season cannot be reset right now ({type(exc).__name__})") from None
        event(log, "quiz_season_reset", room=self.room.name, by=user.id, quizzes=old.quizzes)
        await self._broadcast(m.SEASON, {**self._season_value(fresh, "reset"), "by": user.id})

    def _season_value(self, season: Season, what: str) -> dict[str, Any]:
        standings = season.standings()
        return {"event": what, "quizzes": season.quizzes, "players": len(standings),
                "since": None if season.since is None else int(season.since * 1000),
                "scores": standings[: self.options.season_size]}

    # -- the flow of a quiz -------------------------------------------------------

    async def _advance(self) -> None:
        """Open the next question, or finish the quiz after the last one."""
        run = self.run
        if run is None:
            return
        question = run.open_next(self._now())
        if question is None:
            self._end(run)
            await self._announce_end(run, None)
            return
        event(log, "quiz_question", room=self.room.name, number=run.number, of=run.total)
        self._schedule()
        await self._save()
        await self._broadcast(m.QUESTION, self._question_value(run))

    async def _give_hint(self, number: int) -> None:
        run = self.run
        if run is None or run.phase != "question" or run.hints_given >= number:
            return
        run.hints_given = number
        self._schedule()
        await self._send_hint(run, number)

    async def _send_hint(self, run: QuizRun, number: int) -> None:
        hints = run.question.hints
        await self._broadcast(m.HINT, {"number": run.number, "hint": number, "of": len(hints),
                                           "text": hints[number - 1]})

    async def _time_up(self) -> None:
        await self._close(timed_out=True)

    async def _close(self, timed_out: bool, stopping: User | None = None) -> None:
        """Close the open question (if any): reveal, scoreboard, results; then the end, after the last or a stop."""
        run = self.run
        if run is None:
            return
        result = None
        if run.phase == "question":
            last = stopping is not None or run.index + 1 >= run.total
            result = run.close(self._now(), timed_out, None if last else self.options.between_questions)
        ending = stopping is not None or run.index + 1 >= run.total
        if ending:
            self._end(run, stopped=stopping is not None)
        else:
            self._schedule()
            await self._save()
        if result is not None:
            await self._broadcast(m.REVEAL, self._reveal_value(run, result, ending))
            await self._broadcast(m.SCOREBOARD, self._scoreboard_value(run))
            await self._send_results(run, result)
        if ending:
            await self._announce_end(run, stopping)

    def _end(self, run: QuizRun, stopped: bool = False) -> None:
        self._cancel_timers()
        run.finish(stopped)
        self.run, self.last = None, run
        event(log, "quiz_finished", room=self.room.name, bank=run.bank.name, played=len(run.results),
              players=len(run.players), stopped=stopped)

    async def _announce_end(self, run: QuizRun, by: User | None, restarted: bool = False) -> None:
        season = await self._count_season(run)
        extra: dict[str, Any] = {"restarted": True} if restarted else {}
        await self._broadcast(m.LEADERBOARD, {
            "bank": run.bank.name, "title": run.bank.title, "played": len(run.results), "of": run.total,
            "stopped": run.stopped, "scores": run.standings(), **extra,
        })
        await self._broadcast(m.STATUS, self._status("stopped" if run.stopped else "finished", by, run=run, **extra))
        if season is not None:
            await self._broadcast(m.SEASON, self._season_value(season, "quiz_ended"))
        if run.results:
            recipients = self._export_recipients(run, by)
            if recipients:
                await self._send_export(run, recipients)
            else:  # nobody to take it (everyone is still reconnecting after a restart): the next teacher in
                self.unsent_export = run

    def _export_recipients(self, run: QuizRun, by: User | None) -> list[int]:
        """Who gets the CSV: whoever started or stopped the quiz, if present; else every teacher present."""
        present = self.room.users
        asked = [run.started_by] if by is None or by.id == run.started_by else [run.started_by, by.id]
        wanted = [uid for uid in asked if uid in present]
        return wanted or [u.id for u in present.values() if u.role.is_staff and not u.bot]

    async def _send_export(self, run: QuizRun, recipients: list[int]) -> None:
        text = results_csv(run)
        parts = split_csv(text, self.options.export_part_bytes)
        stamp = _stamp(run.started_at)
        filename = f"quiz-{_safe(run.bank.name)}-{stamp}.csv"
        for user_id in recipients:
            for number, part in enumerate(parts, 1):
                await self._send(user_id, m.EXPORT, {
                    "filename": filename, "media_type": "text/csv", "part": number, "parts": len(parts),
                    "rows": text.count("\r\n") - 1 if number == len(parts) else None, "csv": part,
                })

    async def _send_results(self, run: QuizRun, result: QuestionResult) -> None:
        ranks = {row["ID"]: row["rank"] for row in run.standings()}
        for player in run.players.values():
            if player.id not in self.room.users:
                continue
            answer: Answer | None = result.answers.get(player.id)
            value: dict[str, Any] = {"number": result.index + 1, "answered": answer is not None,
                                     "correct": bool(answer and answer.correct), "score": player.score,
                                     "rank": ranks[player.id], "streak": player.streak}
            if answer is not None:
                value.update(answer=answer.given, read_as=answer.shown, points=answer.points.total,
                             base=answer.points.base, speed_bonus=answer.points.speed,
                             streak_bonus=answer.points.streak, seconds=round(answer.elapsed, 1))
            else:
                value["points"] = 0
            await self._send(player.id, m.RESULT, value)

    # -- values -------------------------------------------------------------------

    def _question_value(self, run: QuizRun) -> dict[str, Any]:
        now = self._now()
        left = run.time_left(now) or 0.0
        question = run.question
        return {
            "number": run.number, "of": run.total, **question.public(),
            "time_limit": run.time_limit(), "time_left": round(left, 1), "ends_at": self._wall_ms(left),
            "points": run.scoring.points if question.points is None else question.points,
            "hints": len(question.hints), "hints_shown": list(question.hints[: run.hints_given]),
        }

    def _reveal_value(self, run: QuizRun, result: QuestionResult, last: bool) -> dict[str, Any]:
        next_in = None if last else run.time_left(self._now())
        return {
            "number": result.index + 1, "of": run.total, "text": result.question.text,
            **result.question.solution(), "answered": len(result.answers), "correct": result.correct,
            "timed_out": result.timed_out, "last": last, "next_in": next_in,
        }

    def _scoreboard_value(self, run: QuizRun) -> dict[str, Any]:
        standings = run.standings()
        return {"after": len(run.results), "of": run.total, "players": len(standings),
                "scores": standings[: self.options.scoreboard_size]}

    def _status(self, what: str, by: User | None, run: QuizRun | None = None, **extra: Any) -> dict[str, Any]:
        run = run or self.run
        value: dict[str, Any] = {"event": what, "by": by.id if by else None}
        if run is None:
            value.update(state="idle", bank=None, title=None, questions=0, question=None, time_left=None)
        else:
            state = "finished" if run.phase == "finished" else "paused" if run.paused else "running"
            left = run.time_left(self._now()) if run.phase != "finished" else None
            value.update(state=state, bank=run.bank.name, title=run.bank.title, questions=run.total,
                         question=run.number if run.index >= 0 else None,
                         time_left=None if left is None else round(left, 1))
        for key, item in extra.items():
            value[key] = item.model_dump() if isinstance(item, Scoring) else item
        return value

    async def _send_progress(self, run: QuizRun) -> None:
        """Tell the teachers and admins present how many students have answered the open question."""
        people = [u for u in self.room.users.values() if not u.bot]
        value = {"number": run.number, "answered": run.answers_in,
                 "players": sum(1 for u in people if not u.role.is_staff)}
        for teacher in (u for u in people if u.role.is_staff):
            await self._send(teacher.id, m.PROGRESS, value)

    async def _send(self, user_id: int, type: str, value: Any) -> None:
        _check(await self.room.send(user_id, type, value), self.room.name, type, user_id)

    async def _broadcast(self, type: str, value: Any) -> None:
        _check(await self.room.broadcast(type, value), self.room.name, type, None)

    async def error(self, user_id: int, code: str, message: str, **extra: Any) -> None:
        """A ``quiz-error`` to one user: what they sent could not be taken, and why."""
        await self._send(user_id, m.ERROR, {"code": code, "message": message, **extra})


def _check(ack: Any, room: str, type: str, to: int | None) -> None:
    """Log a message the server refused (a room's rate limit or size limit, say): the quiz goes on."""
    code = getattr(ack, "code", None)
    if code is not None:
        event(log, "quiz_message_refused", logging.WARNING, room=room, type=type, to=to if to is not None else "room",
              code=code)


def _only(names: list[str]) -> str | None:
    return names[0] if len(names) == 1 else None


def _bank_list(names: list[str]) -> str:
    return f"banks: {', '.join(sorted(names))}" if names else "no banks are configured (settings.banks)"


def _stamp(epoch: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(epoch))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "bank"
