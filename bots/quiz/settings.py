"""The quiz bot's settings (``bots: - kind: quiz ... settings:`` in the config).

Banks are read and checked when the settings are validated, so a bad bank
stops start-up (and ``roomchat check``) with a message naming the file, the
question and the key; each ``start`` reads its bank again, so a teacher can
edit a bank between two quizzes without restarting the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, field_validator, model_validator

from roomchat.bot import BotSettings

from .bank import Bank, BankError, load_bank
from .scoring import Scoring

BankName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\s/\\]+$")]


class RoomOverrides(BotSettings):
    """Settings a room may set differently (``settings.rooms.<room>``); what it leaves out is inherited."""

    default_bank: str | None = None
    time_limit: PositiveFloat | None = None
    between_questions: NonNegativeFloat | None = None
    start_delay: NonNegativeFloat | None = None
    scoreboard_size: PositiveInt | None = None
    points: Annotated[int, Field(ge=0)] | None = None
    speed_bonus: bool | None = None
    speed_bonus_points: Annotated[int, Field(ge=0)] | None = None
    streak_bonus: bool | None = None
    streak_bonus_points: Annotated[int, Field(ge=0)] | None = None
    streak_bonus_max: Annotated[int, Field(ge=0)] | None = None


class QuizSettings(BotSettings, Scoring):
    """Settings of the quiz bot. Every key has a default; ``banks`` is the one to set."""

    banks: dict[BankName, str] = Field(
        default_factory=dict,
        description="bank name -> YAML file; a relative path is read from the directory roomchat runs in")
    default_bank: str | None = Field(None, description="the bank `start` plays when none is named")
    time_limit: PositiveFloat = Field(30.0, description="seconds per question, unless the bank or question says")
    between_questions: NonNegativeFloat | None = Field(
        5.0, description="seconds from an answer's reveal to the next question; null: wait for a teacher's skip")
    start_delay: NonNegativeFloat = Field(3.0, description="seconds from `start` to the first question")
    scoreboard_size: PositiveInt = Field(10, description="how many players the scoreboard after each question shows")
    export_part_bytes: int = Field(
        12_000, ge=1_000, description="the CSV export is cut into messages of at most this size (rooms limit size)")
    resume_within: NonNegativeFloat | None = Field(
        3600.0, description="seconds: a quiz interrupted by a restart (of the server or the bot) is resumed when the "
                            "bot is back within this long, else ended with its results sent; 0: always end it; "
                            "null: always resume")
    resume_delay: NonNegativeFloat = Field(
        10.0, description="seconds from a quiz's resumption after a restart to its next question (students reconnect)")
    season_size: PositiveInt = Field(
        50, description="how many players the season leaderboard (quiz-season) lists")
    rooms: dict[str, RoomOverrides] = Field(default_factory=dict, description="per-room overrides")

    @field_validator("banks")
    @classmethod
    def _readable(cls, banks: dict[str, str]) -> dict[str, str]:
        problems = []
        for name, path in banks.items():
            try:
                load_bank(path, name)
            except BankError as exc:
                problems += [f"bank {name!r} ({place}): {problem}" for place, problem in zip(exc.places, exc.problems)]
        if problems:
            raise ValueError("\n".join(problems))  # one line each: QuizBot.validate_settings lists them apart
        return banks

    @model_validator(mode="after")
    def _defaults_exist(self) -> QuizSettings:
        for where, name in [("default_bank", self.default_bank),
                            *((f"rooms.{r}.default_bank", o.default_bank) for r, o in self.rooms.items())]:
            if name is not None and name not in self.banks:
                known = ", ".join(sorted(self.banks)) or "none"
                raise ValueError(f"{where}: no bank is called {name!r} (banks: {known})")
        return self

    def for_room(self, room: str) -> QuizSettings:
        """These settings with the room's overrides applied."""
        override = self.rooms.get(room)
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_unset=True))

    # -- what the quiz master reads --------------------------------------------------

    def scoring(self) -> Scoring:
        """The scoring part of the settings."""
        return Scoring.model_validate({name: getattr(self, name) for name in Scoring.model_fields})

    def bank_names(self) -> list[str]:
        """The configured banks' names."""
        return sorted(self.banks)

    def load_bank(self, name: str) -> Bank:
        """Read bank ``name`` from its file (a ``BankError`` if it went bad since start-up)."""
        return load_bank(Path(self.banks[name]), name)
