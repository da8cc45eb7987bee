"""Reading YAML the way people mean it.

PyYAML follows YAML 1.1, where ``yes``, ``no``, ``on`` and ``off`` are
booleans: a quiz answer "no" or a country code "NO" would silently become
``False``. roomchat reads YAML with YAML 1.2's rule instead: only ``true`` and
``false`` (any case) are booleans; everything else stays a string. pydantic
still accepts ``"yes"`` for a field that really is a boolean.

Every file read also records the line of each of its key paths
(``roomchat.positions``), so that a ``ConfigError`` about it prints
``file:line: key.path: ...``. The lines come from PyYAML's own composer: the
node tree keeps each key's start mark, and the same loader then builds the
data from that tree, so reading a file is still one parse.

Why PyYAML's composer and not ruamel.yaml (its round-trip loader keeps
positions too, as ``CommentedMap.lc``): roomchat already depends on PyYAML,
whose nodes give the positions cleanly; ruamel.yaml would be a second YAML
library for the same files, and its round-trip loader (the one that keeps
positions) is pure Python and twice as slow as this: 9.0 ms against 4.4 ms for
config/roomchat.yaml, 303 ms against 159 ms for a 500-question bank (ruamel.yaml
0.19.1, PyYAML 6.0.4, Python 3.11; recording the lines costs 4 to 8% over
PyYAML's plain load). What ruamel.yaml would bring besides, YAML 1.2 as a
whole, matters here only for booleans, which the resolver below reads as 1.2 does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .positions import KeyLines, Problem, forget, remember


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str, source: str, under: str = "") -> Any:
    """Parse YAML text, remembering each key's line for ``source``'s errors; bad YAML is a ConfigError at its line.

    ``under`` is the key path the document stands for in error messages (a
    bot's settings file is ``settings``: its key ``prefix`` is ``settings.prefix``).
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
        lines = KeyLines({}) if root is None else KeyLines(_key_lines(loader, root, under), root.start_mark.line + 1)
    except yaml.YAMLError as exc:
        forget(source)
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        at = {"line": mark.line + 1, "column": mark.column + 1} if mark else {}
        raise ConfigError(source, [Problem(f"not valid YAML: {problem}", **at)]) from None
    finally:
        loader.dispose()
    remember(source, lines)
    return data


def _key_lines(loader: _Loader, root: yaml.Node, under: str) -> dict[str, int]:
    """The 1-based line of every key path below ``root``: a mapping's keys, a sequence's items (``users.0``).

    The walk goes in the order of the text. A node reached again through an
    alias is not walked again (the keys inside it are placed at the alias's
    key, their nearest ancestor): the walk stays linear in the text, however
    many times an alias repeats it. PyYAML's composer keeps no position of
    an alias itself, so a sequence item that is an alias is placed at its
    anchor. Merge keys (``<<: *base``) were already flattened into the
    mapping by the constructor, and a key written in the mapping itself wins
    over a merged one, as in the data.
    """
    lines: dict[str, int] = {}
    if under:
        lines[under] = root.start_mark.line + 1
    seen: set[int] = set()
    stack: list[tuple[str, yaml.Node]] = [(under, root)]
    while stack:
        path, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            children = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    children[str(loader.construct_object(key_node))] = (key_node, value_node)
        elif isinstance(node, yaml.SequenceNode):
            children = {str(index): (item, item) for index, item in enumerate(node.value)}
        else:
            continue
        for key, (where, value_node) in reversed(children.items()):  # reversed: popped in the text's order
            child = f"{path}.{key}" if path else key
            lines[child] = where.start_mark.line + 1
            stack.append((child, value_node))
    return lines


def read_yaml(path: str | Path, under: str = "") -> Any:
    """Read and parse a YAML file (see ``parse_yaml``); a missing or unreadable file is a ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror or exc}"]) from None
    return parse_yaml(text, str(path), under)
