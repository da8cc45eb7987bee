"""Where plugins come from: the built-ins, installed packages' entry points, and the config's ``plugins.load``.

Only finding and importing: registering them is the plugin host's
(roomchat/plugins.py), and ``roomchat bot run`` looks for bot kinds in the
same places. A spec is ``module`` or ``module:attribute`` (an object or a
class in the module); a config may also name a ``.py`` file beside it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from .builtins import BUILTIN_PLUGINS
from .errors import ConfigError

ENTRY_POINT_GROUP = "roomchat"


def import_object(spec: str) -> object:
    """The object ``module`` or ``module:attribute`` names (a plugin module, object or class)."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def builtin_plugins() -> Iterator[tuple[str, object]]:
    """``(name, plugin)`` for each built-in (``roomchat/builtins.py``), imported."""
    for name, spec in BUILTIN_PLUGINS.items():
        yield name, import_object(spec)


def entry_point_plugins(skip: set[str]) -> Iterator[tuple[str, object, str]]:
    """``(name, plugin, origin)`` for each installed package's ``roomchat`` entry point not named in ``skip``.

    One that cannot be imported is a ConfigError naming the package, the
    missing module and the remedy (``plugins.disable``).
    """
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in skip:
            continue
        dist = ep.dist
        origin = f"package {dist.name} {dist.version}" if dist else f"entry point {ep.value}"
        try:
            plugin = ep.load()
        except ImportError as exc:
            problem = f"cannot import {ep.value}: {import_problem(exc, ep.module)}"
            raise ConfigError(f"plugin {ep.name} ({origin})",
                              [f"{problem} (or add {ep.name!r} to plugins.disable)"]) from None
        yield ep.name, plugin, origin


def import_plugin(spec: str, source: str) -> tuple[object, str]:
    """Import a plugin named in config file ``source``: a dotted module, or a .py file beside it.

    Either may end in ``:attribute``, an object or class in it (``visits.py:Visits``). The
    plugin's name is the module's last part, or the file's name without ``.py``.
    """
    where, _, attribute = spec.rpartition(":")
    if where and attribute.isidentifier():
        module, name = import_plugin(where, source)
        found = getattr(module, attribute, None)
        if found is None:
            raise ConfigError(source, [f"plugins.load: {spec}: {where} has no {attribute!r}"])
        return found, name
    return _import_module(spec, source)


def _import_module(spec: str, source: str) -> tuple[ModuleType, str]:
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
            raise ConfigError(source, [f"plugins.load: {spec}: {import_problem(exc, module_name)}"]) from None
        return module, name
    try:
        module = importlib.import_module(spec)
    except ImportError as exc:
        raise ConfigError(source, [f"plugins.load: cannot import {spec!r}: {import_problem(exc, spec)}"]) from None
    return module, spec.rsplit(".", 1)[-1]


def import_problem(exc: ImportError, module: str) -> str:
    """What an import error met while importing plugin ``module`` means to the person who configured it."""
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    if not missing or module == missing or module.startswith(missing + "."):
        return str(exc)
    top = missing.split(".")[0]
    return f"it imports {missing!r}, which is not installed (install the package that provides {top!r})"
