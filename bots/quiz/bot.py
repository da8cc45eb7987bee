"""The quiz bot: runs quizzes from YAML question banks in the rooms it joins.

Teachers and admins send it commands: ``quiz`` messages (``{"action":
"start", "bank": "sample"}``, or just ``"pause"``) or ``/quiz ...`` texts,
both routed by the bot SDK to the ``@command`` methods below; students send
it their answers privately (``quiz-answer``, or plain ``text``). Everything
else is the quiz master's (``controller.py``).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import PositiveInt, StringConstraints, ValidationError

from roomchat.bot import Bot, BotRoom, CommandRefused, Incoming, User, command
from roomchat.client.commands import Invocation
from roomchat.errors import ConfigError
from roomchat.logs import event

from . import messages as m
from .controller import QuizMaster
from .settings import QuizSettings

STATE_KEY = "quiz"
FORBIDDEN = "Only teachers and admins can start, pause, resume, skip or stop a quiz, or reset the season."

log = logging.getLogger("roomchat.bots.quiz")

BankName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class QuizBot(Bot):
    """A quiz master: questions with a timer and hints, private answers, scores and a CSV export."""

    kind: ClassVar[str] = "quiz"
    Settings: ClassVar[type[QuizSettings]] = QuizSettings
    command_type = m.COMMAND
    command_key = "action"
    command_prefixes = ("/quiz", "!quiz")
    default_command = "status"
    command_help = "Quiz commands (teachers and admins), as quiz messages or texts:"

    @classmethod
    def validate_settings(cls, values: dict[str, Any], path: str = "settings", source: str = "<bot settings>") -> Any:
        """Check the settings; relative bank paths are read from the directory of the file they are in.

        In ``roomchat serve`` that is the config file's directory, with
        ``roomchat bot run --settings`` the settings file's; settings from no
        file (tests) read relative paths from the working directory.
        """
        base = Path(source).parent if source and Path(source).is_file() else None
        banks = values.get("banks") if isinstance(values, dict) else None
        if base is not None and isinstance(banks, dict):
            values = {**values, "banks": {name: str(base / p) if isinstance(p, str) and not Path(p).is_absolute() else p
                                          for name, p in banks.items()}}
        try:
            return super().validate_settings(values, path, source)
        except ConfigError as exc:  # every problem of every bank on a line of its own, under its key path
            raise ConfigError(exc.source, [line for problem in exc.problems for line in _one_per_line(problem)]) from None

    def master(self, room: BotRoom) -> QuizMaster:
        """This room's quiz master (kept in ``room.state``, so a quiz survives a reconnect; its store, a restart)."""
        master = room.state.get(STATE_KEY)
        if master is None:
            master = room.state[STATE_KEY] = QuizMaster(room, self.settings.for_room(room.name), self.store)
        return master

    async def on_join(self, room: BotRoom) -> None:
        """Ready the room's quiz master: bring back a quiz a restart interrupted, or restart one held while away."""
        master = self.master(room)
        if not master.restored:
            await master.restore()
        else:
            await master.release()

    async def on_leave(self, room: BotRoom) -> None:
        """The connection dropped: hold the quiz (its clock stops) until the bot is back."""
        self.master(room).hold()

    async def on_user_joined(self, room: BotRoom, user: User) -> None:
        """A student who joins mid-question gets the open question."""
        await self.master(room).joined(user)

    async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
        """Answers from students (``quiz-answer``, or a ``text`` that is not a ``/quiz`` command)."""
        if msg.sender is None or msg.type not in (m.ANSWER, "text"):
            return
        text = m.answer_text(msg.value)
        if text is not None:
            await self.master(room).answer(msg.sender, text)

    # -- the teacher's commands ---------------------------------------------------------

    def read_command(self, msg: Incoming) -> Invocation | None:
        """As the SDK reads it, but a ``quiz`` value loses the defaults the server filled in.

        The server validates ``quiz`` values with ``QuizCommand`` and delivers
        them with every option present (``"bank": null``...); only the options
        the teacher gave are the command's arguments.
        """
        if msg.type == m.COMMAND:
            try:
                given = m.QuizCommand.model_validate(msg.value).model_dump(exclude_defaults=True)
            except ValidationError:
                given = msg.value  # the SDK's refusal says what is wrong with it
            msg = dataclasses.replace(msg, value=given)
        return super().read_command(msg)

    @command(staff_only=True)
    async def start(self, room: BotRoom, msg: Incoming, bank: BankName | None = None, *,
                    speed_bonus: bool | None = None, streak_bonus: bool | None = None, shuffle: bool = False,
                    questions: PositiveInt | None = None) -> None:
        """Start a quiz (bank: the default bank, or the only one)."""
        await self.master(room).start(_who(msg), bank, speed_bonus=speed_bonus, streak_bonus=streak_bonus,
                                      shuffle=shuffle, questions=questions)

    @command(staff_only=True)
    async def pause(self, room: BotRoom, msg: Incoming) -> None:
        """Freeze the clock."""
        await self.master(room).pause(_who(msg))

    @command(staff_only=True)
    async def resume(self, room: BotRoom, msg: Incoming) -> None:
        """Start the clock again."""
        await self.master(room).resume(_who(msg))

    @command(aliases=("next",), staff_only=True)
    async def skip(self, room: BotRoom, msg: Incoming) -> None:
        """Close the open question now, or open the next one now."""
        await self.master(room).skip(_who(msg))

    @command(staff_only=True)
    async def stop(self, room: BotRoom, msg: Incoming) -> None:
        """End the quiz: the open question is scored, then the leaderboard and the export."""
        await self.master(room).stop(_who(msg))

    @command(staff_only=True)
    async def status(self, room: BotRoom, msg: Incoming) -> None:
        """The quiz's state and the banks, to you."""
        await self.master(room).status(_who(msg))

    @command(staff_only=True)
    async def hint(self, room: BotRoom, msg: Incoming) -> None:
        """Give the open question's next hint now."""
        await self.master(room).hint(_who(msg))

    @command(staff_only=True)
    async def export(self, room: BotRoom, msg: Incoming) -> None:
        """The results as CSV, again, to you."""
        await self.master(room).export(_who(msg))

    @command(aliases=("leaderboard",))
    async def season(self, room: BotRoom, msg: Incoming) -> None:
        """The room's season leaderboard (every quiz since the last reset), to you."""
        await self.master(room).season(msg.sender, msg.from_id)

    @command("reset-season", staff_only=True)
    async def reset_season(self, room: BotRoom, msg: Incoming) -> None:
        """Start a new season in this room: everyone's season totals go back to nothing."""
        await self.master(room).reset_season(_who(msg))

    async def on_command_refused(self, room: BotRoom, msg: Incoming, refusal: CommandRefused) -> None:
        """A ``quiz-error`` to the sender: ``forbidden`` for students, ``bad_command``, or the quiz's own code."""
        master = self.master(room)
        if msg.sender is None or not msg.sender.role.is_staff:
            event(log, "quiz_refused", room=room.name, user=msg.from_id, reason="not staff")
            await master.error(msg.from_id, "forbidden", FORBIDDEN)
        elif refusal.code == "unknown_command":
            names = ", ".join(repr(name) for cmd in self.commands for name in cmd.names)
            await master.error(msg.from_id, "bad_command", f"{self.command_key}: {refusal.name!r} is not one of "
                                                           f"{names}. {self._how_to()}")
        elif refusal.code == "bad_arguments":
            await master.error(msg.from_id, "bad_command", f"{refusal.detail}. {self._how_to()}")
        else:
            await master.error(msg.from_id, refusal.code, refusal.message)

    def _how_to(self) -> str:
        others = [cmd.name for cmd in self.commands if cmd.name != "start"]
        return (f"Send {{\"{self.command_key}\": \"start\", \"bank\": \"<name>\"}}, or "
                f"{', '.join(others[:-1])} or {others[-1]}.")


def _who(msg: Incoming) -> User:
    """The teacher who sent a command (a staff-only command always has a sender)."""
    assert msg.sender is not None
    return msg.sender


def _one_per_line(problem: str) -> list[str]:
    """``key: a\nb`` (a validator's message of several lines) as ``key: a`` and ``key: b``."""
    first, *rest = problem.split("\n")
    key = first.split(": ", 1)[0]
    return [first, *(f"{key}: {line}" for line in rest)]
