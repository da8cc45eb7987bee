"""Finding links in a text: ``http(s)://...``, ``www....`` and bare domains with a common top-level domain.

Why a short list of top-level domains and not all of them (issue 11 asked): a
link with a scheme or ``www.`` is found whatever its ending, so the list only
decides which bare ``word.word`` are links. The Public Suffix List (as
``tldextract`` 5.4 ships it) has 1,444 ICANN top-level domains, among them
``py``, ``sh``, ``md``, ``rs``, ``zip``, ``mov`` and ``java`` (so ``main.py``,
``run.sh``, ``README.md``, ``photos.zip`` would be links in a coding class)
and everyday words (``you``, ``how``, ``now``, ``day``, ``new``, ``one``,
``run``, ``fun``, ``car``: "see you.how are" would be one). The moderator
would block or report students for file names and a missing space. So the
list below stays hand-picked: the generic endings most links use, the
country codes of the places our users are, and the free or cheap ones that
spam favours (``tk``, ``ml``, ``ga``, ``cf``, ``gq``, ``xyz``, ``top``,
``click``). A bare domain with another ending is not caught; a teacher's
``patterns`` can add one.
"""

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
