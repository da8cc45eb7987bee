"""Banned words and patterns, compiled to one RE2 expression per list, matched as whole words over normalised text.

A word is normalised like the text it is matched against (``normalize.py``),
then each letter becomes a class that also accepts its look-alike (``i`` and
``l`` stand in for each other, since ``1`` can be either) repeated any number
of times: ``bad`` matches ``BAAAD``, ``b4d``, ``b.a.d`` and ``вad``, but not
``badge`` or ``abad`` (whole words only, so Scunthorpe is safe).

- A ``*`` at the start or end of a word allows any letters there:
  ``fuck*`` also matches ``fucking``.
- A space inside a word allows any separators there (``shut up``).
- A pattern is a regular expression in RE2 syntax matched, as a whole word,
  against the normalised text (lower case, no accents, look-alikes and
  leetspeak mapped, separators inside words removed). Write ``+`` for repeats:
  ``fu+ck``.

Why RE2 (the ``google-re2`` package) and not Python's ``re``: word lists and
patterns come from whoever configures a room, teachers included, and the
text from any student. ``re`` backtracks: ``(a+)+$`` takes time exponential
in the text, and even the words' own ``[^\\W_]*f+u+c+k+`` is quadratic on a
long run of ``f``. RE2 runs an automaton, in time linear in the text for any
pattern it accepts, and refuses at compile time what it cannot run that way
(lookarounds, backreferences, atomic groups, possessive repeats), which
becomes a config error naming the pattern. Its memory per expression is
bounded (RE2's ``max_mem``): a pattern too large to compile is refused too.

Whole words without lookarounds: the expression is
``(?:^|NOT_WORD)(?:term|term...)(?:NOT_WORD|$)`` over the UTF-8 text, and the
next search starts at the character that ended the previous match, so two
banned words one space apart are both found. Each search is linear; a list
collects at most ``MAX_HITS`` hits per text, so a pathological pattern that
makes every search scan to the end of the text still costs
``MAX_HITS`` x linear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby

import re2

from .normalize import View, normalize, views

WORD = r"[\pL\pN]"
NOT_WORD = r"[^\pL\pN]"
CONFUSABLE: dict[str, str] = {"i": "il", "l": "li"}
MAX_HITS = 64
"""Hits collected per list, per view of a text: a message with more is refused, whatever the list's action."""


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # a bad pattern is reported as a config error, not on stderr
    return options


OPTIONS = _options()


@dataclass(frozen=True, slots=True)
class Hit:
    """One banned word found: what matched (normalised), the term it matched, and the original span."""

    term: str
    matched: str
    start: int
    end: int


def _letter(char: str) -> str:
    """The regular expression of one letter: itself, or the class of the letters it may stand for."""
    if char.isspace():
        return " "
    alternatives = CONFUSABLE.get(char)
    if alternatives:
        return "[" + "".join(sorted(alternatives)) + "]"
    return re.escape(char)  # RE2 reads Python's escapes: a backslash before ASCII punctuation


def word_regex(word: str) -> str:
    """The RE2 expression (without the whole-word guards) of one banned word."""
    text = word.strip()
    prefix = suffix = ""
    if text.startswith("*"):
        text, prefix = text.lstrip("*"), WORD + "*"
    if text.endswith("*"):
        text, suffix = text.rstrip("*"), WORD + "*"
    folded = normalize(text)
    if not any(c.isalnum() for c in folded):
        raise ValueError(f"banned word {word!r} has no letters or digits; write the word itself")
    parts = []
    # Letters that stand in for each other form one run ("ill" is [il]{3,}, not [il]+[li]{2,}).
    for letter, group in groupby(folded, key=_letter):
        run = list(group)
        if run[0].isspace():
            parts.append(NOT_WORD + "*")
        elif not run[0].isalnum():
            parts.append(letter + "+")
        else:
            parts.append(letter + ("+" if len(run) == 1 else f"{{{len(run)},}}"))
    return prefix + "".join(parts) + suffix


def _compile(expression: str) -> re2._Regexp:
    try:
        return re2.compile(expression, OPTIONS)
    except re2.error as exc:
        raise ValueError(_reason(exc)) from None


def _reason(exc: re2.error) -> str:
    detail = exc.args[0] if exc.args else ""
    return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)


def pattern_regex(pattern: str) -> str:
    """Check a pattern: RE2 compiles it, and it does not match the empty text; else ValueError saying what is wrong."""
    try:
        compiled = _compile(f"(?:{pattern})")
    except ValueError as exc:
        raise ValueError(
            f"pattern {pattern!r} cannot be used: {exc}. Patterns are RE2 regular expressions, matched in time "
            "linear in the text: no lookarounds, backreferences, atomic groups or possessive repeats"
        ) from None
    if compiled.match(""):
        raise ValueError(f"pattern {pattern!r} matches the empty text; it would flag every message")
    return pattern


class WordList:
    """A compiled list of banned words and patterns; ``find(text)`` returns every hit (at most ``MAX_HITS``)."""

    def __init__(self, words: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self.terms: list[str] = []
        self.groups: list[int] = []  # the capture group of each term (patterns may have groups of their own)
        alternatives: list[str] = []
        group = 1
        for word in words:
            alternatives.append(f"({word_regex(word)})")
            self.terms.append(word)
            self.groups.append(group)
            group += 1
        for pattern in patterns:
            own = _compile(f"(?:{pattern_regex(pattern)})").groups
            alternatives.append(f"({pattern})")
            self.terms.append(pattern)
            self.groups.append(group)
            group += 1 + own
        self.regex = None
        if alternatives:
            expression = f"(?:^|{NOT_WORD})(?:{'|'.join(alternatives)})(?:{NOT_WORD}|$)"
            try:
                self.regex = _compile(expression)
            except ValueError as exc:
                raise ValueError(f"the list's words and patterns cannot be compiled together: {exc}") from None

    def __bool__(self) -> bool:
        return self.regex is not None

    def find(self, text: str) -> list[Hit]:
        """Every banned word in ``text``, in order, overlapping spans merged (each view is searched)."""
        return self.search(text)[0]

    def search(self, text: str) -> tuple[list[Hit], bool]:
        """The hits of ``find``, and False when a view had ``MAX_HITS`` of them (there may be more)."""
        if self.regex is None or not text:
            return [], True
        hits: list[Hit] = []
        complete = True
        for view in views(text):
            found = list(self._find_in(view))
            complete = complete and len(found) < MAX_HITS
            hits.extend(found)
        return _merge(hits), complete

    def _find_in(self, view: View) -> Iterator[Hit]:
        assert self.regex is not None
        data = view.text.encode()
        chars = _CharIndex(view.text, data)
        position = 0
        for _ in range(MAX_HITS):
            match = self.regex.search(data, position)
            if match is None:
                return
            term = self._term(match)
            start, end = match.span(self.groups[term])
            position = end  # the character after the word is the next match's leading boundary
            first, last = chars.at(start), chars.at(end)
            yield Hit(self.terms[term], view.text[first:last], *view.span(first, last))

    def _term(self, match: re2._Match) -> int:
        for index, group in enumerate(self.groups):
            if match.start(group) >= 0:
                return index
        raise AssertionError("a match without a term")  # unreachable: every alternative is a term's group


class _CharIndex:
    """Byte offsets of a UTF-8 text to character offsets, for offsets asked in increasing order (linear overall)."""

    def __init__(self, text: str, data: bytes) -> None:
        self.identity = len(data) == len(text)
        self.data = data
        self.byte = 0
        self.char = 0

    def at(self, offset: int) -> int:
        if self.identity:
            return offset
        if offset < self.byte:  # not expected: start again from the beginning
            self.byte = self.char = 0
        self.char += len(self.data[self.byte:offset].decode())
        self.byte = offset
        return self.char


def _merge(hits: list[Hit]) -> list[Hit]:
    merged: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if merged and hit.start < merged[-1].end:
            last = merged[-1]
            if hit.end > last.end:
                merged[-1] = Hit(last.term, last.matched, last.start, hit.end)
            continue
        merged.append(hit)
    return merged


def redact(text: str, hits: Iterable[Hit], mask: str = "*") -> str:
    """``text`` with every hit replaced by ``mask`` repeated to the hit's length."""
    out = []
    position = 0
    for hit in sorted(hits, key=lambda h: h.start):
        if hit.start < position:
            continue
        out.append(text[position:hit.start])
        out.append(mask * (hit.end - hit.start) if len(mask) == 1 else mask)
        position = hit.end
    out.append(text[position:])
    return "".join(out)
