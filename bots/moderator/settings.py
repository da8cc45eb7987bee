"""The moderator's settings: the filter's rules (enforced by the server) and the bot's escalation.

``FilterSettings`` is what the server-side filter needs (it travels to the
server in a ``moderator-config`` message and is validated there with the
same model); ``ModeratorSettings`` adds what only the bot uses. Every model
forbids unknown keys, so a misspelt setting stops start-up naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PlainSerializer,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from roomchat.users import Role

from .wordlist import WordList, pattern_regex, word_regex


class Strict(BaseModel):
    """Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


# -- steps: what happens to a user --------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SEVERITY = {"report": 0, "warn": 1, "mute": 2, "kick": 3, "ban": 4}


def parse_duration(text: str | float) -> float:
    """``90``, ``"90s"``, ``"10m"``, ``"1h"``, ``"2d"`` -> seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise ValueError(f"{text!r} is not a duration; write seconds, or 30s, 10m, 1h, 2d")
        unit = (match.group(2) or "s")[0]
        seconds = float(match.group(1)) * _UNITS[unit]
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be more than 0 seconds")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as people say them: ``60`` -> ``1 minute``, ``90`` -> ``90 seconds``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    shown: float = int(seconds) if float(seconds).is_integer() else seconds
    return f"{shown} second{'s' if shown != 1 else ''}"


@dataclass(frozen=True, slots=True)
class Step:
    """One consequence for a user: ``warn``, ``mute`` (for ``seconds``), ``kick``, ``ban`` or ``report``.

    ``report`` only tells the teachers; ``ban`` without seconds lasts until
    someone unbans.
    """

    action: Literal["report", "warn", "mute", "kick", "ban"]
    seconds: float | None = None

    @classmethod
    def parse(cls, value: Any) -> Step:
        """``"warn"``, ``"mute 60s"``, ``"mute 10m"``, ``"kick"``, ``"ban"``, ``"ban 1d"``, or a Step."""
        if isinstance(value, Step):
            return value
        if isinstance(value, dict) and len(value) == 1:
            (action, seconds), = value.items()
            value = f"{action} {seconds}"
        if not isinstance(value, str):
            # ValueError, not TypeError: pydantic turns only ValueError into a validation error naming the key
            raise ValueError(f"{value!r} is not a step; write warn, mute 60s, kick, ban or report")  # noqa: TRY004
        action, _, rest = value.strip().lower().partition(" ")
        if action not in SEVERITY:
            raise ValueError(f"{value!r}: unknown step {action!r}; use warn, mute 60s, kick, ban or report")
        seconds = parse_duration(rest) if rest.strip() else None
        if action == "mute" and seconds is None:
            raise ValueError(f"{value!r}: say for how long, e.g. 'mute 60s' or 'mute 10m'")
        if action in ("warn", "kick", "report") and seconds is not None:
            raise ValueError(f"{value!r}: a {action} takes no duration")
        return cls(action, seconds)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.action} {_short(self.seconds)}" if self.seconds else self.action

    @property
    def severity(self) -> tuple[int, float]:
        """Orders steps: report < warn < mute (shorter first) < kick < ban (a permanent ban last)."""
        return SEVERITY[self.action], self.seconds if self.seconds is not None else float("inf")

    def describe(self) -> str:
        """The step in words: ``muted for 1 minute``."""
        if self.action == "mute":
            return f"muted for {format_duration(self.seconds or 0)}"
        if self.action == "ban":
            return f"banned for {format_duration(self.seconds)}" if self.seconds else "banned from this room"
        return {"warn": "warned", "kick": "removed from the room", "report": "reported to the teachers"}[self.action]


def _short(seconds: float | None) -> str:
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


StepField = Annotated[Step, BeforeValidator(Step.parse), PlainSerializer(str, return_type=str)]
Penalty = Annotated[
    Literal["escalate", "none"] | StepField,
    BeforeValidator(lambda v: v if v in ("escalate", "none") else Step.parse(v)),
]
"""What one offence costs its author: ``escalate`` (the next step of the room's ladder),
``none`` (nothing, not even a report), or a fixed step (``warn``, ``report``, ``mute 5m``...)."""

Duration = Annotated[PositiveFloat, BeforeValidator(parse_duration)]

# -- the filter's rules ------------------------------------------------------------------


class WordRule(Strict):
    """A list of banned words and patterns and what to do with a message that has one."""

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[\w .-]+$")] = "words"
    words: list[str] = Field(default_factory=list, description="banned words; * at an end allows any letters")
    patterns: list[str] = Field(
        default_factory=list, description="RE2 regular expressions over the normalised text (linear time; no "
                                          "lookarounds or backreferences)")
    action: Literal["block", "redact", "allow"] = "block"
    penalty: Penalty = "escalate"

    @field_validator("words")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        for word in words:
            word_regex(word)
        return words

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            pattern_regex(pattern)
        return patterns

    @model_validator(mode="after")
    def _compiles(self) -> WordRule:
        self.compile()  # what the filter will run: a list whose terms cannot be combined is refused here
        return self

    def compile(self) -> WordList:
        """The compiled list."""
        return WordList(self.words, self.patterns)


class FloodRule(Strict):
    """More than ``messages`` messages in ``seconds``."""

    enabled: bool = True
    messages: PositiveInt = 6
    seconds: Duration = 10.0
    action: Literal["block", "allow"] = "block"
    penalty: Penalty = "escalate"


class RepeatRule(Strict):
    """The same text ``times`` times within ``seconds`` (compared normalised)."""

    enabled: bool = True
    times: Annotated[int, Field(ge=2)] = 3
    seconds: Duration = 60.0
    min_length: PositiveInt = Field(3, description="shorter texts ('ok', 'no') may repeat freely")
    action: Literal["block", "allow"] = "block"
    penalty: Penalty = "escalate"


class ShoutingRule(Strict):
    """Mostly capital letters in a text with at least ``min_letters`` letters. ``redact`` lower-cases it."""

    enabled: bool = True
    min_letters: PositiveInt = 12
    ratio: Annotated[float, Field(gt=0.5, le=1.0)] = 0.7
    action: Literal["block", "redact", "allow"] = "redact"
    penalty: Penalty = Step("warn")


class LinkRule(Strict):
    """Links to domains not on ``allowed_domains`` (subdomains included). ``redact`` replaces the link."""

    enabled: bool = True
    allowed_domains: list[str] = Field(default_factory=list)
    action: Literal["block", "redact", "allow"] = "block"
    penalty: Penalty = Step("warn")

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        cleaned = []
        for domain in domains:
            d = domain.strip().lower().removeprefix("*.").strip(".")
            if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", d):
                raise ValueError(f"{domain!r} is not a domain name (write example.org)")
            cleaned.append(d)
        return cleaned


class FilterSettings(Strict):
    """What the server-side filter enforces in a room."""

    dry_run: bool = Field(False, description="only report: no message is blocked or changed, nobody is punished")
    exempt_roles: list[Role] = Field(default_factory=lambda: [Role.TEACHER, Role.ADMIN])
    exempt_users: list[PositiveInt] = Field(default_factory=list)
    types: list[str] | Literal["all"] = Field("all", description="message types checked ('all', or a list)")
    skip_types: list[str] = Field(default_factory=lambda: ["typing"], description="types never checked")
    skip_keys: list[str] = Field(
        default_factory=lambda: ["url"],
        description="keys whose strings are not checked, in values of types that declare no text (a media URL)")
    direct_messages: bool = Field(True, description="check direct messages too, not only the room's")
    words: list[WordRule] = Field(default_factory=list)
    flood: FloodRule = Field(default_factory=FloodRule)
    repeat: RepeatRule = Field(default_factory=RepeatRule)
    shouting: ShoutingRule = Field(default_factory=ShoutingRule)
    links: LinkRule = Field(default_factory=LinkRule)
    mask: Annotated[str, Field(min_length=1, max_length=20)] = "*"
    link_placeholder: str = "[link removed]"
    grace_seconds: NonNegativeFloat = Field(
        5.0, description="hits of the same rule by the same user this soon after one count as that one")

    @field_validator("words")
    @classmethod
    def _unique_names(cls, rules: list[WordRule]) -> list[WordRule]:
        names = [r.name for r in rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"word lists need distinct names; {', '.join(twice)} is used twice")
        return rules


class EscalationSettings(Strict):
    """The room's ladder: each offence within ``decay`` of the others takes the next step."""

    steps: list[StepField] = Field(
        default_factory=lambda: [Step("warn"), Step("mute", 60.0), Step("mute", 600.0), Step("kick"), Step("ban")],
        min_length=1,
    )
    decay: Duration = Field(3600.0, description="an offence is forgotten this long after it happened")


FILTER_FIELDS = frozenset(FilterSettings.model_fields)


class ModeratorFields(FilterSettings):
    """Everything the moderator bot takes: the filter's rules plus escalation and reporting."""

    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    text_notices: bool = Field(
        False, description="also explain each action to the user in a text message (the core's moderation "
                           "notice always tells them), for clients that only show text")
    report_to_teachers: bool = Field(
        True, description="send teachers and admins a text for dry runs and 'report' steps (the core's "
                          "moderation notice tells them of every real action)")
    notice_type: str = Field("text", min_length=1, description="the message type of explanations and reports")
    history: PositiveInt = Field(50, description="actions kept per room for a teacher's 'log' command")

    def filter_settings(self) -> FilterSettings:
        """The part the server-side filter needs."""
        return FilterSettings.model_validate(self.model_dump(include=set(FILTER_FIELDS), mode="json"))
