"""Points for a correct answer: the question's points, a speed bonus and a streak bonus.

- Speed bonus: up to ``speed_bonus_points``, falling linearly from the
  full bonus for an instant answer to nothing at the time limit.
- Streak bonus: ``streak_bonus_points`` for each correct answer in a row
  before this one, at most ``streak_bonus_max`` (the second correct answer in
  a row earns one step, the third two, ...).

A wrong answer scores nothing and ends the streak; so does not answering.
Either bonus can be switched off (``speed_bonus: false``, ``streak_bonus: false``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class Scoring(BaseModel):
    """How answers are scored (part of the quiz bot's settings)."""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(100, ge=0, description="points for a correct answer, unless the question says otherwise")
    speed_bonus: bool = Field(True, description="reward fast correct answers")
    speed_bonus_points: int = Field(50, ge=0, description="the bonus for an instant answer")
    streak_bonus: bool = Field(True, description="reward correct answers in a row")
    streak_bonus_points: int = Field(10, ge=0, description="per correct answer in a row before this one")
    streak_bonus_max: int = Field(50, ge=0, description="the streak bonus never exceeds this")


@dataclass(frozen=True)
class Points:
    """The points one answer earned, by part."""

    base: int = 0
    speed: int = 0
    streak: int = 0

    @property
    def total(self) -> int:
        """All parts together."""
        return self.base + self.speed + self.streak


def score(scoring: Scoring, correct: bool, points: int | None, elapsed: float, time_limit: float,
          streak: int) -> Points:
    """Points for one answer.

    ``points`` is the question's own value (None: the default), ``elapsed``
    the seconds the student took (pauses excluded), ``streak`` the correct
    answers in a row *including this one*.
    """
    if not correct:
        return Points()
    base = scoring.points if points is None else points
    speed = 0
    if scoring.speed_bonus and time_limit > 0:
        left = max(0.0, 1.0 - max(0.0, elapsed) / time_limit)
        speed = round(scoring.speed_bonus_points * left)
    bonus = 0
    if scoring.streak_bonus and streak >= 2:
        bonus = min(scoring.streak_bonus_points * (streak - 1), scoring.streak_bonus_max)
    return Points(base, speed, bonus)
