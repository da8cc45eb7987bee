"""The bots one server runs itself: the config's ``bots:`` entries, checked at start-up and run over loopback.

Server-side: it checks every bot's kind, rooms and settings against the
server's plugins and rooms, mints each in-process bot a credential, and runs
each bot with the client side's ``BotRunner`` (``roomchat/botrunner.py``),
in a cluster on one server at a time (the state backend's leases).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any

from .bot import Bot
from .botrunner import BotRunner
from .client.store import BotStore, KeyValue, bot_namespace
from .clock import Clock
from .config import BotConfig, Config, RoomConfig
from .core.identity import Authenticator
from .errors import ConfigError, Refusal
from .logs import event
from .state.base import Leases
from .users import User

log = logging.getLogger("roomchat.bots")


class BotHost:
    """The bots one server runs (the config's ``bots:``).

    Built with the server: it checks every bot's kind, rooms and settings
    (a problem stops start-up naming ``bots.<i>.<key>``) and registers each
    bot's credential. ``start(url)`` connects the bots once the server
    listens; ``stop()`` takes them out before the server disconnects anyone.
    ``store`` is the server's durable key-value store: each bot's ``store`` is
    its namespace there, ``bot:<kind>:<ID>`` (None: each bot keeps its store in
    memory); ``shared_store``: other servers write it too (a cluster).
    """

    def __init__(self, config: Config, source: str, auth: Authenticator, kinds: dict[str, type[Any]],
                 resolve_room: Callable[[str], RoomConfig], clock: Clock, leases: Leases,
                 store: KeyValue | None = None, shared_store: bool = False) -> None:
        self.source = source
        self.store = store
        self.shared_store = shared_store
        self.kinds = kinds
        self.resolve_room = resolve_room
        self.clock = clock
        self.leases = leases
        self.bot_ids = frozenset(b.id for b in config.bots)
        self.runners: list[BotRunner] = []
        self.warnings: list[str] = []  # what `roomchat check` could not check (roomchat/advice.py)
        self._planned: list[tuple[BotConfig, type[Bot], Any, str]] = []
        self._tasks: list[asyncio.Task[None]] = []
        problems: list[str] = []
        for index, spec in enumerate(config.bots):
            user = User(spec.id, spec.role, spec.name, bot=True)
            if spec.run == "external":
                if isinstance(spec.token, str):
                    auth.add_token(spec.token, user)
                else:
                    problems.append(f"bots.{index}.token: not resolved (load the config with load_config)")
                self._check_external(index, spec, problems)
                continue
            found = self._check(index, spec, problems)
            if found is None:
                continue
            bot_class, settings = found
            token = "bot-" + secrets.token_urlsafe(32)
            auth.add_token(token, user)
            self._planned.append((spec, bot_class, settings, token))
        if problems:
            raise ConfigError(source, problems)

    @property
    def planned(self) -> int:
        """How many bots this server runs itself (``run: server``)."""
        return len(self._planned)

    def _check(self, index: int, spec: BotConfig, problems: list[str]) -> tuple[type[Bot], Any] | None:
        path = f"bots.{index}"
        kinds = self.kinds
        bot_class = kinds.get(spec.kind)
        if bot_class is None:
            known = ", ".join(sorted(kinds)) or "none"
            problems.append(f"{path}.kind: no bot of kind {spec.kind!r} is installed (installed: {known})")
            return None
        for j, room_name in enumerate(spec.rooms):
            problems += self._check_room(f"{path}.rooms.{j}", spec, room_name)
        try:
            settings = bot_class.validate_settings(spec.settings, f"{path}.settings", self.source)
        except ConfigError as exc:
            problems += exc.problems
            return None
        return bot_class, settings

    def _check_external(self, index: int, spec: BotConfig, problems: list[str]) -> None:
        """An ``external`` bot: its rooms, and its settings as ``roomchat bot run --config`` will read them.

        Its kind may live only where it runs (``bot run --plugin``); then its
        settings cannot be checked here, which is a warning, not an error.
        """
        path = f"bots.{index}"
        for j, room_name in enumerate(spec.rooms):
            problems += self._check_room(f"{path}.rooms.{j}", spec, room_name)
        bot_class = self.kinds.get(spec.kind)
        if bot_class is None:
            self.warnings.append(
                f"{path}.kind: no bot of kind {spec.kind!r} is installed here, so its settings are not checked; "
                "`roomchat bot run --config` checks them where it runs (or load its plugin under plugins.load)")
            return
        try:
            bot_class.validate_settings(spec.settings, f"{path}.settings", self.source)
        except ConfigError as exc:
            problems += exc.problems

    def _check_room(self, path: str, spec: BotConfig, name: str) -> list[str]:
        try:
            room = self.resolve_room(name)
        except Refusal as refusal:
            return [f"{path}: {refusal.message} (list it under rooms:, or turn on server.create_rooms)"]
        except Exception:  # noqa: BLE001 - a plugin resolving rooms may need the server running; the join will tell
            return []
        problems = []
        if spec.role not in room.roles:
            problems.append(f"{path}: a {spec.role.value} may not enter room {name!r} (its roles: "
                            f"{', '.join(r.value for r in room.roles)}); change the bot's role or the room's roles")
        if "users" not in room.admit:
            problems.append(f"{path}: room {name!r} does not admit configured users (admit: {room.admit}); "
                            "add 'users' to its admit list so the bot can enter")
        return problems

    async def start(self, url: str) -> None:
        """Connect every bot to its rooms (the server listens at ``url``)."""
        clock, ids = self.clock, self.bot_ids
        for spec, bot_class, settings, token in self._planned:
            store = self.bot_store(spec)

            def make(bot_class: type[Bot] = bot_class, settings: Any = settings, store: BotStore = store) -> Bot:
                bot = bot_class(settings, clock=clock, bot_ids=ids)
                bot.store = store  # set after construction: a subclass's __init__ need not pass it on
                return bot

            runner = BotRunner(make, url, token, spec.rooms, label=f"{spec.kind}:{spec.id}")
            self.runners.append(runner)
            task = asyncio.create_task(self._hold(f"bot:{spec.id}", runner), name=f"bot {spec.kind}:{spec.id}")
            self._tasks.append(task)
            event(log, "bot_started", kind=spec.kind, bot=spec.id, rooms=",".join(spec.rooms))

    def bot_store(self, spec: BotConfig) -> BotStore:
        """The store of the bot ``spec`` configures: its namespace of the server's store (memory without one)."""
        namespace = bot_namespace(spec.kind, spec.id)
        if self.store is None:
            return BotStore.in_memory(namespace)
        return BotStore(self.store, namespace, shared=self.shared_store)

    async def _hold(self, lease: str, runner: BotRunner) -> None:
        # In a cluster each configured bot runs on one server at a time (the backend's leases).
        await self.leases.hold(lease, runner.run)

    async def wait_joined(self, timeout: float = 10.0) -> None:
        """Wait until every bot is in every one of its rooms (tests use this)."""
        await asyncio.gather(*(runner.wait_joined(timeout) for runner in self.runners))

    async def stop(self) -> None:
        """Take every bot out of its rooms and stop it."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.runners.clear()
