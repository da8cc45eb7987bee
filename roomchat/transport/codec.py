"""The JSON codec of the wire: orjson both ways, the standard library wherever orjson would answer differently.

python-socketio and python-engineio take a ``json`` module (``dumps``/``loads``);
the composition root hands them ``OrjsonCodec`` (and a cluster's Redis manager
too). orjson encodes and decodes 3-10x faster than the standard library, which
matters once per emit and once per received message. Every accept/refuse
decision stays what the standard library made before:

Decoding (what clients send). The reference is what python-engineio decoded
with before (``engineio.json``: the standard library's ``json.loads``, refusing
integers of more than 100 characters). orjson refuses NaN, Infinity, ``1e400``, lone
surrogate escapes, nesting past 1024 levels: those go to ``engineio.json.loads``,
which answers as it always did (roomchat's own checks then refuse them as before).
orjson reads an integer past 64 bits as a float: a text with 19 digits in a
row goes to it too (exact integers, the 100-character limit as before).

Encoding (what the server sends). Anything orjson does not natively encode
(integers past 64 bits, non-string keys, lone surrogates, subclasses of str,
int, dict and list, dataclasses, dates) goes to ``json.dumps``, which encodes or
refuses it as before. orjson writes NaN and Infinity as ``null``: a text with
``null`` in it is checked once more with ``json.dumps(allow_nan=False)``, so a
plugin that puts NaN in a value gets ``plugin_error`` (JavaScript cannot parse
NaN) instead of a silently changed value.

Wire differences (valid JSON either way, read alike by every client):
non-ASCII characters go out as UTF-8 instead of ``\\uXXXX`` escapes (shorter);
floats as ``1e16`` instead of ``1e+16``; orjson also encodes ``uuid.UUID`` and
plain ``enum.Enum`` members, which the standard library refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from engineio import json as engineio_json  # the standard library's, refusing integers of more than 100 characters

__all__ = ["OrjsonCodec"]

# Anything orjson does not encode natively goes to ``_fallback`` (which refuses), then to the standard library.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
_LONG_NUMBER = re.compile(rb"[0-9]{19}")  # orjson reads integers past 64 bits as floats
_LONG_NUMBER_TEXT = re.compile(r"[0-9]{19}")


def _fallback(obj: Any) -> Any:
    raise TypeError  # let the standard library decide, as it did before orjson


class OrjsonCodec:
    """A ``json`` module for python-socketio and python-engineio: orjson, the standard library where they differ."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        """Compact JSON text of ``obj``; ValueError for NaN or Infinity, TypeError for what JSON cannot hold."""
        try:
            data = orjson.dumps(obj, default=_fallback, option=_OPTIONS)
        except TypeError:  # big integers, non-str keys, surrogates, subclasses, dataclasses, dates
            return json.dumps(obj, allow_nan=False, **kwargs)
        if b"null" in data:  # orjson writes NaN and Infinity as null: refuse them, as JavaScript cannot read them
            json.dumps(obj, allow_nan=False)
        return data.decode()

    @staticmethod
    def dumpb(obj: Any) -> bytes:
        """``dumps`` as UTF-8 bytes (the fast path's frames), with the same refusals."""
        try:
            data = orjson.dumps(obj, default=_fallback, option=_OPTIONS)
        except TypeError:
            return json.dumps(obj, allow_nan=False, separators=(",", ":")).encode()
        if b"null" in data:
            json.dumps(obj, allow_nan=False)
        return data

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        """The value of JSON ``text``, exactly as ``engineio.json.loads`` reads it (or refuses it)."""
        long_number = _LONG_NUMBER_TEXT.search(text) if isinstance(text, str) else _LONG_NUMBER.search(text)
        if kwargs or long_number:
            return engineio_json.loads(text, **kwargs)
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # NaN, Infinity, 1e400, lone surrogates, very deep: the old answer
            return engineio_json.loads(text)
