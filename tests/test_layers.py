"""The package's import graph, computed from the source: no cycles, and every dependency points down the layers.

Every ``import`` statement counts, those under ``if TYPE_CHECKING:`` and
inside functions included: a typing-only cycle is still two modules that
cannot be understood (or moved) one without the other.

The layers (README, "Layout"), lowest first; a module may import modules of
its own layer and of the layers below it:

0. vocabulary: errors, users, clock, logs, names, protocol, config...
1. the plugin surface: ``roomchat`` itself (what a plugin imports), ``api``
   (the ``Chat`` and ``Store`` Protocols), message types, the message context,
   the hook specifications, where plugins come from;
2. state: presence, guest IDs, rate limits, the key-value store (in memory);
3. the core pipeline (``roomchat/core/``): the plugin host, admission, joins,
   dispatch, delivery;
4. adapters: the transport (python-socketio and python-engineio), the cluster
   (Redis), HTTP;
5. the composition root: the app, serving, the command line.

Beside them: the client side (the bot SDK) imports only the vocabulary; the
built-in plugins and bots (``roomchat_plugins``, ``roomchat_bots``) import only
the vocabulary, the plugin surface and the client side, as any third-party
plugin could; the test kit (``roomchat.testing``) sits on top of everything.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {"roomchat": ROOT / "roomchat", "roomchat_plugins": ROOT / "plugins", "roomchat_bots": ROOT / "bots"}

LAYERS: list[tuple[str, list[str]]] = [
    ("vocabulary", ["roomchat.errors", "roomchat.positions", "roomchat.users", "roomchat.clock", "roomchat.logs",
                    "roomchat.names", "roomchat.yamlfile", "roomchat.protocol", "roomchat.config",
                    "roomchat.requires", "roomchat.backlog", "roomchat.storage.config"]),
    ("surface", ["roomchat", "roomchat.api", "roomchat.messagetypes", "roomchat.context", "roomchat.hookspecs",
                 "roomchat.builtins", "roomchat.loading"]),
    ("state", ["roomchat.state", "roomchat.state.*", "roomchat.storage", "roomchat.storage.*"]),
    ("core", ["roomchat.core", "roomchat.core.*"]),
    ("adapters", ["roomchat.transport", "roomchat.transport.*", "roomchat.cluster", "roomchat.cluster.*",
                  "roomchat.http", "roomchat.webclient", "roomchat.watchdog"]),
    ("root", ["roomchat.app", "roomchat.bothost", "roomchat.serve", "roomchat.cli", "roomchat.advice",
              "roomchat.__main__", "roomchat.botcli", "roomchat.storagecli"]),
]
CLIENT = ["roomchat.bot", "roomchat.botrunner", "roomchat.client", "roomchat.client.*"]
TESTING = ["roomchat.testing", "roomchat.testing.*"]
PLUGINS = ["roomchat_plugins", "roomchat_plugins.*", "roomchat_bots", "roomchat_bots.*"]

# Imports that break the rules, each with why and what would remove it. The test fails for any import
# against the rules that is not listed here, and for a listed one that no longer exists.
KNOWN: set[tuple[str, str]] = set()


def module_name(package: str, root: Path, path: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for package, root in SOURCES.items():
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" not in path.parts:
                found[module_name(package, root, path)] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> Iterator[str]:
    """The package modules ``name`` imports, anywhere in its source (typing-only and local imports too)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from package import module`` imports the module; ``from module import name`` the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]  # ``import roomchat.state.base`` names a module; deeper: its package
            if target and target != name:
                yield target


GRAPH = {name: sorted(set(imports(name, path))) for name, path in MODULES.items()}


def matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def rank(name: str) -> int | None:
    for index, (_, patterns) in enumerate(LAYERS):
        if matches(name, patterns):
            return index
    return None


def allowed(source: str, target: str) -> bool:
    """Whether ``source`` may import ``target`` (see the module docstring)."""
    vocabulary_or_client = rank(target) == 0 or matches(target, CLIENT)
    if matches(source, TESTING):
        return True
    if matches(source, CLIENT):
        return vocabulary_or_client
    if matches(source, PLUGINS):
        return vocabulary_or_client or rank(target) == 1 or target.split(".")[0] == source.split(".")[0]
    if matches(target, TESTING) or matches(target, PLUGINS):
        return False
    if matches(target, CLIENT):
        return rank(source) == len(LAYERS) - 1  # the root runs bots
    source_rank, target_rank = rank(source), rank(target)
    return source_rank is not None and target_rank is not None and target_rank <= source_rank


def test_every_module_has_a_place() -> None:
    homeless = [name for name in MODULES
                if rank(name) is None and not matches(name, CLIENT + TESTING + PLUGINS)]
    assert not homeless, f"put these modules in a layer of tests/test_layers.py (LAYERS): {homeless}"


def test_the_layers_name_only_modules_that_exist() -> None:
    named = [name for _, patterns in LAYERS for name in patterns if "*" not in name]
    assert not [n for n in named if n not in MODULES]


def cycles() -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if (node, target) in KNOWN:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert cycles() == [], "import cycles (each line a set of modules that import each other)"


def violations() -> set[tuple[str, str]]:
    return {(source, target) for source, targets in GRAPH.items() for target in targets if not allowed(source, target)}


def test_every_import_points_down_the_layers() -> None:
    unexpected = sorted(violations() - KNOWN)
    assert not unexpected, "imports against the layers (tests/test_layers.py says which way they may point):\n" + \
        "\n".join(f"  {source} -> {target}" for source, target in unexpected)


def test_the_list_of_known_exceptions_is_current() -> None:
    edges = {(source, target) for source, targets in GRAPH.items() for target in targets}
    assert sorted(KNOWN - edges) == [], "these imports are gone: take them off KNOWN"


@pytest.mark.parametrize(("source", "target", "ok"), [
    ("roomchat.api", "roomchat.errors", True),
    ("roomchat.errors", "roomchat.api", False),
    ("roomchat.bot", "roomchat.clock", True),
    ("roomchat.bot", "roomchat.hookspecs", False),
    ("roomchat_plugins.poll", "roomchat", True),
    ("roomchat_plugins.poll", "roomchat.state.memory", False),
    ("roomchat_bots.echo", "roomchat.bot", True),
    ("roomchat.testing.servers", "roomchat.cli", True),
])
def test_the_rules(source: str, target: str, ok: bool) -> None:
    assert allowed(source, target) is ok
