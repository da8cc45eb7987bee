"""Text normalisation for word matching: case, accents, look-alikes, leetspeak, separators.

A message is turned into one or more *views*: canonical strings in which
every character remembers the span of the original text it came from, so a
match found in a view can be redacted in the original. Banned words are
matched as whole words in every view (see ``wordlist.py``).

- ``plain``: case folded, accents stripped, look-alike letters (Cyrillic,
  Greek, Cherokee, small capitals, IPA...) and full-width or stylised letters
  turned into Latin ones, invisible characters dropped, and leetspeak mapped
  inside words (``h3ll0`` -> ``hello``, ``@ss`` -> ``ass``; a number on its
  own stays a number).
- ``joined``: the plain view with separators removed where they split a word
  (``s.h.i.t``, ``b-a-d``, ``f_u_c_k``) and with runs of three or more single
  letters spaced apart joined (``b a d`` -> ``bad``).

Repeated letters (``baaaad``) are left in the views; the compiled word
patterns accept any repetition of each letter instead.

Look-alikes come from ICU (PyICU-wheels, as in roomchat/names.py): a letter
of a script people borrow Latin look-alikes from is taken to its Unicode
TR39 confusable skeleton and then through ICU's ``Latin-ASCII``
transliteration (``ꜱʜɪᴛ`` -> ``shit``, Cherokee ``Ꭺ`` -> ``a``, ``ʙ`` -> ``b``).
The small ``HOMOGLYPHS`` table is kept only where the skeleton's prototype is
not the Latin letter a reader sees (``п`` looks like ``n``, TR39 says ``π``;
``к`` is ``k``, Latin-ASCII makes its prototype ``ĸ`` a ``q``). A character is
folded once and cached, so the cost stays linear in the text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import icu

# Look-alikes where ICU's skeleton (TR39) is not the Latin letter a reader sees, by character or by the
# skeleton's prototype; every other look-alike comes from ICU (``_icu_latin``).
HOMOGLYPHS: dict[str, str] = {
    # Cyrillic: TR39 takes these to Latin-like letters that are not ASCII (п -> π, м -> ʍ, ь -> ƅ)
    "к": "k", "ӏ": "l", "м": "m", "п": "n", "ь": "b", "з": "3",
    # Greek
    "β": "b", "δ": "d", "ε": "e", "κ": "k", "χ": "x", "ω": "w", "μ": "u", "ς": "s", "ζ": "z", "π": "n",
    # skeleton prototypes that Latin-ASCII would not take to the letter they look like (ĸ would become q)
    "ĸ": "k", "ƅ": "b", "ɜ": "3", "ʍ": "m", "ẟ": "d", "ꞓ": "e", "σ": "o",
}
# Scripts whose letters are borrowed as Latin look-alikes. Others (Hebrew, Arabic, the Indic scripts...)
# keep their letters: folding a sentence of them into Latin would only make false matches.
LOOKALIKE_SCRIPTS = frozenset({"Latn", "Grek", "Cyrl", "Armn", "Cher", "Cans", "Copt", "Lisu", "Zyyy"})
_SPOOF = icu.SpoofChecker()
_LATIN_ASCII = icu.Transliterator.createInstance("Latin-ASCII")

# Leetspeak: digits and symbols standing for letters, mapped only inside a word.
LEET: dict[str, str] = {
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
    "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l",
}
# Symbols that end a sentence or a clause more often than they stand for a letter:
# at the end of a word they stay punctuation ("bad!" is "bad", not "badi").
TRAILING_PUNCTUATION = frozenset("!|+")

# Characters that people put between letters to dodge a filter.
_ANY_LEET = re.compile("[" + re.escape("".join(LEET)) + "]")
_WORDS = re.compile(r"[^\W_]+")
_CHUNK = re.compile(r"\S+")

# Not the apostrophe: "he'll" must not become "hell".
SEPARATORS = frozenset(".-_*~/\\^=#")
INVISIBLE = frozenset("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
                      "\u2060\u2061\u2062\u2063\u2064\ufeff")


@dataclass(frozen=True, slots=True)
class View:
    """A canonical form of a text; ``origin[i]`` is the index in the original of ``text[i]``."""

    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span ``[a, b)`` of the view's ``text[start:end]``."""
        return self.origin[start], self.origin[end - 1] + 1


@functools.lru_cache(maxsize=4096)
def fold_char(char: str) -> str:
    """One character with case, accents and look-alikes taken away ("" for invisible ones)."""
    if char in INVISIBLE:
        return ""
    out = []
    for part in unicodedata.normalize("NFKD", char):
        if unicodedata.combining(part):
            continue
        for low in part.casefold():
            out.append(_latin(low))
    return "".join(out)


def _latin(char: str) -> str:
    """The Latin letter(s) that ``char`` (case folded, no accents) looks like, or ``char`` itself."""
    if char.isascii() or char in LEET:  # € and £ stay themselves: leetspeak reads them inside words
        return char
    if char in HOMOGLYPHS:
        return HOMOGLYPHS[char]
    if not unicodedata.category(char).startswith("L") or icu.Script.getScript(char).getShortName() \
            not in LOOKALIKE_SCRIPTS:
        return char
    return _icu_latin(char)


def _icu_latin(char: str) -> str:
    """ICU's reading of a letter: its TR39 skeleton, then Latin-ASCII; ``char`` unless that gives ASCII letters."""
    skeleton = "".join(HOMOGLYPHS.get(c, c) for c in _SPOOF.getSkeleton(0, char))
    latin = unicodedata.normalize("NFKD", _LATIN_ASCII.transliterate(skeleton))
    folded = "".join(c for c in latin if not unicodedata.combining(c)).casefold()
    return folded if folded.isascii() and folded.isalnum() else char


def is_word_char(char: str) -> bool:
    """A letter or a digit (the underscore is a separator here, not a word character)."""
    return char.isalnum()


def _is_wordish(char: str) -> bool:
    return char.isalnum() or char in LEET


@functools.lru_cache(maxsize=64)
def fold(text: str) -> View:
    """Case, accents, look-alikes and invisible characters, without leetspeak (cached: rules share it)."""
    if text.isascii():
        return View(text.lower(), tuple(range(len(text))))  # the common case, at C speed
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = char.lower() if char.isascii() else fold_char(char)
        chars.append(folded)
        origin.extend([index] * len(folded))
    return View("".join(chars), tuple(origin))


def _is_word(core: str) -> bool:
    """A letter in it, or an ``@`` and no digit (``@$$``); not a number, a price or a smiley."""
    if any(c.isalpha() for c in core):
        return True
    return "@" in core and not any(c.isdigit() for c in core)


def _deleet(view: View) -> View:
    """Map leetspeak inside words: a run of letters, digits and leet symbols with a letter in it.

    Chunk by chunk (runs of non-space), each scanned once: a pattern like
    ``\\S*[leet]\\S*`` would rescan a long chunk from every position in it.
    """
    text = view.text
    if not _ANY_LEET.search(text):
        return view
    chars = list(text)
    for match in _CHUNK.finditer(text):
        start, end = match.span()
        if not _ANY_LEET.search(text, start, end):
            continue
        run = text[start:end]
        # only the word-ish core of the chunk: punctuation around it stays punctuation
        lo, hi = 0, len(run)
        while lo < hi and not _is_wordish(run[lo]):
            lo += 1
        while hi > lo and (not _is_wordish(run[hi - 1]) or run[hi - 1] in TRAILING_PUNCTUATION):
            hi -= 1
        core = run[lo:hi]
        if not _is_word(core):
            continue
        for offset, char in enumerate(core):
            if char in LEET:
                chars[start + lo + offset] = LEET[char]
    return View("".join(chars), view.origin)


def _drop(view: View, keep: list[bool]) -> View:
    if all(keep):
        return view
    return View(
        "".join(c for c, k in zip(view.text, keep) if k),
        tuple(o for o, k in zip(view.origin, keep) if k),
    )


def _join(view: View) -> View:
    """Remove separators that split a word, and join spaced-out single letters."""
    text = view.text
    keep = [True] * len(text)
    # separators between two word characters: s.h.i.t, b-a-d, f_u_c_k, sh**t
    for match in re.finditer(r"(?<=[^\W_])[^\w\s]+(?=[^\W_])|(?<=[^\W_])_+(?=[^\W_])", text):
        if all(c in SEPARATORS or c == "_" for c in match.group()):
            for i in range(*match.span()):
                keep[i] = False
    # three or more single letters spaced apart: "b a d", "b . a . d"
    for match in re.finditer(r"(?<![^\W_])[^\W_](?![^\W_])(?:[\s.\-_*~]+[^\W_](?![^\W_])){2,}", text):
        for i in range(*match.span()):
            if not is_word_char(text[i]):
                keep[i] = False
    return _drop(view, keep)


@functools.lru_cache(maxsize=64)
def _views(text: str) -> tuple[View, View]:
    plain = _deleet(fold(text))
    return plain, _join(plain)


def views(text: str) -> list[View]:
    """Every view of ``text`` that banned words are matched against (distinct ones only).

    Cached for the last few texts: every word list, the repeat rule and the
    links rule of one message share the work.
    """
    plain, joined = _views(text)
    return [plain] if joined.text == plain.text else [plain, joined]


def normalize(text: str) -> str:
    """The plain view's text: what a banned word or a repeated message is compared as."""
    return _views(text)[0].text


def compact(text: str) -> str:
    """Only the words of the joined view, one space apart: for comparing messages ("same text again")."""
    return " ".join(_WORDS.findall(_views(text)[1].text))
