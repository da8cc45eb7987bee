"""``roomchat bot run``: a bot as a process of its own, from its entry in the server's config.

With ``--config`` the command reads the bot's ``run: external`` entry under
``bots:`` the way ``roomchat serve`` reads an in-process bot's: its kind, its
rooms, its settings (checked, relative paths from the config's folder), its
token (``{env: NAME}`` read from the environment), the server's address and
the IDs of the other bots, plus the plugins under ``plugins.load``. Only the
chosen entry's token is read; the other bots' and users' secrets are never
needed. Every command-line option overrides what the entry says, and
without ``--config`` the options are all there is.

Which entry: ``--id``; else the one whose token is ``--token``; else the only
``run: external`` entry (of KIND, when given).

The bot's store (``self.store``, docs/bots.md "The bot store") is a database
this process opens at the store's first use (a bot that stores nothing makes
no file): ``--data DIR`` keeps it in the
SQLite file ``DIR/roomchat-bots.sqlite3``; without ``--data``, ``--config``
means the config's ``storage.url`` (the server's own database, relative paths
from the config's folder, migrated if no server has yet; with no ``url``,
where ``roomchat serve`` puts it: ``$ROOMCHAT_DATA_DIR`` when set), and
neither means ``roomchat-bots.sqlite3`` in ``$ROOMCHAT_DATA_DIR``, else in ``./data``. Its keys are under ``bot:<kind>:<ID>`` (the
entry's ID; ``bot:<kind>`` for a bot no entry declares), exactly as when the
server runs the bot, so a bot moved from ``run: server`` to ``run: external``
on the same database keeps what it stored.

Bot kinds are found by ``BotKinds``, a light registry: the built-in bots
(``roomchat_bots``), installed packages' entry points, ``plugins.load`` and
``--plugin``, each module imported and its ``roomchat_register_bots`` read.
It never builds the server's plugin host: the other built-in plugins are not
imported, and no plugin's settings or message types are registered or checked.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bot import Bot
from .botrunner import BotRefused, BotRunner, loopback_url
from .builtins import BUILTIN_PLUGINS
from .client.store import BotStore, bot_namespace, data_url
from .config import BotConfig, Config, EnvRef, parse_config
from .errors import CommandError, ConfigError
from .loading import entry_point_plugins, import_object, import_plugin
from .logs import event, setup_logging
from .storage.config import data_dir, with_data_dir
from .yamlfile import read_yaml

log = logging.getLogger("roomchat.bots")


@dataclass
class Entry:
    """The chosen ``bots:`` entry, its index and the config file it is in."""

    index: int
    spec: BotConfig
    source: str

    @property
    def path(self) -> str:
        """Its key path, ``bots.<index>``."""
        return f"bots.{self.index}"


BUILTIN_BOTS = "roomchat_bots."
"""The built-in plugins that register bots are the modules of ``bots/``, installed as ``roomchat_bots``."""


class BotKinds:
    """Bot classes by kind, read from plugins' ``roomchat_register_bots`` without the server's plugin host.

    ``add`` reads one plugin (a module or an object); the loaders add the
    built-in bots, installed packages' entry points, and modules or files.
    A plugin named in ``disabled`` (``plugins.disable``) is skipped; a plugin
    name or a bot kind registered twice is a ConfigError, as it is for the server.
    """

    def __init__(self, disabled: Iterable[str] = ()) -> None:
        self.bots: dict[str, type[Bot]] = {}
        self.disabled = set(disabled)
        self._plugins: dict[str, tuple[object, str]] = {}  # name -> (plugin, origin)

    def add(self, plugin: object, name: str, origin: str) -> list[str]:
        """Read the bot kinds ``plugin`` registers; the kinds added."""
        if name in self.disabled or any(p is plugin for p, _ in self._plugins.values()):
            return []
        if name in self._plugins:
            taken = self._plugins[name][1]
            raise ConfigError(origin, [(f"a plugin called {name!r} is already registered ({taken}); give this one "
                                        f"another name, or add {name!r} to plugins.disable to drop the other")])
        self._plugins[name] = (plugin, origin)
        found: list[type[Bot]] = []
        try:
            _registration(plugin)(register=found.append)
        except Exception as exc:
            raise ConfigError(f"plugin {name} ({origin})", [f"{type(exc).__name__}: {exc}"]) from exc
        for bot_class in found:
            kind = getattr(bot_class, "kind", None) or bot_class.__name__
            if kind in self.bots:
                raise ConfigError(f"plugin {name} ({origin})", [f"ValueError: bot kind {kind!r} is registered twice"])
            self.bots[kind] = bot_class
        return [getattr(c, "kind", None) or c.__name__ for c in found]

    def add_builtins(self) -> None:
        """The bots shipped with roomchat (``bots/``); the other built-in plugins are not imported."""
        for name, spec in BUILTIN_PLUGINS.items():
            if spec.startswith(BUILTIN_BOTS) and name not in self.disabled:
                self.add(import_object(spec), name, "built-in")

    def add_entry_points(self) -> None:
        """Installed packages' plugins (entry-point group ``roomchat``)."""
        for name, plugin, origin in entry_point_plugins(skip=self.disabled | set(self._plugins)):
            self.add(plugin, name, origin)

    def add_module(self, spec: str, source: str, origin: str) -> list[str]:
        """A dotted module, or a ``.py`` file relative to the file ``source``; the kinds it added."""
        module, name = import_plugin(spec, source)
        return self.add(module, name, origin)


def _registration(plugin: object) -> Callable[..., Any]:
    """A plugin's ``roomchat_register_bots`` (a no-op when it has none), callable as pluggy calls it.

    A class plugin's hook is called without an instance (``self`` is None):
    registering must not need the plugin's state.
    """
    hook = getattr(plugin, "roomchat_register_bots", None)
    if hook is None:
        return lambda register: None
    if isinstance(plugin, type) and inspect.isfunction(hook) and next(iter(inspect.signature(hook).parameters)) == "self":
        return lambda register: hook(None, register=register)
    return hook


@dataclass
class BotPlan:
    """Everything a run needs, settled from the command line and the config."""

    kind: str
    bot_class: type[Bot]
    settings: Any
    url: str
    token: str
    rooms: list[str]
    bot_ids: frozenset[int]
    store_url: str = ""
    """The storage URL of the bot's store (``--data``, the config's ``storage.url``, or ``./data``)."""
    store_base: str | None = None
    """The folder a relative SQLite path in ``store_url`` is relative to."""
    namespace: str = ""
    """The prefix of the bot's keys in its store."""


def add_bot_parser(sub: Any, log_levels: list[str]) -> None:
    """Add ``roomchat bot run`` to the CLI's sub-commands."""
    bot = sub.add_parser("bot", help="run a bot as a process of its own",
                         description="Bots as processes of their own (docs/bots.md).")
    bot_sub = bot.add_subparsers(dest="bot_command", required=True, metavar="COMMAND",
                                 help="what to do; `roomchat bot COMMAND --help` tells more")
    p = bot_sub.add_parser(
        "run", help="connect a bot to a server's rooms and run it until stopped",
        description="Connect a bot to a server's rooms and run it until SIGTERM or Ctrl-C. With --config, the "
                    "bot's run: external entry under bots: gives its kind, rooms, settings and token.")
    p.add_argument("kind", nargs="?", metavar="KIND",
                   help="the bot's kind (see `roomchat plugins`); with --config, the entry's kind when left out")
    p.add_argument("--config", metavar="FILE",
                   help="the server's config file: the bot's entry under bots:, the IDs of the other bots, "
                        "plugins.load, and the server's address")
    p.add_argument("--id", type=int, metavar="ID", dest="entry_id",
                   help="with --config: run the bots: entry with this ID (default: the entry whose token is --token, "
                        "or the only run: external entry, of KIND if given)")
    p.add_argument("--url", help="the server, e.g. http://127.0.0.1:8000 (default with --config: its server.host "
                                 "and server.port)")
    p.add_argument("--token", help="the bot user's credential: an external entry's token, a users: token or a JWT "
                                   "(default with --config: the entry's token, {env: NAME} read from the environment)")
    p.add_argument("--room", action="append", dest="rooms", metavar="ROOM",
                   help="a room to join (repeatable; default with --config: the entry's rooms)")
    p.add_argument("--settings", metavar="FILE",
                   help="a YAML file with the bot's settings, instead of the entry's settings:")
    p.add_argument("--bot-id", type=int, action="append", default=[], dest="bot_ids", metavar="ID",
                   help="the ID of another bot, whose messages this one ignores (repeatable; --config adds every "
                        "bot under bots:)")
    p.add_argument("--plugin", action="append", default=[], dest="plugins", metavar="MODULE_OR_FILE",
                   help="a module, or a .py file relative to this directory, that registers bots (repeatable)")
    p.add_argument("--data", metavar="DIR",
                   help="keep the bot's store (what it remembers across restarts) in DIR/roomchat-bots.sqlite3 "
                        "(default: with --config, the config's storage.url, the server's database; "
                        "else $ROOMCHAT_DATA_DIR, else ./data)")
    p.add_argument("--log-level", choices=log_levels, default="info", help="how much to log (default: info)")
    p.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """``roomchat bot run``: settle the plan, connect, run until SIGTERM or Ctrl-C."""
    setup_logging(args.log_level)
    plan = make_plan(args)
    try:
        asyncio.run(_run_with_store(plan))
    except BotRefused as refused:
        raise CommandError(f"the server refused the bot in {refused}; check --token and --room") from None
    return 0


async def _run_with_store(plan: BotPlan) -> None:
    """Run the bot until a signal with its store (``open_store``), then close the store."""
    store = open_store(plan)
    event(log, "bot_store", bot=plan.kind, namespace=store.namespace, url=_shown(plan.store_url))

    def make() -> Bot:
        bot = plan.bot_class(plan.settings, bot_ids=plan.bot_ids)
        bot.store = store
        return bot

    runner = BotRunner(make, plan.url, plan.token, plan.rooms, label=plan.kind, fatal_refusals=True)
    try:
        await _run_until_signal(runner)
    finally:
        await store.close()


def open_store(plan: BotPlan) -> BotStore:
    """The bot's store on the database the plan names, opened (and migrated) on the store's first use.

    A bot that never stores anything needs no database and makes no file. A
    database that cannot be opened fails that use (``StorageError``, logged
    as the handler's failure, once per attempt) and is tried again at the next.
    """
    lazy = LazyDatabase(plan.store_url, plan.store_base)
    return BotStore(lazy, plan.namespace, close=lazy.close)


class LazyDatabase:
    """A ``DatabaseKeyValue`` on a storage URL, connected at its first call (``roomchat bot run``'s store)."""

    def __init__(self, url: str, base: str | None) -> None:
        self.url = url
        self.base = base
        self._kv: Any = None
        self._lock = asyncio.Lock()

    async def _store(self) -> Any:
        if self._kv is None:
            async with self._lock:
                if self._kv is None:
                    from .storage.config import driver_url
                    from .storage.database import open_database
                    from .storage.kv import DatabaseKeyValue

                    db = await open_database(driver_url(self.url, self.base))
                    event(log, "bot_store_open", url=db.url)
                    self._kv = DatabaseKeyValue(db)
        return self._kv

    async def get(self, key: str) -> Any:
        """The value at ``key``."""
        return await (await self._store()).get(key)

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """The values at ``keys``."""
        return list(await (await self._store()).get_many(keys))

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` at ``key``."""
        await (await self._store()).set(key, value, ttl)

    async def delete(self, key: str) -> bool:
        """Forget ``key``."""
        return bool(await (await self._store()).delete(key))

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        """Set one field of a hash."""
        return bool(await (await self._store()).hash_set(key, field, value, only_if_new, ttl))

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        """Every field of a hash."""
        return dict(await (await self._store()).hash_get_all(key))

    async def incr(self, key: str, amount: int = 1) -> int:
        """Add to an integer."""
        return int(await (await self._store()).incr(key, amount))

    async def close(self) -> None:
        """Close the database, if it was opened."""
        kv, self._kv = self._kv, None
        if kv is not None:
            await kv.db.close()


def _shown(url: str) -> str:
    from .storage.database import shown_url

    try:
        return shown_url(url)
    except Exception:  # noqa: BLE001 - only for a log line
        return "(unreadable url)"


def make_plan(args: argparse.Namespace) -> BotPlan:
    """What to run, from the command line and (with ``--config``) the bot's entry; problems name the option or key."""
    config = parse_config(read_yaml(args.config), args.config) if args.config else None
    entry = choose_entry(config, args) if config is not None else None
    kinds, from_cli = _load_plugins(config, args)
    kind = _kind(args, entry)
    bot_class = kinds.bots.get(kind)
    if bot_class is None:
        raise CommandError(f"no bot of kind {kind!r} is installed (installed: {', '.join(sorted(kinds.bots)) or 'none'}); "
                           "load one with --plugin" + (" or the config's plugins.load" if config else ""))
    if args.config and kind in from_cli:
        args.checkable = None  # `roomchat check` cannot load this kind: no hint to run it
    return BotPlan(
        kind=kind,
        bot_class=bot_class,
        settings=_settings(args, entry, bot_class),
        url=args.url or _url(config),
        token=args.token or _token(entry),
        rooms=args.rooms or (list(entry.spec.rooms) if entry else _missing("--room")),
        bot_ids=frozenset(args.bot_ids) | frozenset(b.id for b in (config.bots if config else ())),
        **_store(args, config, entry, kind),
    )


def _store(args: argparse.Namespace, config: Config | None, entry: Entry | None, kind: str) -> dict[str, Any]:
    """Where the bot's store is (``--data``, else the config's ``storage.url``, else ``$ROOMCHAT_DATA_DIR`` or
    ``./data``) and its namespace."""
    namespace = bot_namespace(kind, entry.spec.id if entry is not None else None)
    data = getattr(args, "data", None)
    if data:
        return {"store_url": data_url(data), "store_base": None, "namespace": namespace}
    if config is not None:  # the server's database: where `roomchat serve` keeps it ($ROOMCHAT_DATA_DIR included)
        return {"store_url": with_data_dir(config.storage).url, "store_base": str(Path(args.config).resolve().parent),
                "namespace": namespace}
    return {"store_url": data_url(data_dir() or "data"), "store_base": None, "namespace": namespace}


def choose_entry(config: Config, args: argparse.Namespace) -> Entry | None:
    """The ``bots:`` entry this process runs (None: a bot the config does not declare, with --token and --room)."""
    source = args.config
    if args.entry_id is not None:
        for index, spec in enumerate(config.bots):
            if spec.id == args.entry_id:
                if spec.run != "external":
                    raise CommandError(f"{source}: bots.{index} (ID {spec.id}) is run by `roomchat serve` "
                                       "(run: server); set run: external and give it a token to run it here")
                return Entry(index, spec, source)
        ids = ", ".join(str(b.id) for b in config.bots) or "none"
        raise CommandError(f"{source}: no bot under bots: has ID {args.entry_id} (IDs: {ids})")
    external = [Entry(i, b, source) for i, b in enumerate(config.bots) if b.run == "external"]
    if args.token:
        for entry in external:
            if args.token == _token_value(entry.spec):
                return entry
    candidates = [e for e in external if args.kind is None or e.spec.kind == args.kind]
    if len(candidates) > 1:
        ids = ", ".join(str(e.spec.id) for e in candidates)
        of_kind = f" of kind {args.kind!r}" if args.kind else ""
        raise CommandError(f"{source}: several run: external bots{of_kind} (IDs {ids}); choose one with --id")
    if candidates:
        return candidates[0]
    if args.kind is None:
        raise CommandError(f"{source}: no bot under bots: is run: external; give KIND, --token and --room, "
                           "or declare the bot there with run: external")
    return None


def _token_value(spec: BotConfig) -> str | None:
    if isinstance(spec.token, EnvRef):
        return os.environ.get(spec.token.env) or None
    return spec.token


def _load_plugins(config: Config | None, args: argparse.Namespace) -> tuple[BotKinds, set[str]]:
    """The bot kinds: built-ins, installed packages, the config's plugins.load (paths from its folder), then
    ``--plugin`` (paths from here); and the kinds only --plugin has."""
    plugins = config.plugins if config is not None else Config().plugins
    kinds = BotKinds(disabled=plugins.disable)
    kinds.add_builtins()
    kinds.add_entry_points()
    for spec in plugins.load:
        kinds.add_module(spec, args.config, f"config: {spec}")
    loaded = {(Path(args.config).parent / s).resolve() for s in config.plugins.load if _is_file(s)} if config else set()
    before = set(kinds.bots)
    for spec in args.plugins:
        if _is_file(spec):
            path = Path(spec).resolve()
            if not path.is_file():
                raise CommandError(f"--plugin {spec}: no such file ({path})")
            if path in loaded:
                continue  # plugins.load names this file too: one plugin, not a name clash
            spec = str(path)
        try:
            kinds.add_module(spec, "--plugin", f"--plugin {spec}")
        except ConfigError as exc:
            raise CommandError(f"--plugin {spec}: " + "; ".join(exc.problems)) from None
    return kinds, set(kinds.bots) - before


def _is_file(spec: str) -> bool:
    """Whether a plugin spec names a file (as import_plugin reads it) rather than a module."""
    return spec.endswith(".py") or "/" in spec


def _kind(args: argparse.Namespace, entry: Entry | None) -> str:
    if entry is None:
        return args.kind or _missing("KIND")
    if args.kind is not None and args.kind != entry.spec.kind:
        raise CommandError(f"KIND is {args.kind!r}, but {entry.path} (ID {entry.spec.id}) in {entry.source} is a "
                           f"{entry.spec.kind!r}; leave KIND out, or choose another entry with --id")
    return entry.spec.kind


def _settings(args: argparse.Namespace, entry: Entry | None, bot_class: type[Bot]) -> Any:
    if args.settings:
        values = read_yaml(args.settings, under="settings")  # its errors say settings.<key>, at the key's line
        if values is not None and not isinstance(values, dict):
            raise ConfigError(args.settings, ["(top level): the settings file must be a mapping of setting: value"])
        return bot_class.validate_settings(values or {}, "settings", args.settings)
    if entry is not None:
        return bot_class.validate_settings(entry.spec.settings, f"{entry.path}.settings", entry.source)
    return bot_class.validate_settings({}, "settings", "roomchat bot run")


def _token(entry: Entry | None) -> str:
    if entry is None:
        return _missing("--token")
    token = _token_value(entry.spec)
    if token is None:
        assert isinstance(entry.spec.token, EnvRef)  # a literal token is always there
        variable = entry.spec.token.env
        problem = (f"{entry.path}.token: environment variable {variable} is not set (it holds the token of bot "
                   f"{entry.spec.id}, {entry.spec.name}); set it, or give --token")
        raise ConfigError(entry.source, [problem])
    return token


def _url(config: Config | None) -> str:
    if config is None:
        return _missing("--url")
    return loopback_url(config.server.host, config.server.port)


def _missing(option: str) -> Any:
    raise CommandError(f"give {option}, or --config with the bot's run: external entry under bots:")


async def _run_until_signal(runner: BotRunner) -> None:
    task = asyncio.create_task(runner.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, task.cancel)
        except (NotImplementedError, RuntimeError):  # not the main thread, or not POSIX
            pass
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    event(log, "bot_stopped", bot=runner.label)
