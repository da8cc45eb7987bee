"""Field checks shared by the built-in message types: clean text, http(s) URLs, data URIs.

Each check is a plain function for ``AfterValidator``: it returns the
normalised value or raises ``PydanticCustomError``, so a bad field comes back
in ``validation_failed``'s ``errors`` with its own ``loc``, ``msg`` and ``type``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import ConfigDict
from pydantic_core import PydanticCustomError

STRICT = ConfigDict(extra="forbid", strict=True)
"""Config of every built-in value model: unknown keys and loose types ("3" for 3) are refused."""

SETTINGS = ConfigDict(extra="forbid")
"""Config of every built-in settings model: unknown keys are refused (YAML values are read as pydantic does)."""

MAX_HTTP_URL = 2048
"""Longest http(s) URL accepted (what browsers and servers reliably handle)."""

# C0 and C1 controls, DEL, and lone surrogates (which JSON can carry but UTF-8 cannot).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_NL_TAB = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Bidirectional overrides and isolates: they make "gpj.exe" look like "exe.jpg".
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
MIME_PATTERN = re.compile(rf"{_TOKEN}/{_TOKEN}")
_DATA_URI = re.compile(
    rf"data:(?P<mime>{_TOKEN}/{_TOKEN})(?P<params>(?:;[a-z0-9!#$&^_.+-]+=[^;,]*)*);base64,(?P<data>[A-Za-z0-9+/]*={{0,2}})",
    re.IGNORECASE,
)


def strip_controls(text: str, keep_newlines: bool = False) -> str:
    """``text`` without control characters; ``keep_newlines`` keeps ``\\n`` and ``\\t`` (``\\r\\n`` becomes ``\\n``)."""
    if keep_newlines:
        return _CONTROL_BUT_NL_TAB.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", text)


def one_line(text: str) -> str:
    """A single line of visible text: controls removed, surrounding white space trimmed, not empty."""
    text = strip_controls(text).strip()
    if not text:
        raise PydanticCustomError("empty_text", "must contain visible text, not only white space or control characters")
    return text


def optional_line(text: str) -> str:
    """Like ``one_line`` but may end up empty (alt text, say)."""
    return strip_controls(text).strip()


def http_url(url: str) -> str:
    """An absolute http(s) URL with a host, no credentials and no white space; the scheme lowercased."""
    if len(url) > MAX_HTTP_URL:
        raise PydanticCustomError("url_too_long", "a URL is at most {max} characters", {"max": MAX_HTTP_URL})
    if _CONTROL.search(url) or any(ch.isspace() for ch in url):
        raise PydanticCustomError("url_parsing", "a URL has no spaces or control characters (percent-encode them)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise PydanticCustomError("url_parsing", "is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise PydanticCustomError("url_scheme", "must be an http:// or https:// URL")
    if not parts.hostname:
        raise PydanticCustomError("url_parsing", "must name a host (https://example.org/...)")
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError("url_credentials", "must not carry a user name or password")
    return parts.scheme.lower() + url[len(parts.scheme):]


@dataclass(frozen=True)
class DataUri:
    """A parsed ``data:<mime>;base64,...`` URI: its MIME type (lowercased) and decoded size in bytes."""

    mime: str
    size: int


def parse_data_uri(url: str) -> DataUri | None:
    """The data URI ``url`` parsed, None when it is not one; a malformed one raises PydanticCustomError."""
    if url[:5].lower() != "data:":
        return None
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
    """An http(s) URL, or a base64 data URI whose MIME type is ``kind``/* (its type lowercased)."""
    data = parse_data_uri(url)
    if data is None:
        return http_url(url)
    if not data.mime.startswith(kind + "/"):
        raise PydanticCustomError(
            "data_uri_type", "a data URI here must hold {kind}/* data, not {mime}", {"kind": kind, "mime": data.mime}
        )
    if data.size == 0:
        raise PydanticCustomError("data_uri", "the data URI holds no data")
    return "data:" + data.mime + url[5 + len(data.mime):]


def file_name(name: str) -> str:
    """A file name as shown to people: trimmed, no path separators, control or bidi characters, not . or .."""
    name = name.strip()
    if not name:
        raise PydanticCustomError("file_name", "must not be empty")
    if "/" in name or "\\" in name:
        raise PydanticCustomError("file_name", "must be a bare file name, without / or \\")
    if _CONTROL.search(name) or _BIDI.search(name):
        raise PydanticCustomError("file_name", "must not contain control or text-direction characters")
    if name in (".", ".."):
        raise PydanticCustomError("file_name", "must not be . or ..")
    return name


def mime_type(value: str) -> str:
    """A MIME type ``type/subtype`` (RFC 6838 names, no parameters), lowercased."""
    value = value.strip().lower()
    if not MIME_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "mime_type", "must be a MIME type like text/plain or application/pdf (without parameters)"
        )
    return value
