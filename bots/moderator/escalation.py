"""The escalation ladder: which step an offence earns, given the user's recent offences.

Pure logic: the bot keeps each user's offence times and passes ``now`` in.
An offence is forgotten ``decay`` seconds after it happened, so the ladder
steps up for offences close together and comes back down with good behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .settings import EscalationSettings, Step


@dataclass(frozen=True, slots=True)
class Decision:
    """What one flagged message costs its author.

    ``step`` is None when nothing happens to the user; ``offence`` is the
    offence's number on the ladder (None when no rule escalates);
    ``rules`` the counted rules that led to it.
    """

    step: Step | None
    offence: int | None
    rules: tuple[str, ...]


def prune(times: list[float], now: float, decay: float) -> list[float]:
    """The offence times still remembered at ``now``."""
    return [t for t in times if now - t < decay]


def ladder_step(number: int, steps: list[Step]) -> Step:
    """The step of offence ``number`` (1-based); past the end of the ladder, its last step again."""
    return steps[min(number, len(steps)) - 1]


def decide(hits: Iterable[dict[str, Any]], offences: list[float], now: float,
           escalation: EscalationSettings) -> tuple[Decision, list[float]]:
    """The consequence of one flagged message, and the user's offence times afterwards.

    ``hits`` are the filter's rule hits (``rule``, ``penalty``, ``counted``).
    Only counted hits matter. Any ``escalate`` penalty records one offence
    (one per message, however many rules fired) and takes the ladder's next
    step; fixed penalties (``warn``, ``mute 5m``...) apply as they are; the
    most severe of them wins.
    """
    counted = [h for h in hits if h.get("counted", True) and h.get("penalty") != "none"]
    times = prune(offences, now, escalation.decay)
    candidates: list[Step] = []
    offence = None
    if any(h.get("penalty") == "escalate" for h in counted):
        times = [*times, now]
        offence = len(times)
        candidates.append(ladder_step(offence, escalation.steps))
    for hit in counted:
        if hit.get("penalty") not in ("escalate", "none"):
            candidates.append(Step.parse(hit["penalty"]))
    step = max(candidates, key=lambda s: s.severity) if candidates else None
    return Decision(step, offence, tuple(h["rule"] for h in counted)), times


def next_step(offences: list[float], now: float, escalation: EscalationSettings) -> Step:
    """What the user's next escalating offence would cost (for "next time: ..." warnings)."""
    return ladder_step(len(prune(offences, now, escalation.decay)) + 1, escalation.steps)
