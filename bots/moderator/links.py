"""Finding links in a text: ``http(s)://...``, ``www....`` and bare domains with a common top-level domain."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .normalize import fold

# Bare domains are only recognised with these endings, so "e.g.", "node.js" or
# "file.py" are not links; anything with a scheme or "www." always is.
COMMON_TLDS = (
    "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "io", "co", "ai", "app", "dev", "me", "be",
    "to", "ly", "gg", "tv", "cc", "ws", "xyz", "top", "site", "online", "club", "link", "live", "shop",
    "store", "blog", "news", "tech", "click", "page", "uk", "de", "fr", "ru", "cn", "jp", "br", "es", "nl",
    "eu", "ch", "se", "no", "pl", "ca", "au", "us", "in", "tk", "ml", "ga", "cf", "gq", "su", "ua", "kr", "nz",
    "za", "mx", "ar", "at", "dk", "fi", "gr", "pt", "ro", "cz", "hu", "ie", "sk",
)

_LINK = re.compile(
    r"(?:(?<![\w.@-])(?:https?|ftp)://[^\s<>\"'`]+)"
    r"|(?:(?<![\w.@/-])www\.[^\s<>\"'`]+)"
    r"|(?:(?<![\w.@/-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + "|".join(COMMON_TLDS) + r")"
    r"(?![\w-])(?::\d+)?(?:/[^\s<>\"'`]*)?)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True, slots=True)
class Link:
    """A link found in a text: its host (lower case) and its span in the original text."""

    host: str
    start: int
    end: int


def host_of(url: str) -> str:
    """The host name of a link, lower case, without user, port or a trailing dot."""
    if "://" not in url:
        url = "http://" + url
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    return host.rstrip(".").lower()


def find_links(text: str) -> list[Link]:
    """Every link in ``text``, looking through full-width dots and look-alike letters."""
    view = fold(text)
    links = []
    for match in _LINK.finditer(view.text):
        start, end = match.span()
        while end > start and view.text[end - 1] in _TRAILING:
            end -= 1  # "see example.com." ends the sentence, not the link
        host = host_of(view.text[start:end])
        if host:
            links.append(Link(host, *view.span(start, end)))
    return links


def allowed(host: str, domains: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or a subdomain of one."""
    return any(host == d or host.endswith("." + d) for d in domains)
