"""Matching a student's answer against the accepted ones, the way a teacher would mark it.

Everything is compared after ``normalize``: case, accents, punctuation and
extra spaces do not matter. Free answers also forgive small typos, scaled
with the answer's length (``allowed_typos``); short answers and answers with
digits must match exactly, because one letter or digit changes their meaning.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import OSA

# Letters that Unicode does not decompose into a base letter plus accents.
_FOLD = str.maketrans({
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
    "’": "'", "‘": "'",
})
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower case, no accents, punctuation turned to spaces, runs of spaces collapsed.

    >>> normalize("  Élan,  VITAL! ")
    'elan vital'
    """
    text = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Mn":  # a combining accent
            continue
        kept.append(" " if category[0] in "PZC" else char)
    return _SPACES.sub(" ", "".join(kept)).strip()


def allowed_typos(length: int) -> int:
    """How many edits an answer of ``length`` characters may be off by.

    Up to 4 characters: none ("cat" is not "car"); 5 to 8: one; 9 to 14: two;
    longer: three.
    """
    if length <= 4:
        return 0
    if length <= 8:
        return 1
    if length <= 14:
        return 2
    return 3


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) turning ``a`` into ``b``.

    The optimal string alignment distance, computed by rapidfuzz (C++, a bit-parallel
    algorithm: linear in the text for answers up to 64 characters, and fast beyond).
    With ``limit``, returns ``limit + 1`` once the distance must exceed it.

    rapidfuzz replaced a hand-written dynamic programme here: the same distance
    (tests/bots/test_quiz_logic.py checks them equal on random text), and a
    thousand times faster: 0.2 us against 177 us for a 30-character answer, and
    6 us against 810 ms for a 2,000-character answer one typo off the accepted one,
    which the old code computed in full on the bot's event loop.
    """
    return OSA.distance(a, b, score_cutoff=limit)


def close_enough(given: str, accepted: str, fuzzy: bool = True) -> bool:
    """Whether normalised ``given`` counts as normalised ``accepted``.

    Spaces are not worth a typo: "ice cream" matches "icecream". Answers with
    digits must match exactly (1945 is not 1946).
    """
    if given == accepted or given.replace(" ", "") == accepted.replace(" ", ""):
        return True
    if not fuzzy or any(c.isdigit() for c in accepted):
        return False
    budget = allowed_typos(len(accepted.replace(" ", "")))
    return budget > 0 and edit_distance(given, accepted, budget) <= budget


def match_free(given: str, accepted: list[str], fuzzy: bool = True) -> bool:
    """Whether a free answer matches any of the accepted answers.

    An accepted answer that is a yes/no word (``no``, ``yes``, ``false``...)
    also takes its synonyms in other languages: "nein" answers "no".
    """
    text = normalize(given)
    if not text:
        return False
    for answer in accepted:
        wanted = normalize(answer)
        if close_enough(text, wanted, fuzzy):
            return True
        if wanted.isalpha() and parse_truth(wanted) is not None and parse_truth(text) == parse_truth(wanted):
            return True
    return False


def option_key(index: int) -> str:
    """The letter of option ``index`` (0 -> "A")."""
    return chr(ord("A") + index)


def match_choice(given: str, options: list[str]) -> int | None:
    """The index of the option a student meant, or None if the answer names none.

    Tried in order: the exact text of an option; its letter (``b``, ``(B)``,
    ``option b``) or number (``2``); then an option's text with small typos.
    """
    text = normalize(given)
    if not text:
        return None
    normalized = [normalize(o) for o in options]
    for index, option in enumerate(normalized):
        if text == option:
            return index
    token = text.removeprefix("option ").removeprefix("answer ").strip()
    if len(token) == 1 and "a" <= token <= "z" and ord(token) - ord("a") < len(options):
        return ord(token) - ord("a")
    if token.isdigit() and 1 <= int(token) <= len(options):
        return int(token) - 1
    close = [i for i, option in enumerate(normalized) if close_enough(text, option)]
    return close[0] if len(close) == 1 else None


_TRUE = {
    "true", "t", "yes", "y", "1", "correct", "right",
    "vrai", "v", "oui", "o",  # French
    "si", "s", "verdadero", "cierto",  # Spanish
    "sim", "verdadeiro",  # Portuguese
    "vero",  # Italian
    "ja", "j", "wahr", "w", "richtig",  # German
    "waar", "juist",  # Dutch
}
_FALSE = {
    "false", "f", "no", "n", "0", "wrong", "incorrect",
    "faux", "non",  # French
    "falso",  # Spanish, Portuguese, Italian
    "nao",  # Portuguese (não)
    "nein", "falsch",  # German
    "nee", "onwaar",  # Dutch
}


def parse_truth(given: str) -> bool | None:
    """True or False from an answer in one of several languages, or None if it is neither.

    Accepts true/false, yes/no and their initials, and the same words in
    French, Spanish, Portuguese, Italian, German and Dutch.
    """
    text = normalize(given)
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None
