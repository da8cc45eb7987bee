"""Banned words and patterns, compiled to whole-word regular expressions over normalised text.

A word is normalised like the text it is matched against (``normalize.py``),
then each letter becomes a class that also accepts its look-alike (``i`` and
``l`` stand in for each other, since ``1`` can be either) repeated any number
of times: ``bad`` matches ``BAAAD``, ``b4d``, ``b.a.d`` and ``вad``, but not
``badge`` or ``abad`` (whole words only, so Scunthorpe is safe).

- A ``*`` at the start or end of a word allows any letters there:
  ``fuck*`` also matches ``fucking``.
- A space inside a word allows any separators there (``shut up``).
- A pattern is a regular expression matched, as a whole word, against the
  normalised text (lower case, no accents, look-alikes and leetspeak mapped,
  separators inside words removed). Write ``+`` for repeats: ``fu+ck``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby

from .normalize import View, normalize, views

WORD_START = r"(?<![^\W_])"
WORD_END = r"(?![^\W_])"
CONFUSABLE: dict[str, str] = {"i": "il", "l": "li"}


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
    return re.escape(char)


def word_regex(word: str) -> str:
    """The regular expression (without the whole-word guards) of one banned word."""
    text = word.strip()
    prefix = suffix = ""
    if text.startswith("*"):
        text, prefix = text.lstrip("*"), r"[^\W_]*"
    if text.endswith("*"):
        text, suffix = text.rstrip("*"), r"[^\W_]*"
    folded = normalize(text)
    if not any(c.isalnum() for c in folded):
        raise ValueError(f"banned word {word!r} has no letters or digits; write the word itself")
    parts = []
    # Letters that stand in for each other form one run ("ill" is [il]{3,}, not [il]+[li]{2,}),
    # which matches the same texts without backtracking quadratically on "kiiii...".
    for letter, group in groupby(folded, key=_letter):
        run = list(group)
        if run[0].isspace():
            parts.append(r"[\W_]*")
        elif not run[0].isalnum():
            parts.append(letter + "+")
        else:
            parts.append(letter + ("+" if len(run) == 1 else f"{{{len(run)},}}"))
    return prefix + "".join(parts) + suffix


def pattern_regex(pattern: str) -> str:
    """Check an admin's regular expression; raise ValueError with what is wrong."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
    if compiled.match(""):
        raise ValueError(f"pattern {pattern!r} matches the empty text; it would flag every message")
    return pattern


class WordList:
    """A compiled list of banned words and patterns; ``find(text)`` returns every hit."""

    def __init__(self, words: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self.terms: list[str] = []
        alternatives: list[str] = []
        for index, word in enumerate(words):
            alternatives.append(f"(?P<w{index}>{word_regex(word)})")
            self.terms.append(word)
        for pattern in patterns:
            index = len(self.terms)
            alternatives.append(f"(?P<w{index}>{pattern_regex(pattern)})")
            self.terms.append(pattern)
        self.regex = (
            re.compile(WORD_START + "(?:" + "|".join(alternatives) + ")" + WORD_END, re.IGNORECASE)
            if alternatives else None
        )

    def __bool__(self) -> bool:
        return self.regex is not None

    def find(self, text: str) -> list[Hit]:
        """Every banned word in ``text``, in order, overlapping spans merged (each view is searched)."""
        if self.regex is None or not text:
            return []
        hits: list[Hit] = []
        for view in views(text):
            hits.extend(self._find_in(view))
        return _merge(hits)

    def _find_in(self, view: View) -> Iterable[Hit]:
        assert self.regex is not None
        for match in self.regex.finditer(view.text):
            if match.end() == match.start():
                continue
            name = match.lastgroup or "w0"
            term = self.terms[int(name[1:])] if name.startswith("w") else match.group()
            start, end = view.span(*match.span())
            yield Hit(term, match.group(), start, end)


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
