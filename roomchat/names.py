"""Names people read: one normal form for display names and room names, and a key that makes lookalikes equal.

``normalise`` is what every name shown to others goes through (guests',
JWT users', configured users' and bots'): Unicode NFKC (fullwidth and other
compatibility forms become plain letters), without direction controls
(right-to-left overrides and the like) and default-ignorable characters
(zero-width spaces and joiners, soft hyphens, variation selectors, tags),
white space collapsed to single spaces and trimmed.

``lookalike_key`` decides when two names look alike: the Unicode TR39
confusable skeleton (ICU's SpoofChecker, the reference implementation, so
no hand-written tables here), case-folded and taken again, of the normal
form. ``Аda Lovelace`` (a Cyrillic А) and ``ada lovelace`` share Ada
Lovelace's key; ``сlassroom`` (a Cyrillic с) and ``Classroom`` share
``classroom``'s. A key is for comparing only, never for display.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import icu

MAX_NAME = 64
"""A display name's most characters, after normalising."""

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters (Unicode category Cc) and lone surrogates (JSON can carry them; no one can display them):
refused in what a guest sends, cleaned out of JWT names."""


def _invisible_table() -> dict[int, None]:
    """A ``str.translate`` table deleting every default-ignorable code point and direction control."""
    invisible = icu.UnicodeSet("[[:Default_Ignorable_Code_Point:][:Bidi_Control:]]")
    table: dict[int, None] = {ord(c): None for c in invisible.codePoints()}
    table.update(dict.fromkeys(range(0xD800, 0xE000)))  # lone surrogates: ICU cannot take them
    return table


_INVISIBLE = _invisible_table()
_SPOOF = icu.SpoofChecker()


def normalise(name: str) -> str:
    """``name`` as others see it: NFKC, no invisible or direction-control characters, single spaces, trimmed.

    The result may be empty (a name of zero-width characters only); callers refuse that.
    """
    plain = unicodedata.normalize("NFKC", name).translate(_INVISIBLE)
    return " ".join(plain.split())


@lru_cache(maxsize=4096)
def lookalike_key(name: str) -> str:
    """A key equal for names that look alike (TR39 skeleton, case-folded); for comparing, never for display."""
    first = _SPOOF.getSkeleton(0, normalise(name))
    return _SPOOF.getSkeleton(0, first.casefold())
