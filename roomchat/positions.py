"""Where each key of a YAML file was written, so that a configuration error can name its line.

``roomchat.yamlfile`` records, for every file it reads, the line of each key
path (``rooms.lobby.max_users`` -> 42). ``ConfigError`` looks each of its
problems up there when it is raised about that file and prints
``config/roomchat.yaml:42: rooms.lobby.max_users: ...``.

The record is kept per file name (the last ``KEPT`` files read) rather than
handed along with the data, because problems are found later and elsewhere:
pydantic's validation, plugin and bot settings checked at start-up, question
banks. That code knows the key path and the file's name, not the YAML. A
problem names its key path at the start of its text (``key.path: what was
expected``, the form every config problem has), or as a ``Problem``'s
``key`` when its text says it otherwise (a question bank's ``question 4
(questions.3), key 'answer'``). A key path that is not in the file (a
missing key) is placed at its nearest ancestor that is.

Nothing here imports the rest of roomchat: ``errors`` and ``yamlfile`` both
build on it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Self

KEPT = 64
"""How many files' key lines are remembered (a config, its banks and a settings file are a handful)."""

KeyPath = Sequence[str | int]


class Problem(str):
    """A problem's text that carries where it is: a key path, or a line and column of its own.

    It is a ``str``, so code that lists, joins or compares problems keeps
    working; only ``ConfigError`` reads ``key``, ``line`` and ``column``.
    """

    key: tuple[str | int, ...] | None
    line: int | None
    column: int | None

    def __new__(cls, text: str, key: KeyPath | None = None, line: int | None = None,
                column: int | None = None) -> Self:
        """``text`` about the key at ``key``, or at ``line`` (1-based) and ``column`` of the file."""
        problem = super().__new__(cls, text)
        problem.key = tuple(key) if key is not None else None
        problem.line = line
        problem.column = column
        return problem


class KeyLines:
    """The 1-based line of every key path of one YAML document (dotted: ``rooms.lobby.max_users``)."""

    def __init__(self, lines: dict[str, int], root: int = 1) -> None:
        self.lines = lines
        self.root = root

    def line_of_key(self, key: KeyPath) -> int:
        """The line of ``key``, or of its nearest ancestor in the document (the root's for none)."""
        parts = [str(part) for part in key]
        while parts:
            line = self.lines.get(".".join(parts))
            if line is not None:
                return line
            parts.pop()
        return self.root

    def line_of_text(self, problem: str) -> int | None:
        """The line of the key path ``problem`` starts with (``key.path: ...``), None if it names no key.

        The path ends at the first ``": "``; the longest prefix of it, cut at
        a dot, that is a key of the document wins, so a key with a dot in its
        name is still found. ``(top level)`` is the document itself.
        """
        head = problem.split(": ", 1)[0]
        if head == "(top level)":
            return self.root
        while head:
            line = self.lines.get(head)
            if line is not None:
                return line
            cut = head.rfind(".")
            if cut < 0:
                return None
            head = head[:cut]
        return None


_FILES: OrderedDict[str, KeyLines] = OrderedDict()


def _file_key(source: str) -> str:
    return os.path.abspath(source)


def remember(source: str, lines: KeyLines) -> None:
    """Record the key lines of the YAML just read from ``source`` (replacing an earlier reading)."""
    key = _file_key(source)
    _FILES[key] = lines
    _FILES.move_to_end(key)
    while len(_FILES) > KEPT:
        _FILES.popitem(last=False)


def key_lines(source: str) -> KeyLines | None:
    """The key lines recorded for ``source`` (None if it was not read, or has been forgotten)."""
    return _FILES.get(_file_key(source))


def forget(source: str) -> None:
    """Drop what is known of ``source`` (its text was not read as a file, or is gone)."""
    _FILES.pop(_file_key(source), None)


def place_of(source: str, problem: str) -> str:
    """``source:line`` (``source:line:column`` when the column is known) of ``problem``, or ``source`` alone."""
    line = getattr(problem, "line", None)
    column = getattr(problem, "column", None)
    if line is None:
        lines = _FILES.get(_file_key(source))
        if lines is None:
            return source
        key = getattr(problem, "key", None)
        line = lines.line_of_key(key) if key is not None else lines.line_of_text(problem)
        if line is None:
            return source
    return f"{source}:{line}" + (f":{column}" if column is not None else "")
