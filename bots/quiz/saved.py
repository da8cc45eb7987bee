"""A quiz and a room's season as JSON, for the bot's store (``self.store``): what outlives a restart.

``dump_run`` / ``load_run``: the state of a ``QuizRun`` as it was when a
question opened or closed (the controller saves it then), with its bank (the
questions as they were compiled, so a bank file edited meanwhile changes
nothing), its scores, and the results of every closed question (for the
export). The answers to a question still open are not in it: a quiz brought
back after a restart asks that question again.

``Season``: a room's totals across quizzes (the season leaderboard), with the
IDs of the quizzes it counted, so a quiz is never counted twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .bank import Bank, Question
from .game import Answer, Player, QuestionResult, QuizRun
from .scoring import Points, Scoring

VERSION = 1
COUNTED_RUNS = 50  # how many quiz IDs a season remembers as counted


class SavedRunError(ValueError):
    """A saved quiz that cannot be read back (another version of the bot wrote it, or it was damaged)."""


def _question(q: Question) -> dict[str, Any]:
    data = asdict(q)
    data["correct_options"] = sorted(q.correct_options)
    return data


def _load_question(data: dict[str, Any]) -> Question:
    return Question(kind=data["kind"], text=data["text"], answers=tuple(data["answers"]),
                    options=tuple(data.get("options", ())), correct_options=frozenset(data.get("correct_options", ())),
                    truth=data.get("truth"), time_limit=data.get("time_limit"), points=data.get("points"),
                    hints=tuple(data.get("hints", ())), explanation=data.get("explanation"),
                    fuzzy=data.get("fuzzy", True))


def _answer(a: Answer) -> dict[str, Any]:
    return {"question": a.question, "user": a.user, "name": a.name, "given": a.given, "shown": a.shown,
            "correct": a.correct, "elapsed": a.elapsed, "points": [a.points.base, a.points.speed, a.points.streak],
            "streak": a.streak, "time": a.time}


def _load_answer(data: dict[str, Any]) -> Answer:
    base, speed, streak = data["points"]
    return Answer(data["question"], data["user"], data["name"], data["given"], data["shown"], data["correct"],
                  data["elapsed"], Points(base, speed, streak), data["streak"], data["time"])


def dump_run(run: QuizRun, run_id: str, saved_at: float, paused: bool) -> dict[str, Any]:
    """The run as JSON data (``paused``: as the teacher left it, not a pause of the bot's own)."""
    bank = run.bank
    return {
        "version": VERSION, "id": run_id, "saved_at": saved_at,
        "bank": {"name": bank.name, "title": bank.title, "source": bank.source, "description": bank.description,
                 "extra": bank.extra, "questions": [_question(q) for q in bank.questions]},
        "scoring": run.scoring.model_dump(), "time_limit": run.default_time_limit,
        "started_by": run.started_by, "started_at": run.started_at, "order": list(run.order),
        "phase": run.phase, "index": run.index, "paused": paused, "between": run._between,
        "players": [asdict(p) for p in run.players.values()],
        "results": [{"index": r.index, "timed_out": r.timed_out, "answers": [_answer(a) for a in r.answers.values()]}
                    for r in run.results],
    }


def load_run(data: Any) -> tuple[QuizRun, str, float]:
    """The run ``dump_run`` saved, its ID and when it was saved (wall clock); ``SavedRunError`` if unreadable."""
    try:
        if data.get("version") != VERSION:
            raise SavedRunError(f"saved by another version of the quiz bot ({data.get('version')!r})")
        b = data["bank"]
        bank = Bank(name=b["name"], title=b["title"], questions=tuple(_load_question(q) for q in b["questions"]),
                    source=b.get("source", ""), description=b.get("description"), extra=dict(b.get("extra") or {}))
        run = QuizRun(bank, Scoring.model_validate(data["scoring"]), float(data["time_limit"]),
                      int(data["started_by"]), float(data["started_at"]), order=[int(i) for i in data["order"]])
        run.phase = data["phase"]
        run.index = int(data["index"])
        run.paused = bool(data["paused"])
        run._between = data.get("between")
        run.players = {int(p["id"]): Player(**p) for p in data["players"]}
        for r in data["results"]:
            answers = {a["user"]: _load_answer(a) for a in r["answers"]}
            run.results.append(QuestionResult(r["index"], bank.questions[run.order[r["index"]]], answers,
                                              bool(r["timed_out"])))
        if not all(0 <= i < len(bank.questions) for i in run.order) or run.index >= len(run.order):
            raise SavedRunError("its questions do not match its order")
        return run, str(data["id"]), float(data["saved_at"])
    except SavedRunError:
        raise
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise SavedRunError(f"{type(exc).__name__}: {exc}") from None


@dataclass
class Season:
    """A room's season: every player's totals over the quizzes played since the last reset."""

    quizzes: int = 0
    counted: list[str] = field(default_factory=list)  # the IDs of the last quizzes counted
    players: dict[int, dict[str, Any]] = field(default_factory=dict)
    since: float | None = None  # wall clock of the first quiz counted (or of the reset)

    @classmethod
    def load(cls, data: Any) -> Season:
        """The season saved (an empty one for None or anything unreadable)."""
        if not isinstance(data, dict):
            return cls()
        try:
            players = {int(uid): dict(row) for uid, row in (data.get("players") or {}).items()}
            return cls(int(data.get("quizzes", 0)), [str(i) for i in data.get("counted", [])], players,
                       data.get("since"))
        except (TypeError, ValueError, AttributeError):
            return cls()

    def dump(self) -> dict[str, Any]:
        """As JSON data (player IDs as strings)."""
        return {"quizzes": self.quizzes, "counted": self.counted, "since": self.since,
                "players": {str(uid): row for uid, row in self.players.items()}}

    def add(self, run: QuizRun, run_id: str, now: float) -> bool:
        """Count a finished quiz's scores in; False (and nothing changes) if it was counted already."""
        if run_id in self.counted:
            return False
        self.quizzes += 1
        self.counted = [*self.counted, run_id][-COUNTED_RUNS:]
        if self.since is None:
            self.since = now
        for player in run.players.values():
            row = self.players.setdefault(player.id, {"name": player.name, "score": 0, "correct": 0, "answered": 0,
                                                      "quizzes": 0, "best_streak": 0})
            row["name"] = player.name
            row["score"] += player.score
            row["correct"] += player.correct
            row["answered"] += player.answered
            row["quizzes"] += 1
            row["best_streak"] = max(row["best_streak"], player.best_streak)
        return True

    def standings(self) -> list[dict[str, Any]]:
        """Every player, best first; equal scores share a rank (1, 1, 3)."""
        ordered = sorted(self.players.items(), key=lambda kv: (-kv[1]["score"], -kv[1]["correct"],
                                                                str(kv[1]["name"]).casefold(), kv[0]))
        rows: list[dict[str, Any]] = []
        for position, (uid, row) in enumerate(ordered, 1):
            rank = rows[-1]["rank"] if rows and rows[-1]["score"] == row["score"] else position
            rows.append({"rank": rank, "ID": uid, "name": row["name"], "score": row["score"],
                         "correct": row["correct"], "answered": row["answered"], "quizzes": row["quizzes"],
                         "best_streak": row["best_streak"]})
        return rows
