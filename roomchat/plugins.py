"""Finding, registering and calling plugins.

Built-ins, installed packages (entry-point group ``roomchat``) and modules or
files named in the config all go through ``PluginHost.add``, which is
``pm.register`` plus reading what the plugin registers. Nothing about a
built-in is special.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

from . import hookspecs
from .builtins import BUILTIN_PLUGINS
from .clock import run_within
from .config import PluginsConfig, RoomConfig, describe_error
from .errors import ConfigError
from .logs import event
from .messagetypes import MessageType, TypeRegistry

log = logging.getLogger("roomchat.plugins")

ENTRY_POINT_GROUP = "roomchat"


@dataclass
class RoomPipeline:
    """What one room runs: its known types with their settings, and its all-types hooks."""

    types: dict[str, tuple[MessageType, Any]]
    checks: list[tuple[Callable[..., Any], Any]]
    delivered: list[tuple[Callable[..., Any], Any]]
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


class PluginHost:
    """The plugin manager, the type registry and the bot registry of one server."""

    def __init__(self, handler_timeout: float = 2.0) -> None:
        self.pm = pluggy.PluginManager("roomchat")
        self.pm.add_hookspecs(hookspecs)
        self.types = TypeRegistry()
        self.bots: dict[str, type] = {}
        self.info: dict[str, PluginInfo] = {}
        self.settings_models: dict[str, type[BaseModel]] = {}
        self.handler_timeout = handler_timeout
        self._pipelines: dict[tuple[int, frozenset[str]], tuple[RoomConfig, RoomPipeline]] = {}
        self._global_settings: dict[str, dict[str, Any]] = {}
        self._plugin_rooms: dict[str, list[str]] = {}  # plugins.rooms: plugin -> the only rooms it runs in

    # -- registration -------------------------------------------------------

    def add(self, plugin: object, name: str, origin: str) -> None:
        """Register one plugin and read its types, bots and settings model.

        A problem in what the plugin registers (a type name taken, a bad
        MessageType, a registration hook that raises) stops start-up with a
        ConfigError naming the plugin and where it came from.
        """
        if self.pm.is_blocked(name):
            return
        existing = self.pm.get_plugin(name)
        if existing is plugin:
            return  # the same object twice (its entry point, then handed over by a test): once is enough
        if existing is None and self.pm.is_registered(plugin):
            other = self.pm.get_name(plugin) or "?"
            where = self.info[other].origin if other in self.info else "?"
            raise ConfigError(origin, [f"plugin {name!r} is already registered as {other!r} ({where}); use that name"])
        if existing is not None:
            raise ConfigError(origin, [
                (f"a plugin called {name!r} is already registered ({self.info[name].origin}); "
                 f"give this one another name, or add {name!r} to plugins.disable to drop the other")
            ])
        self.pm.register(plugin, name=name)
        info = PluginInfo(name, origin, module=_module_of(plugin),
                          hooks=sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
        self.info[name] = info
        try:
            self._read_registrations(plugin, info)
        except Exception as exc:
            self.pm.unregister(plugin)
            del self.info[name]
            for type_name in info.types:
                self.types.remove(type_name)
            for kind in info.bots:
                del self.bots[kind]
            self.settings_models.pop(name, None)
            raise ConfigError(f"plugin {name} ({origin})", [f"{type(exc).__name__}: {exc}"]) from exc
        self._pipelines.clear()

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
        """Call one plugin's own implementation of a hook (None if it has none)."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                return impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        return None

    def load(self, config: PluginsConfig, source: str) -> None:
        """Built-ins, then installed packages, then what the config file ``source`` names."""
        for name in config.disable:
            self.pm.set_blocked(name)
        for name, module in BUILTIN_PLUGINS.items():
            self.add(importlib.import_module(module), name, "built-in")
        self._load_entry_points()
        for spec in config.load:
            module, name = import_plugin(spec, source)
            self.add(module, name, f"config: {spec}")
        self._global_settings = config.settings
        self._plugin_rooms = config.rooms

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.is_blocked(ep.name) or self.pm.has_plugin(ep.name):
                continue
            dist = ep.dist
            origin = f"package {dist.name} {dist.version}" if dist else f"entry point {ep.value}"
            try:
                plugin = ep.load()
            except ImportError as exc:
                problem = f"cannot import {ep.value}: {_import_problem(exc, ep.module)}"
                raise ConfigError(f"plugin {ep.name} ({origin})",
                                  [f"{problem} (or add {ep.name!r} to plugins.disable)"]) from None
            self.add(plugin, ep.name, origin)

    # -- settings and per-room pipelines --------------------------------------

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

    def _settings_for(self, room: RoomConfig, plugin: str) -> Any:
        model = self.settings_models.get(plugin)
        merged = {**self._global_settings.get(plugin, {}), **room.plugins.settings.get(plugin, {})}
        return model.model_validate(merged) if model is not None else merged

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

    def _enabled(self, room: RoomConfig, plugin: str, name: str | None) -> bool:
        """Whether room ``name`` (config ``room``) runs ``plugin``: its own choice, and ``plugins.rooms``."""
        chosen = room.plugins.enabled
        if chosen == "all" and plugin in room.plugins.disabled:
            return False
        if chosen != "all" and plugin not in chosen:
            return False
        only = self._plugin_rooms.get(plugin)
        return only is None or name in only

    def _build_pipeline(self, room: RoomConfig, name: str | None) -> RoomPipeline:
        types = {
            t.name: (t, self._settings_for(room, t.plugin)) for t in self.types if self._enabled(room, t.plugin, name)
        }
        return RoomPipeline(
            types=types,
            checks=list(self._impls("roomchat_check_message", room, name)),
            delivered=list(self._impls("roomchat_message_delivered", room, name)),
            known_only=room.message_types == "known",
        )

    def _impls(self, hook_name: str, room: RoomConfig, name: str | None) -> Iterator[tuple[Callable[..., Any], Any]]:
        # pluggy calls the last registered first; keep its order.
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            if self._enabled(room, impl.plugin_name, name):
                yield impl.function, self._settings_for(room, impl.plugin_name)

    # -- calling server-wide hooks -------------------------------------------

    async def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a lifecycle hook on every plugin; await what they return; log and isolate failures."""
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            try:
                await run_within(self.handler_timeout, impl.function, **{arg: kwargs[arg] for arg in impl.argnames})
            except TimeoutError:
                event(log, "plugin_timeout", logging.ERROR, plugin=impl.plugin_name, hook=hook_name,
                      seconds=self.handler_timeout)
            except Exception:
                event(log, "plugin_failed", logging.ERROR, plugin=impl.plugin_name, hook=hook_name)
                log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)



def _module_of(plugin: object) -> str:
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    kind = plugin if isinstance(plugin, type) else type(plugin)
    return f"{kind.__module__}.{kind.__qualname__}"


def import_plugin(spec: str, source: str) -> tuple[ModuleType, str]:
    """Import a plugin named in config file ``source``: a dotted module, or a .py file beside it."""
    if spec.endswith(".py") or "/" in spec:
        path = (Path(source).parent / spec).resolve()
        name = path.stem
        module_name = f"roomchat_local_plugins.{name}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None or not path.is_file():
            raise ConfigError(source, [f"plugins.load: no plugin file at {path}"])
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except ImportError as exc:
            del sys.modules[module_name]
            raise ConfigError(source, [f"plugins.load: {spec}: {_import_problem(exc, module_name)}"]) from None
        return module, name
    try:
        module = importlib.import_module(spec)
    except ImportError as exc:
        raise ConfigError(source, [f"plugins.load: cannot import {spec!r}: {_import_problem(exc, spec)}"]) from None
    return module, spec.rsplit(".", 1)[-1]


def _import_problem(exc: ImportError, module: str) -> str:
    """What an import error met while importing plugin ``module`` means to the person who configured it."""
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    if not missing or module == missing or module.startswith(missing + "."):
        return str(exc)
    top = missing.split(".")[0]
    return f"it imports {missing!r}, which is not installed (install the package that provides {top!r})"
