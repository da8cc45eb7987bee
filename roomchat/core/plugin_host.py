"""The plugin host: registering plugins, and calling every hook through pluggy, per plugin, per room.

Built-ins, installed packages (entry-point group ``roomchat``) and modules or
files named in the config all go through ``PluginHost.add``, which is
``pm.register`` plus reading what the plugin registers. Nothing about a
built-in is special. A plugin that is a class is instantiated once per
server, with its ``Chat`` (``cls(chat)``, or ``cls()`` if it takes nothing).

Every hook is called through pluggy, one plugin at a time: for each plugin
that implements a hook (in pluggy's order: last registered first,
``tryfirst``/``trylast`` respected) the host keeps a caller (``PluginCaller``,
from ``pm.subset_hook_caller``) that calls that plugin's implementation inside
every wrapper (``wrapper=True``) of the plugins that run there. So wrappers
and ``pm.trace`` see each call, each plugin gets its own ``Chat`` (and, for
message hooks, its own settings), what an ``async def`` implementation
returns is awaited within ``handler_timeout`` before the next plugin runs,
and a failure names the plugin. The callers of a room are built once per
room config (``pipeline``): a room's ``plugins.enabled`` / ``disabled`` and
``plugins.rooms`` decide which plugins run there, for every hook that
concerns a room (messages, joins, leaves, ``roomchat_check_join``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy
from pydantic import BaseModel, ValidationError

from .. import hookspecs
from ..clock import Clock
from ..config import Config, PluginsConfig, RoomConfig, describe_error
from ..errors import ConfigError, Refusal
from ..loading import builtin_plugins, entry_point_plugins, import_plugin
from ..logs import event
from ..messagetypes import MessageType, TypeRegistry

if TYPE_CHECKING:
    from ..state.base import KeyValueStore, Presence
    from ..users import User

log = logging.getLogger("roomchat.plugins")

__all__ = ["PluginCaller", "PluginChat", "PluginHost", "PluginInfo", "RoomPipeline", "Runtime", "Step", "TypeEntry",
           "import_plugin"]

ROOM_HOOKS = ("roomchat_check_join", "roomchat_check_message", "roomchat_message_delivered", "roomchat_user_joined",
              "roomchat_user_left")
"""The hooks a room's plugin choice applies to (the others are server-wide)."""


# -- what the plugins' views act through ----------------------------------------------


@dataclass(frozen=True)
class Runtime:
    """What plugins' ``Chat`` views act through, once the server is built (``PluginHost.attach``)."""

    kv: KeyValueStore
    shared_store: bool
    presence: Presence
    send: Callable[[str, str, Any, int | None], Awaitable[dict[str, Any]]]
    disconnect: Callable[[str, int], Awaitable[int]]


class NamespacedStore:
    """One plugin's ``roomchat.Store``: the server's key-value store under ``<plugin>:``."""

    __slots__ = ("_kv", "_prefix", "shared")

    def __init__(self, kv: KeyValueStore, plugin: str, shared: bool) -> None:
        self._kv = kv
        self._prefix = plugin + ":"
        self.shared = shared

    async def get(self, key: str) -> Any:
        return await self._kv.get(self._prefix + key)

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        return await self._kv.get_many([self._prefix + key for key in keys])

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        await self._kv.set(self._prefix + key, value, ttl)

    async def delete(self, key: str) -> bool:
        return await self._kv.delete(self._prefix + key)

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        return await self._kv.hash_set(self._prefix + key, field, value, only_if_new, ttl)

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        return await self._kv.hash_get_all(self._prefix + key)

    async def incr(self, key: str, amount: int = 1) -> int:
        return await self._kv.incr(self._prefix + key, amount)


class PluginChat:
    """One plugin's ``roomchat.Chat``: what it may do with the server, and nothing more."""

    __slots__ = ("_host", "_store", "log", "plugin")

    def __init__(self, host: PluginHost, plugin: str) -> None:
        self._host = host
        self._store: NamespacedStore | None = None
        self.plugin = plugin
        self.log = logging.getLogger(f"roomchat.plugins.{plugin}")

    def _runtime(self) -> Runtime:
        runtime = self._host.runtime
        if runtime is None:
            raise RuntimeError(f"plugin {self.plugin!r}: this plugin host is not serving (no server was built on it)")
        return runtime

    @property
    def clock(self) -> Clock:
        return self._host.clock

    @property
    def bot_ids(self) -> frozenset[int]:
        return self._host.bot_ids

    @property
    def store(self) -> NamespacedStore:
        if self._store is None:
            runtime = self._runtime()
            self._store = NamespacedStore(runtime.kv, self.plugin, runtime.shared_store)
        return self._store

    def settings(self, room: str) -> Any:
        return self._host.settings_for(self._host.resolve_room(room), self.plugin)

    def room(self, name: str) -> RoomConfig:
        return self._host.resolve_room(name)

    async def members(self, room: str) -> list[User]:
        return await self._runtime().presence.members(room)

    async def member(self, room: str, user_id: int) -> User | None:
        return await self._runtime().presence.member(room, user_id)

    async def send(self, room: str, type: str, value: Any, *, to: int | None = None) -> dict[str, Any]:
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        return await self._runtime().send(room, type, value, to)

    async def disconnect(self, room: str, user_id: int) -> int:
        return await self._runtime().disconnect(room, user_id)

    def __repr__(self) -> str:
        return f"<Chat of plugin {self.plugin!r}>"


# -- per-room pipelines ------------------------------------------------------------------


class PluginCaller:
    """One plugin's implementation of a hook, inside the wrappers of the plugins that run, called through pluggy.

    Built from pluggy's public ``subset_hook_caller`` (which implementations,
    in pluggy's order) and called with the same executor a ``HookCaller``
    ends in (``HookCaller._hookexec``: ``pm.trace`` and call monitoring see
    every call). ``HookCaller.__call__`` would also re-check the arguments and
    recompute the subset on every call, which doubled what a message's
    all-types hooks cost; the implementations cannot change under a caller
    (registering a plugin rebuilds every caller).
    """

    __slots__ = ("_execute", "_firstresult", "_impls", "name")

    def __init__(self, pm: pluggy.PluginManager, hook: str, remove: list[object]) -> None:
        caller = pm.subset_hook_caller(hook, remove)
        self.name = hook
        self._impls = caller.get_hookimpls()
        self._execute = caller._hookexec
        self._firstresult = bool(caller.spec is not None and caller.spec.opts.get("firstresult"))

    def __call__(self, **kwargs: Any) -> Any:
        """Call the implementation (pluggy's result: a list, or the one answer of a firstresult hook)."""
        return self._execute(self.name, self._impls, kwargs, self._firstresult)


@dataclass(frozen=True, slots=True)
class Step:
    """One plugin's implementation of one hook, as a room (or the server) runs it."""

    plugin: str
    call: PluginCaller  # this plugin's implementation, inside the wrappers that run, through pluggy
    chat: PluginChat
    settings: Any = None


@dataclass(frozen=True, slots=True)
class TypeEntry:
    """A message type as a room runs it: the type, its plugin's settings for the room, its plugin's Chat."""

    message_type: MessageType
    settings: Any
    chat: PluginChat


@dataclass
class RoomPipeline:
    """What one room runs: its known types, and each room hook's steps in pluggy's order."""

    types: dict[str, TypeEntry]
    check_join: list[Step]
    checks: list[Step]
    delivered: list[Step]
    joined: list[Step]
    left: list[Step]
    known_only: bool


@dataclass
class PluginInfo:
    """A registered plugin: its name, where it came from, and what it registers."""

    name: str
    origin: str
    module: str = ""
    types: list[str] = field(default_factory=list)
    bots: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)


async def run_step(step: Step, timeout: float | None, **kwargs: Any) -> None:
    """Call one plugin's implementation through pluggy, and await what it returns within ``timeout``.

    Raises what the plugin raised (TimeoutError when it outlived ``timeout``).
    """
    results = step.call(**kwargs)
    for result in results if isinstance(results, list) else (results,):
        if inspect.isawaitable(result):
            async with asyncio.timeout(timeout):
                await result


class PluginHost:
    """The plugin manager, the type registry and the bot registry of one server, and every call of a hook."""

    def __init__(self, handler_timeout: float = 2.0, clock: Clock | None = None,
                 bot_ids: frozenset[int] = frozenset()) -> None:
        self.pm = pluggy.PluginManager("roomchat")
        self.pm.add_hookspecs(hookspecs)
        self.types = TypeRegistry()
        self.bots: dict[str, type[Any]] = {}
        self.info: dict[str, PluginInfo] = {}
        self.settings_models: dict[str, type[BaseModel]] = {}
        self.handler_timeout = handler_timeout
        self.clock = clock or Clock()
        self.bot_ids = bot_ids
        self.runtime: Runtime | None = None
        self.views: dict[str, PluginChat] = {}
        self._pipelines: dict[tuple[int, frozenset[str]], tuple[RoomConfig, RoomPipeline]] = {}
        self._server_wide: dict[str, list[Step]] = {}
        self._settings: dict[tuple[int, str], tuple[RoomConfig, Any]] = {}
        self._global_settings: dict[str, dict[str, Any]] = {}
        self._plugin_rooms: dict[str, list[str]] = {}  # plugins.rooms: plugin -> the only rooms it runs in

    def attach(self, runtime: Runtime) -> None:
        """Give the plugins' views what they act through (the server calls this once it is built)."""
        self.runtime = runtime

    def view(self, name: str) -> PluginChat:
        """Plugin ``name``'s Chat (made on first use)."""
        chat = self.views.get(name)
        if chat is None:
            chat = self.views[name] = PluginChat(self, name)
        return chat

    # -- registration -------------------------------------------------------

    def add(self, plugin: object, name: str, origin: str) -> None:
        """Register one plugin (a class: one instance of it) and read its types, bots and settings model.

        A problem in what the plugin registers (a type name taken, a bad
        MessageType, a hook with arguments the hook does not have, a
        registration hook that raises) stops start-up with a ConfigError naming
        the plugin and where it came from.
        """
        if self.pm.is_blocked(name):
            return
        existing = self.pm.get_plugin(name)
        if existing is plugin or (isinstance(plugin, type) and type(existing) is plugin):
            return  # the same plugin twice (its entry point, then handed over by a test): once is enough
        if existing is None and not isinstance(plugin, type) and self.pm.is_registered(plugin):
            other = self.pm.get_name(plugin) or "?"
            where = self.info[other].origin if other in self.info else "?"
            raise ConfigError(origin, [f"plugin {name!r} is already registered as {other!r} ({where}); use that name"])
        if existing is not None:
            raise ConfigError(origin, [
                (f"a plugin called {name!r} is already registered ({self.info[name].origin}); "
                 f"give this one another name, or add {name!r} to plugins.disable to drop the other")
            ])
        instance = self._instantiate(plugin, name, origin) if isinstance(plugin, type) else plugin
        try:
            self.pm.register(instance, name=name)
        except pluggy.PluginValidationError as exc:
            raise ConfigError(f"plugin {name} ({origin})", [_validation_problem(exc)]) from None
        info = PluginInfo(name, origin, module=_module_of(plugin),
                          hooks=sorted(h.name for h in self.pm.get_hookcallers(instance) or ()))
        self.info[name] = info
        try:
            self._read_registrations(instance, info)
        except Exception as exc:
            self.pm.unregister(instance)
            del self.info[name]
            for type_name in info.types:
                self.types.remove(type_name)
            for kind in info.bots:
                del self.bots[kind]
            self.settings_models.pop(name, None)
            raise ConfigError(f"plugin {name} ({origin})", [f"{type(exc).__name__}: {exc}"]) from exc
        self._pipelines.clear()
        self._server_wide.clear()

    def _instantiate(self, plugin_class: type, name: str, origin: str) -> object:
        """One instance of a plugin class for this server: ``cls(chat)``, or ``cls()`` if it takes no argument."""
        try:
            takes_chat = bool(inspect.signature(plugin_class).parameters)
        except (TypeError, ValueError):
            takes_chat = False
        try:
            return plugin_class(self.view(name)) if takes_chat else plugin_class()
        except Exception as exc:
            raise ConfigError(f"plugin {name} ({origin})",
                              [f"{plugin_class.__qualname__}(chat) failed: {type(exc).__name__}: {exc}"]) from exc

    def _read_registrations(self, plugin: object, info: PluginInfo) -> None:
        def register_type(message_type: MessageType) -> None:
            if not isinstance(message_type, MessageType):
                raise TypeError(f"register() takes a roomchat.MessageType, not {type(message_type).__name__}")
            self.types.register(message_type, plugin=info.name)
            info.types.append(message_type.name)

        def register_bot(bot_class: type) -> None:
            kind = getattr(bot_class, "kind", None) or bot_class.__name__
            if kind in self.bots:
                raise ValueError(f"bot kind {kind!r} is registered twice")
            self.bots[kind] = bot_class
            info.bots.append(kind)

        self._call_own(plugin, "roomchat_register_message_types", register=register_type)
        self._call_own(plugin, "roomchat_register_bots", register=register_bot)
        model = self._call_own(plugin, "roomchat_settings_model")
        if model is not None:
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"roomchat_settings_model must return a pydantic model class, not {model!r}")
            self.settings_models[info.name] = model

    def _call_own(self, plugin: object, hook_name: str, **kwargs: Any) -> Any:
        """One plugin's own answer to a registration hook, through pluggy (None if it has none)."""
        hook = getattr(self.pm.hook, hook_name)
        if not any(impl.plugin is plugin for impl in hook.get_hookimpls()):
            return None
        others = [impl.plugin for impl in hook.get_hookimpls() if impl.plugin is not plugin]
        results = self.pm.subset_hook_caller(hook_name, others)(**kwargs)
        return results[0] if results else None

    def load(self, config: PluginsConfig, source: str, rooms: Config | None = None) -> None:
        """The config's rooms (``default_rooms``), the built-ins, installed packages, then what ``source`` names.

        ``rooms`` is the whole config, whose ``rooms:`` and ``server.create_rooms``
        the built-in ``roomchat_resolve_room`` answers from (none: no rooms).
        """
        from .rooms import ConfigRooms

        for name in config.disable:
            self.pm.set_blocked(name)
        self.add(ConfigRooms(rooms or Config()), "default_rooms", "built-in")
        for name, plugin in builtin_plugins():
            self.add(plugin, name, "built-in")
        for name, plugin, origin in entry_point_plugins(skip=set(self.info) | set(config.disable)):
            self.add(plugin, name, origin)
        for spec in config.load:
            module, name = import_plugin(spec, source)
            self.add(module, name, f"config: {spec}")
        self._global_settings = config.settings
        self._plugin_rooms = config.rooms

    # -- settings -----------------------------------------------------------------

    def validate_settings(self, rooms: dict[str, RoomConfig], source: str) -> None:
        """Check every plugin name and setting the config gives; a problem stops start-up naming the key.

        ``rooms`` maps a key path (``rooms.lobby``, ``server.new_room``) to the
        room's config. Unknown plugin names (in settings, ``plugins.rooms``, a
        room's ``enabled`` or ``disabled``) are errors listing the installed
        ones, and so is a room whose ``enabled`` list names a plugin that
        ``plugins.rooms`` keeps out of it.
        """
        problems: list[str] = []
        for name, values in self._global_settings.items():
            if name not in self.info:
                problems.append(f"plugins.settings.{name}: no plugin is called {name!r} ({self._known()})")
            else:
                problems += self._check(f"plugins.settings.{name}", name, values)
        for name in self._plugin_rooms:
            if name not in self.info:
                problems.append(f"plugins.rooms.{name}: no plugin is called {name!r} ({self._known()})")
        for path, room in rooms.items():
            problems += self._check_room(path, room)
        if problems:
            raise ConfigError(source, problems)

    def _check_room(self, path: str, room: RoomConfig) -> list[str]:
        problems: list[str] = []
        chosen = room.plugins.enabled
        for key, names in (("enabled", chosen if chosen != "all" else []), ("disabled", room.plugins.disabled)):
            for name in names:
                if name not in self.info:
                    problems.append(f"{path}.plugins.{key}: no plugin is called {name!r} ({self._known()})")
        room_name = path.removeprefix("rooms.") if path.startswith("rooms.") else None
        for name in chosen if chosen != "all" else []:
            only = self._plugin_rooms.get(name)
            if room_name is not None and only is not None and room_name not in only:
                problems.append(f"{path}.plugins.enabled: lists {name!r}, but plugins.rooms.{name} keeps it "
                                f"to {', '.join(only)}; add {room_name!r} there, or take {name!r} out of this list")
        for name, values in room.plugins.settings.items():
            if name not in self.info:
                problems.append(f"{path}.plugins.settings.{name}: no plugin is called {name!r} ({self._known()})")
            else:
                merged = {**self._global_settings.get(name, {}), **values}
                problems += self._check(f"{path}.plugins.settings.{name}", name, merged)
        return problems

    def _known(self) -> str:
        return "installed: " + ", ".join(sorted(self.info)) if self.info else "no plugins are installed"

    def _check(self, path: str, plugin: str, values: dict[str, Any]) -> list[str]:
        model = self.settings_models.get(plugin)
        if model is None:
            return []
        try:
            model.model_validate(values)
        except ValidationError as exc:
            return [describe_error(e, path, "setting") for e in exc.errors()]
        return []

    def settings_for(self, room: RoomConfig, plugin: str) -> Any:
        """``plugin``'s settings in a room of config ``room``: its model (validated once per config), or a dict."""
        key = (id(room), plugin)
        cached = self._settings.get(key)
        if cached is not None and cached[0] is room:
            return cached[1]
        model = self.settings_models.get(plugin)
        merged = {**self._global_settings.get(plugin, {}), **room.plugins.settings.get(plugin, {})}
        settings = model.model_validate(merged) if model is not None else merged
        self._settings[key] = (room, settings)
        return settings

    # -- rooms ------------------------------------------------------------------------------

    def resolve_room(self, name: str) -> RoomConfig:
        """The room's config, from the first plugin that knows it (the config file last); else ``room_not_found``."""
        for step in self.server_wide("roomchat_resolve_room"):
            room = step.call(chat=step.chat, name=name)
            if room is not None:
                return room
        raise Refusal("room_not_found", f"There is no room called {name!r}")

    def pipeline(self, room: RoomConfig, name: str | None = None) -> RoomPipeline:
        """The pipeline of room ``name`` whose config is ``room``, built once per config and ``plugins.rooms`` fit.

        Rooms created on first join share one config; what sets them apart is
        which of the ``plugins.rooms`` lists name them, so the cache stays as
        small as the config however many rooms are created.
        """
        key = (id(room), frozenset(p for p, names in self._plugin_rooms.items() if name in names))
        cached = self._pipelines.get(key)
        if cached is not None and cached[0] is room:
            return cached[1]
        pipeline = self._build_pipeline(room, name)
        self._pipelines[key] = (room, pipeline)
        return pipeline

    def enabled(self, room: RoomConfig, plugin: str, name: str | None) -> bool:
        """Whether room ``name`` (config ``room``) runs ``plugin``: its own choice, and ``plugins.rooms``."""
        chosen = room.plugins.enabled
        if chosen == "all" and plugin in room.plugins.disabled:
            return False
        if chosen != "all" and plugin not in chosen:
            return False
        only = self._plugin_rooms.get(plugin)
        return only is None or name in only

    def _build_pipeline(self, room: RoomConfig, name: str | None) -> RoomPipeline:
        def runs(plugin: str) -> bool:
            return self.enabled(room, plugin, name)

        def steps(hook: str) -> list[Step]:
            return [Step(plugin, call, self.view(plugin), self.settings_for(room, plugin))
                    for plugin, call in self._callers(hook, runs)]

        types = {t.name: TypeEntry(t, self.settings_for(room, t.plugin), self.view(t.plugin))
                 for t in self.types if runs(t.plugin)}
        return RoomPipeline(types=types, check_join=steps("roomchat_check_join"), checks=steps("roomchat_check_message"),
                            delivered=steps("roomchat_message_delivered"), joined=steps("roomchat_user_joined"),
                            left=steps("roomchat_user_left"), known_only=room.message_types == "known")

    def server_wide(self, hook: str) -> list[Step]:
        """Every plugin's implementation of a server-wide hook, in pluggy's order (cached)."""
        found = self._server_wide.get(hook)
        if found is None:
            found = self._server_wide[hook] = [Step(plugin, call, self.view(plugin))
                                                for plugin, call in self._callers(hook, lambda _: True)]
        return found

    def _callers(self, hook: str, runs: Callable[[str], bool]) -> Iterator[tuple[str, PluginCaller]]:
        """``(plugin, caller)`` for each plugin that runs and implements ``hook``, in the order pluggy calls them.

        Each caller calls that plugin's implementation inside the wrappers of
        every plugin that runs.
        """
        impls = getattr(self.pm.hook, hook).get_hookimpls()
        wrappers = {impl.plugin for impl in impls if (impl.wrapper or impl.hookwrapper) and runs(impl.plugin_name)}
        for impl in reversed(impls):  # pluggy calls the last registered first
            if impl.wrapper or impl.hookwrapper or not runs(impl.plugin_name):
                continue
            others = [i.plugin for i in impls if i.plugin is not impl.plugin and i.plugin not in wrappers]
            yield impl.plugin_name, PluginCaller(self.pm, hook, others)

    # -- calling hooks that inform -------------------------------------------------------

    async def notify(self, hook: str, steps: list[Step] | None = None, **kwargs: Any) -> None:
        """Call a hook that informs (``roomchat_startup``, ``roomchat_user_joined``...) on each of ``steps``.

        Without ``steps``, every plugin implementing it. Each gets its own
        ``chat``; what it returns is awaited within handler_timeout; a failure
        or a timeout is logged with the plugin's name and the others still run.
        """
        for step in self.server_wide(hook) if steps is None else steps:
            try:
                await run_step(step, self.handler_timeout, chat=step.chat, **kwargs)
            except TimeoutError:
                event(log, "plugin_timeout", logging.ERROR, plugin=step.plugin, hook=hook,
                      seconds=self.handler_timeout)
            except Exception:
                event(log, "plugin_failed", logging.ERROR, plugin=step.plugin, hook=hook)
                log.exception("plugin %s failed in %s", step.plugin, hook)

    def answers(self, hook: str) -> Iterator[tuple[str, Callable[[], Any]]]:
        """``(plugin, ask)`` for each plugin implementing a synchronous server-wide hook that takes no arguments."""
        for step in self.server_wide(hook):
            results = step.call

            def ask(call: PluginCaller = results) -> Any:
                found = call()
                return found[0] if found else None

            yield step.plugin, ask


def _validation_problem(exc: pluggy.PluginValidationError) -> str:
    """pluggy's refusal of a hook implementation, with what changed in issue 11's plugin API when that is why."""
    text = " ".join(str(exc).split())
    if "'server'" in text and "hookspec" in text:
        return (f"{text}; hooks get `chat` (this plugin's roomchat.Chat) instead of the server since roomchat's "
                "plugin API changed (docs/plugins.md, 'Migrating from the server argument')")
    return text


def _module_of(plugin: object) -> str:
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    kind = plugin if isinstance(plugin, type) else type(plugin)
    return f"{kind.__module__}.{kind.__qualname__}"
