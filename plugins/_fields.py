"""What the built-in message types share: values delivered as sent, and the checks on their fields.

The rule (docs/plugins.md, "What the built-in types accept"): a built-in type
accepts the shape it documents, the shorter shape a client that knows only
the protocol would send (a bare URL for an image, say), and keys it does not
know; it delivers the value exactly as sent (``as_sent``), and refuses only
what it cannot use or what is unsafe. Each check is a plain function for
``AfterValidator``: it returns the value unchanged or raises
``PydanticCustomError``, so a bad field comes back in ``validation_failed``'s
``errors`` with its own ``loc``, ``msg`` and ``type``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

OPEN = ConfigDict(extra="allow", strict=True)
"""Config of the built-in value models: keys a model does not know are kept (and delivered);
the ones it knows are strict ("3" is not 3)."""

STRICT = ConfigDict(extra="forbid", strict=True)
"""Config of values only the server sends (``poll-results``): nothing unknown, nothing loose."""

SETTINGS = ConfigDict(extra="forbid")
"""Config of every built-in settings model: unknown keys are refused (YAML values are read as pydantic does)."""

MAX_HTTP_URL = 2048
"""Longest http(s) URL accepted (what browsers and servers reliably handle)."""

# C0 and C1 controls, DEL, and lone surrogates (which JSON can carry but UTF-8 cannot).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_NL_TAB = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Bidirectional marks, embeddings, overrides and isolates: they make "gpj.exe" look like "exe.jpg".
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Everything invisible that can sit in a URL: controls, white space, backslashes (browsers read them as
# slashes, Python does not, so the two would disagree on the host), and Unicode's format characters
# (category Cf: bidi controls, zero-width characters, soft hyphens, tags).
_NOT_IN_URL = re.compile(
    r"[\x00-\x20\x7f-\x9f\ud800-\udfff\s\\"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
MIME_PATTERN = re.compile(
    rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*[a-z0-9!#$%&'*+.^_`|~-]+=(?:[a-z0-9!#$%&'*+.^_`|~-]+|\"[^\"\\\x00-\x1f]*\"))*",
    re.IGNORECASE,
)
_DATA_URI = re.compile(
    rf"data:(?P<mime>{_TOKEN}/{_TOKEN})(?P<params>(?:;[a-z0-9!#$&^_.+-]+=[^;,]*)*)"
    r";base64,(?P<data>[A-Za-z0-9+/]*={0,2})",
    re.IGNORECASE,
)


# -- delivered as sent ----------------------------------------------------------------


def _keep_input(value: Any, check: ValidatorFunctionWrapHandler) -> Any:
    check(value)  # raises ValidationError, with each field's loc, when the value does not fit
    return value


def as_sent(model: type[BaseModel], bare: dict[str, Any] | None = None) -> Any:
    """A value type that is checked against ``model`` but delivered exactly as the client sent it.

    ``bare`` is the JSON Schema of the short form the model also takes (its
    ``before`` validator turns a bare string into ``{"url": ...}``, say); the
    published schema is then "either that or the object".
    """
    wrapped: list[Any] = [model, WrapValidator(_keep_input), PlainSerializer(lambda value: value)]
    if bare is not None:
        schema = TypeAdapter(model).json_schema()
        defs = schema.pop("$defs", None)
        either: dict[str, Any] = {"anyOf": [bare, schema]}
        if defs:
            either["$defs"] = defs
        wrapped.append(WithJsonSchema(either))
    return Annotated[tuple(wrapped)]


def bare_as(key: str, kinds: tuple[type, ...], value: Any, what: str) -> Any:
    """For a model's ``before`` validator: a bare value of ``kinds`` stands for ``{key: value}``.

    Anything else that is not an object is refused with one error naming
    ``what`` the type takes.
    """
    if isinstance(value, kinds):
        return {key: value}
    if not isinstance(value, dict):
        raise PydanticCustomError("value_shape", what)
    return value


# -- text -------------------------------------------------------------------------------


def strip_controls(text: str, keep_newlines: bool = False) -> str:
    """``text`` without control characters; ``keep_newlines`` keeps ``\\n`` and ``\\t`` (``\\r\\n`` becomes ``\\n``)."""
    if keep_newlines:
        return _CONTROL_BUT_NL_TAB.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", text)


def plain_text(text: str) -> str:
    """Text as people type it: any characters but control characters (tabs and line breaks are fine)."""
    if _CONTROL_BUT_LINE_BREAKS.search(text):
        raise PydanticCustomError("control_characters", "must not contain control characters (tabs and line breaks "
                                  "are fine)")
    return text


def visible_text(text: str) -> str:
    """``plain_text`` that shows something: not empty, not only white space."""
    plain_text(text)
    if not text.strip():
        raise PydanticCustomError("empty_text", "must contain visible text, not only white space")
    return text


def identifier(text: str) -> str:
    """A client's or the server's id for something: no white space, control or invisible characters."""
    if _NOT_IN_URL.search(text):
        raise PydanticCustomError("identifier", "must not contain white space, control or invisible characters")
    return text


# -- URLs and files -------------------------------------------------------------------------


def _no_hidden_characters(url: str) -> None:
    if _NOT_IN_URL.search(url):
        raise PydanticCustomError(
            "url_characters",
            "a URL has no white space, backslashes, control or invisible (text-direction, zero-width) characters; "
            "percent-encode them",
        )


def http_url(url: str) -> str:
    """An absolute http(s) URL with a host, no credentials and nothing hidden in it; returned as sent."""
    if len(url) > MAX_HTTP_URL:
        raise PydanticCustomError("url_too_long", "a URL is at most {max} characters", {"max": MAX_HTTP_URL})
    _no_hidden_characters(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise PydanticCustomError("url_parsing", "is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise PydanticCustomError(
            "url_scheme", "must be an absolute http:// or https:// URL (recipients cannot resolve a relative one)"
        )
    if not parts.hostname:
        raise PydanticCustomError("url_parsing", "must name a host (https://example.org/...)")
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError("url_credentials", "must not carry a user name or password")
    return url


@dataclass(frozen=True)
class DataUri:
    """A parsed ``data:<mime>;base64,...`` URI: its MIME type (lowercased) and decoded size in bytes."""

    mime: str
    size: int


def parse_data_uri(url: str) -> DataUri | None:
    """The data URI ``url`` parsed, None when it is not one; a malformed one raises PydanticCustomError."""
    if url[:5].lower() != "data:":
        return None
    _no_hidden_characters(url)
    match = _DATA_URI.fullmatch(url)
    if match is None:
        raise PydanticCustomError(
            "data_uri", "a data URI must look like data:<type>/<subtype>;base64,<base64 data>"
        )
    data = match["data"]
    try:
        size = len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        raise PydanticCustomError("data_uri", "the data URI's base64 data is not valid") from None
    return DataUri(match["mime"].lower(), size)


def media_url(url: str, kind: str) -> str:
    """An http(s) URL, or a base64 data URI whose MIME type is ``kind``/*; returned as sent."""
    data = parse_data_uri(url)
    if data is None:
        return http_url(url)
    if not data.mime.startswith(kind + "/"):
        raise PydanticCustomError(
            "data_uri_type", "a data URI here must hold {kind}/* data, not {mime}", {"kind": kind, "mime": data.mime}
        )
    if data.size == 0:
        raise PydanticCustomError("data_uri", "the data URI holds no data")
    return url


def file_name(name: str) -> str:
    """A file name as shown to people: visible, no path separators, control or text-direction characters."""
    if not name.strip():
        raise PydanticCustomError("file_name", "must not be empty")
    if "/" in name or "\\" in name:
        raise PydanticCustomError("file_name", "must be a bare file name, without / or \\")
    if _CONTROL.search(name) or _BIDI.search(name):
        raise PydanticCustomError("file_name", "must not contain control or text-direction characters")
    if name.strip() in (".", ".."):
        raise PydanticCustomError("file_name", "must not be . or ..")
    return name


def mime_type(value: str) -> str:
    """A MIME type ``type/subtype``, with parameters if any (``text/plain; charset=utf-8``); ``""`` for unknown."""
    if value and not MIME_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "mime_type", "must be a MIME type like text/plain or application/pdf (or empty when unknown)"
        )
    return value
