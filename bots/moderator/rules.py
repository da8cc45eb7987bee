"""The filter's rules applied to one message: pure logic, no I/O, time passed in.

``RoomFilter.check`` looks at one message of one user and returns a
``Verdict``: which rules fired, whether the message is blocked, and the value
to deliver (redacted). It keeps the little per-user history that flood and
repeat detection need; ``forget(user_id)`` drops it.

What a rule reads is the message's ``Content`` (``content_of``): the text its
type declares (``MessageType.text``). A type that declares no text (a vote,
a reaction, ``poll-close``) is never judged at all: it is an interaction, not
something someone wrote. A value whose type declares nothing (an unregistered
type in an open room) is unknown: the content rules (words, links) read every
string in it, since a client may show any of them, but shouting and repeat
judge only declared text (an id sent twice is not a repeated message).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from roomchat.messagetypes import declared_texts, map_declared_texts
from roomchat.users import Role

from .links import allowed, find_links
from .normalize import compact
from .settings import FilterSettings, format_duration
from .wordlist import MAX_HITS, WordList, redact

# Types the filter never looks at: its own, and the core's moderation commands.
OWN_TYPES = frozenset({"moderation", "moderator-config", "moderator-flag"})
MAX_DEPTH = 6

Action = Literal["block", "redact", "allow"]


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that fired on a message.

    ``rule`` is its name (``words:<list>``, ``flood``, ``repeat``,
    ``shouting``, ``links``), ``action`` what it does to the message,
    ``penalty`` what it costs the user (``escalate``, ``none`` or a step),
    ``reason`` a phrase the user can read ("it contains “darn”"),
    ``counted`` False when the same rule fired for this user within the grace
    period (enforced again, but not a new offence).
    """

    rule: str
    action: Action
    penalty: str
    reason: str
    counted: bool = True

    def as_wire(self) -> dict[str, Any]:
        """The hit as the ``moderator-flag`` message carries it."""
        return {"rule": self.rule, "action": self.action, "penalty": self.penalty, "reason": self.reason,
                "counted": self.counted}


@dataclass
class Verdict:
    """What the filter decided about one message."""

    hits: list[RuleHit] = field(default_factory=list)
    value: Any = None
    blocked_by: RuleHit | None = None
    changed: bool = False
    dry_run: bool = False

    @property
    def outcome(self) -> Literal["blocked", "redacted", "delivered"]:
        """What happened to the message (in a dry run: what would have)."""
        if any(h.action == "block" for h in self.hits):
            return "blocked"
        if any(h.action == "redact" for h in self.hits):
            return "redacted"
        return "delivered"

    @property
    def counted(self) -> list[RuleHit]:
        """The hits that are new offences (not repeats within the grace period)."""
        return [h for h in self.hits if h.counted]


def strings(value: Any, skip_keys: Collection[str] = (), depth: int = 0) -> Iterator[str]:
    """Every string in a message value (dict values and list items, not keys), depth-first.

    Values under ``skip_keys`` are left out, and so are data URIs (a picture is not text).
    """
    if isinstance(value, str):
        if not value.startswith("data:"):
            yield value
    elif depth < MAX_DEPTH and isinstance(value, dict):
        for key, item in value.items():
            if key not in skip_keys:
                yield from strings(item, skip_keys, depth + 1)
    elif depth < MAX_DEPTH and isinstance(value, list):
        for item in value:
            yield from strings(item, skip_keys, depth + 1)


def map_strings(value: Any, fn: Callable[[str], str], skip_keys: Collection[str] = (), depth: int = 0) -> Any:
    """``value`` with ``fn`` applied to every string ``strings`` would yield."""
    if isinstance(value, str):
        return value if value.startswith("data:") else fn(value)
    if depth < MAX_DEPTH and isinstance(value, dict):
        return {k: v if k in skip_keys else map_strings(v, fn, skip_keys, depth + 1) for k, v in value.items()}
    if depth < MAX_DEPTH and isinstance(value, list):
        return [map_strings(v, fn, skip_keys, depth + 1) for v in value]
    return value


Declared = bool | tuple[str, ...] | None
"""A type's ``MessageType.text``: True (the value is the text), field paths, False (no text), None (not declared)."""


@dataclass(frozen=True, slots=True)
class Content:
    """What the rules read in one message value.

    ``texts`` are the strings the content rules (words, links) check; ``prose``
    is True when they are the type's declared human text, which shouting and
    repeat judge too.
    """

    value: Any
    texts: list[str]
    declared: Declared
    skip_keys: tuple[str, ...] = ()

    @property
    def prose(self) -> bool:
        """Whether ``texts`` is human text the type declared (not strings guessed from an unknown value)."""
        return self.declared is not None

    def rewrite(self, change: Callable[[str], str]) -> Any:
        """The value with ``change`` applied to each of ``texts`` where it stands (for redaction)."""
        if self.declared is None:
            return map_strings(self.value, change, self.skip_keys)
        return map_declared_texts(self.value, self.declared, change)


def content_of(value: Any, declared: Declared, skip_keys: Collection[str] = ()) -> Content | None:
    """The content the rules read in ``value`` of a type that declares ``declared``; None if it has no text."""
    if declared is False:
        return None
    if declared is None:
        return Content(value, list(strings(value, skip_keys)), None, tuple(skip_keys))
    return Content(value, declared_texts(value, declared), declared)


def quote(items: list[str], limit: int = 3) -> str:
    """``“a”, “b” and “c”``."""
    shown = [f"“{i}”" for i in dict.fromkeys(items)][:limit]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def is_shouting(text: str, min_letters: int, ratio: float) -> bool:
    """Mostly capital letters, with enough letters to tell."""
    upper = sum(map(str.isupper, text))
    cased = upper + sum(map(str.islower, text))
    return cased >= min_letters and upper / cased >= ratio


def calm(text: str) -> str:
    """A shouted text in lower case, its first letter kept a capital."""
    lowered = text.lower()
    for i, c in enumerate(lowered):
        if c.isalpha():
            return lowered[:i] + c.upper() + lowered[i + 1:]
    return lowered


@dataclass
class _History:
    times: deque[float] = field(default_factory=deque)
    texts: deque[tuple[float, int | None, str]] = field(default_factory=deque)  # (time, conversation, text)
    last_counted: dict[str, float] = field(default_factory=dict)


class RoomFilter:
    """One room's rules with the per-user history they need."""

    def __init__(self, settings: FilterSettings, moderator_id: int | None = None) -> None:
        self.settings = settings
        self.moderator_id = moderator_id
        self.word_lists: list[tuple[Any, WordList]] = [(rule, rule.compile()) for rule in settings.words]
        self._users: dict[int, _History] = {}

    # -- who and what is checked -------------------------------------------------

    def applies(self, user_id: int, role: Role, is_bot: bool, type: str, direct: bool) -> bool:
        """Whether this message is checked at all (exempt users, bots, unchecked types)."""
        s = self.settings
        if is_bot or user_id == self.moderator_id or role in s.exempt_roles or user_id in s.exempt_users:
            return False
        if type in OWN_TYPES or type in s.skip_types or (direct and not s.direct_messages):
            return False
        return s.types == "all" or type in s.types

    def forget(self, user_id: int) -> None:
        """Drop a user's history (they left the room)."""
        self._users.pop(user_id, None)

    # -- the check ------------------------------------------------------------------

    def check(self, user_id: int, content: Content, now: float, conversation: int | None = None) -> Verdict:
        """Apply every rule to one message's ``content`` from ``user_id`` at time ``now``.

        ``conversation`` is the addressed user of a direct message (None: the
        room): a text repeats only in the same conversation, so asking three
        classmates the same question, one by one, is not spam.
        """
        s = self.settings
        history = self._users.setdefault(user_id, _History())
        verdict = Verdict(value=content.value, dry_run=s.dry_run)
        self._flood(verdict, history, now)
        if content.prose:
            self._repeat(verdict, history, content.texts, now, conversation)
        self._words(verdict, content.texts)
        self._links(verdict, content.texts)
        if content.prose:
            self._shouting(verdict, content.texts)
        verdict.hits = [self._grace(hit, history, now) for hit in verdict.hits]
        if not s.dry_run:
            verdict.blocked_by = next((h for h in verdict.hits if h.action == "block"), None)
            if verdict.blocked_by is None and any(h.action == "redact" for h in verdict.hits):
                verdict.value = content.rewrite(lambda text: self._redact_text(text, content.prose))
                verdict.changed = verdict.value != content.value
        return verdict

    def _grace(self, hit: RuleHit, history: _History, now: float) -> RuleHit:
        last = history.last_counted.get(hit.rule)
        if last is not None and now - last < self.settings.grace_seconds:
            return RuleHit(hit.rule, hit.action, hit.penalty, hit.reason, counted=False)
        history.last_counted[hit.rule] = now
        return hit

    def _flood(self, verdict: Verdict, history: _History, now: float) -> None:
        rule = self.settings.flood
        times = history.times
        times.append(now)
        while times and times[0] <= now - rule.seconds:
            times.popleft()
        while len(times) > rule.messages + 1:
            times.popleft()  # only the window's count matters
        if rule.enabled and len(times) > rule.messages:
            reason = f"you sent more than {rule.messages} messages in {format_duration(rule.seconds)}"
            verdict.hits.append(RuleHit("flood", rule.action, str(rule.penalty), reason))

    def _repeat(self, verdict: Verdict, history: _History, texts: list[str], now: float,
                conversation: int | None) -> None:
        rule = self.settings.repeat
        entries = history.texts
        while entries and entries[0][0] <= now - rule.seconds:
            entries.popleft()
        text = compact(" ".join(texts))
        if len(text) < rule.min_length:
            return
        entries.append((now, conversation, text))
        while len(entries) > 4 * rule.times:
            entries.popleft()
        if rule.enabled and sum(1 for _, c, t in entries if c == conversation and t == text) >= rule.times:
            reason = f"you sent the same message {rule.times} times in {format_duration(rule.seconds)}"
            verdict.hits.append(RuleHit("repeat", rule.action, str(rule.penalty), reason))

    def _words(self, verdict: Verdict, texts: list[str]) -> None:
        for rule, words in self.word_lists:
            found: list[str] = []
            complete = True
            for text in texts:
                hits, all_found = words.search(text)
                found.extend(text[h.start:h.end] for h in hits)
                complete = complete and all_found
            if not complete and rule.action != "allow":
                # too many to redact them all at a linear cost: refuse the message instead
                reason = f"it contains more than {MAX_HITS} words that are not allowed here"
                verdict.hits.append(RuleHit(f"words:{rule.name}", "block", str(rule.penalty), reason))
            elif found:
                reason = f"it contains {quote(found)}, which {'is' if len(set(found)) == 1 else 'are'} not allowed here"
                verdict.hits.append(RuleHit(f"words:{rule.name}", rule.action, str(rule.penalty), reason))

    def _links(self, verdict: Verdict, texts: list[str]) -> None:
        rule = self.settings.links
        if not rule.enabled:
            return
        hosts = [link.host for text in texts for link in find_links(text)
                 if not allowed(link.host, rule.allowed_domains)]
        if hosts:
            if rule.allowed_domains:
                reason = f"it links to {quote(hosts)}; this room only allows links to {', '.join(rule.allowed_domains)}"
            else:
                reason = f"it has a link ({quote(hosts)}); links are not allowed here"
            verdict.hits.append(RuleHit("links", rule.action, str(rule.penalty), reason))

    def _shouting(self, verdict: Verdict, texts: list[str]) -> None:
        rule = self.settings.shouting
        if rule.enabled and any(is_shouting(t, rule.min_letters, rule.ratio) for t in texts):
            verdict.hits.append(RuleHit("shouting", rule.action, str(rule.penalty),
                                        "it is written mostly in capital letters (shouting)"))

    # -- redaction ----------------------------------------------------------------------

    def _redact_text(self, text: str, prose: bool) -> str:
        """One text with redacting rules applied (shouting only to declared text: never lower-case an id)."""
        s = self.settings
        for rule, words in self.word_lists:
            if rule.action == "redact":
                text = redact(text, words.find(text), s.mask)
        if s.links.enabled and s.links.action == "redact":
            bad = [link for link in find_links(text) if not allowed(link.host, s.links.allowed_domains)]
            for link in sorted(bad, key=lambda item: item.start, reverse=True):
                text = text[:link.start] + s.link_placeholder + text[link.end:]
        if prose and s.shouting.enabled and s.shouting.action == "redact" and is_shouting(
                text, s.shouting.min_letters, s.shouting.ratio):
            text = calm(text)
        return text
