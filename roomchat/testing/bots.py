"""Test helpers for bot authors: run a bot against a real server, on a clock you move.

``BotThread`` runs a bot in a thread of the test process, with its own event
loop, connected like any client (exactly as ``roomchat bot run`` connects
it), out of the server's process or loop. The bot gets a ``FakeClock``, so a
test says ``bot.advance(20)`` instead of sleeping::

    from roomchat.testing import ChatClient, RoomchatThread
    from roomchat.testing.bots import BotThread, bot_token

    with RoomchatThread(config) as server:
        token = bot_token(server, 90, "Quizzy")               # a credential for a bot user
        with BotThread(MyBot, server.url, token, ["test"], settings={"seconds": 20}) as bot:
            ...                                              # clients talk to it
            bot.advance(20)                                  # its timers fire now

Against a ``RoomchatProcess``, declare the bot in the server's config as an
external bot (``run: external`` with a ``token``) and pass that token.
``BotProcess`` runs ``roomchat bot run`` itself as a process.
For bots inside a ``RoomchatThread`` server (the config's ``bots:``), give the
server the FakeClock instead: ``RoomchatThread(config, clock=FakeClock())``
and ``server.advance(20)``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Self

import yaml

from ..bot import Bot, BotRoom
from ..botrunner import Backoff, BotRunner
from ..clock import Clock, FakeClock
from ..users import Role, User
from .servers import ChildProcess


def bot_token(server: Any, user_id: int, name: str, role: str | Role = "STUDENT") -> str:
    """Register a credential for a bot user on a ``RoomchatThread`` server and return it.

    The user is marked as a bot server-side (``User.bot``), as configured bots are.
    """
    token = "bot-test-" + secrets.token_hex(16)
    server.chat.auth.add_token(token, User(user_id, Role(role), name, bot=True))
    return token


def user_token(server: Any, user_id: int, name: str, role: str | Role = "STUDENT") -> str:
    """Register a credential for an ordinary (not bot) user on a ``RoomchatThread`` server and return it."""
    token = "user-test-" + secrets.token_hex(16)
    server.chat.auth.add_token(token, User(user_id, Role(role), name))
    return token


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Wait until ``condition()`` is truthy (a bot's handler ran, say) and return it; AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within {timeout}s: {what}")
        time.sleep(0.01)
    return result


class BotThread:
    """One bot, run by a ``BotRunner`` on an event loop in a thread of its own.

    ``bot`` is a Bot subclass (built with ``settings``, the ``clock`` and
    ``bot_ids``) or a ready instance. ``clock`` defaults to a FakeClock;
    ``advance(seconds)`` moves it. ``start`` waits until the bot joined every room.
    """

    def __init__(self, bot: type[Bot] | Bot, url: str, token: str, rooms: Iterable[str],
                 settings: dict[str, Any] | None = None, clock: Clock | None = None,
                 bot_ids: Iterable[int] = ()) -> None:
        self.clock = clock if clock is not None else FakeClock()
        ids = set(bot_ids)
        if isinstance(bot, Bot):
            instance = bot
            instance.clock, instance.bot_ids = self.clock, instance.bot_ids | ids

            def make() -> Bot:
                return instance
        else:
            def make() -> Bot:
                return bot(settings or {}, clock=self.clock, bot_ids=ids)
        self.runner = BotRunner(make, url, token, rooms, label=getattr(bot, "kind", "") or "test-bot",
                                fatal_refusals=True, restart=Backoff(initial=0.2, maximum=2.0))
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="roomchat-bot", daemon=True)
        self._task: asyncio.Task[None] | None = None

    @property
    def bot(self) -> Bot:
        """The running bot instance (a new one after a restart)."""
        assert self.runner.bot is not None, "the bot has not started"
        return self.runner.bot

    def room(self, name: str | None = None) -> BotRoom:
        """The bot's view of a room (its first room when ``name`` is None)."""
        return self.bot.rooms[name if name is not None else self.runner.rooms[0]]

    def start(self, timeout: float = 10.0) -> Self:
        """Start the thread and the bot; wait until it is in every room (or raise what stopped it)."""
        self._thread.start()
        self._task = self.call(self._spawn())
        try:
            self.call(self._joined_or_stopped(timeout), timeout + 1)
        except BaseException:
            self.stop()
            raise
        return self

    async def _spawn(self) -> asyncio.Task[None]:
        return asyncio.create_task(self.runner.run())

    async def _joined_or_stopped(self, timeout: float) -> None:
        assert self._task is not None
        joined = asyncio.create_task(self.runner.wait_joined(timeout))
        await asyncio.wait([joined, self._task], return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():
            joined.cancel()
            self._task.result()  # raises what stopped the bot (BotRefused, say)
        await joined

    def call(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the bot's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def advance(self, seconds: float) -> None:
        """Move the bot's FakeClock forward, running its timers that fall due (and waiting for them)."""
        assert isinstance(self.clock, FakeClock), "advance() needs a FakeClock"
        self.call(self.clock.advance(seconds))

    def wait_joined(self, timeout: float = 10.0) -> None:
        """Wait until the bot is in every room again (after a server restart, say)."""
        self.call(self.runner.wait_joined(timeout), timeout + 1)

    def joins(self, room: str | None = None) -> int:
        """How many times the bot has joined ``room`` (its first room by default)."""
        links = self.runner.links
        link = links[room] if room is not None else next(iter(links.values()))
        return link.joins

    def stop(self) -> None:
        """Stop the bot (it leaves its rooms) and the thread."""
        if self._task is not None and self.loop.is_running():
            task, self._task = self._task, None
            self.loop.call_soon_threadsafe(task.cancel)
            self.call(asyncio.wait([task]), 15)
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BotProcess(ChildProcess):
    """``roomchat bot run KIND ...`` as a real process (the bot out of process, as in production).

    ``settings`` are written to a YAML file for ``--settings``; ``args`` are
    more command-line arguments (``["--config", path]``, ``["--plugin", module]``).
    ``kind``, ``url`` and ``token`` left as None are left out of the command
    (``--config`` then supplies them from the bot's entry). Logs go to
    ``log_path``; ``stop()`` sends SIGTERM and returns the exit code.
    """

    def __init__(self, kind: str | None, url: str | None, token: str | None, rooms: Iterable[str] = (),
                 settings: dict[str, Any] | None = None, args: Iterable[str] = (),
                 env: dict[str, str] | None = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="roomchat-bot-"))
        self.log_path = self.directory / "bot.log"
        self.cmd = [sys.executable, "-m", "roomchat", "bot", "run"]
        for option, value in (("", kind), ("--url", url), ("--token", token)):
            if value is not None:
                self.cmd += [option, value] if option else [value]
        for room in rooms:
            self.cmd += ["--room", room]
        if settings is not None:
            path = self.directory / "settings.yaml"
            path.write_text(yaml.safe_dump(settings), encoding="utf-8")
            self.cmd += ["--settings", str(path)]
        self.cmd += list(args)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        """Start the process (it connects on its own; wait for the bot in the room's user list)."""
        self._spawn(self.cmd, self.env)
        return self

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the process to exit by itself; its exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout)


    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
