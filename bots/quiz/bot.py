"""The quiz bot: runs quizzes from YAML question banks in the rooms it joins.

Teachers and admins send it ``quiz`` commands (or ``/quiz ...`` as text);
students send it their answers privately (``quiz-answer``, or plain
``text``). Everything else is the quiz master's (``controller.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from roomchat.bot import Bot, BotRoom, Incoming, User
from roomchat.errors import ConfigError

from . import messages as m
from .controller import QuizMaster
from .settings import QuizSettings

STATE_KEY = "quiz"


class QuizBot(Bot):
    """A quiz master: questions with a timer and hints, private answers, scores and a CSV export."""

    kind: ClassVar[str] = "quiz"
    Settings: ClassVar[type[QuizSettings]] = QuizSettings

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
        """This room's quiz master (kept in ``room.state``, so a quiz survives a reconnect)."""
        master = room.state.get(STATE_KEY)
        if master is None:
            master = room.state[STATE_KEY] = QuizMaster(room, self.settings.for_room(room.name))
        return master

    async def on_join(self, room: BotRoom) -> None:
        """Ready the room's quiz master."""
        self.master(room)

    async def on_user_joined(self, room: BotRoom, user: User) -> None:
        """A student who joins mid-question gets the open question."""
        await self.master(room).joined(user)

    async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
        """Commands from teachers, answers from students."""
        if msg.sender is None:
            return
        master = self.master(room)
        if msg.type == m.COMMAND:
            await master.command(msg.sender, msg.value)
        elif msg.type in (m.ANSWER, "text"):
            text = m.answer_text(msg.value)
            command = m.text_command(text) if msg.type == "text" and text else None
            if command is not None:
                await master.command(msg.sender, command)
            elif text is not None:
                await master.answer(msg.sender, text)

    async def on_stop(self) -> None:
        """Stop every room's timers."""
        for room in self.rooms.values():
            master: Any = room.state.get(STATE_KEY)
            if master is not None:
                master.close()


def _one_per_line(problem: str) -> list[str]:
    """``key: a\nb`` (a validator's message of several lines) as ``key: a`` and ``key: b``."""
    first, *rest = problem.split("\n")
    key = first.split(": ", 1)[0]
    return [first, *(f"{key}: {line}" for line in rest)]
