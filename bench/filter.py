"""The moderator filter's CPU cost per KB of hostile text.

    .venv/bin/python bench/filter.py                     # 4 KB, 16 KB and 100 KB of each shape
    .venv/bin/python bench/filter.py --sizes 16 --rounds 1

The filter runs synchronously on the server's event loop, before delivery, on
every checked message: its cost per message is time no other client of that
server is served. This runs the filter's rules (``RoomFilter.check``, exactly
what the server runs) with the default ``classroom`` rules of
``config/roomchat.yaml`` plus teacher patterns, on texts shaped to make a
backtracking matcher work hard:

- ``leet-chunk``: a long word and a leet character elsewhere (``aaa...a 1``);
- ``letter-run``: one letter repeated (``fff...f``), against ``*fuck*``;
- ``banned-words``: a banned word over and over (refused after ``MAX_HITS``);
- ``insults``: a redacted word over and over;
- ``separators``, ``spaced``, ``dotted``: the evasion views' raw material
  (``a......``, ``a a a a``, ``s.h.i.t.s.h.i.t``);
- ``domain-chain``, ``www``, ``schemes``: the link finder's (``a.a.a.``,
  ``www.www.``, ``http://http://``);
- ``lookalikes``, ``fullwidth``: non-ASCII text through case folding and look-alikes;
- ``many-letters``: every letter of the Basic Multilingual Plane in turn (tens of thousands
  of distinct characters, more than the per-character fold's cache holds, so each is folded
  afresh: ICU's skeleton and transliteration for the look-alike scripts' letters);
- ``capitals``: shouting, redacted to lower case;
- ``(a+)+$``: the issue's catastrophic teacher pattern on ``aaa...a!``;
- ``x.*y|x``: a teacher pattern that makes every search scan to the end.

Printed per shape and size: the median CPU time (of this thread) of
``--rounds`` runs, and that time per KB of UTF-8 text. Linear matching shows
the same ms/KB at every size. Prints figures only; it asserts nothing,
starts no server and uses no network.
"""

from __future__ import annotations

import argparse
import statistics
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from roomchat_bots.moderator.rules import RoomFilter, content_of
from roomchat_bots.moderator.settings import FilterSettings

ROOT = Path(__file__).resolve().parents[1]
TEACHER_PATTERNS = ["(a+)+$", "x.*y|x", r"n[i1]+gg\w*"]


def classroom_rules() -> dict[str, Any]:
    """The default config's moderator rules, with the teacher patterns added as a list of their own."""
    config = yaml.safe_load((ROOT / "config" / "roomchat.yaml").read_text())
    settings = next(b["settings"] for b in config["bots"] if b["kind"] == "moderator")
    rules = {k: v for k, v in settings.items() if k in FilterSettings.model_fields}
    rules["words"] = [*rules["words"], {"name": "teacher", "patterns": TEACHER_PATTERNS, "action": "block"}]
    rules["flood"] = {"enabled": False}  # every round is a new message of the same user
    rules["repeat"] = {"enabled": False}
    return rules


def repeat_to(unit: str, size: int) -> str:
    """``unit`` repeated (or cut) to ``size`` bytes of UTF-8 (about)."""
    whole = unit * max(1, size // len(unit.encode()))
    return whole[:max(1, len(whole) * size // len(whole.encode()))] if len(whole.encode()) > size * 1.1 else whole


# Every letter of the BMP, in code point order, a space after every eighth: words of distinct letters.
_ALL_LETTERS = [chr(cp) for cp in range(0x80, 0x10000) if unicodedata.category(chr(cp)).startswith("L")]
LETTERS = " ".join("".join(_ALL_LETTERS[i:i + 8]) for i in range(0, len(_ALL_LETTERS), 8))


SHAPES: dict[str, Callable[[int], str]] = {
    "leet-chunk": lambda n: repeat_to("a", n - 2) + " 1",
    "letter-run": lambda n: repeat_to("f", n),
    "banned-words": lambda n: repeat_to("shit ", n),
    "insults": lambda n: repeat_to("idiot ", n),
    "separators": lambda n: "a" + repeat_to(".", n - 1),
    "spaced": lambda n: repeat_to("a ", n),
    "dotted": lambda n: repeat_to("s.h.i.t.", n),
    "domain-chain": lambda n: repeat_to("a.", n),
    "www": lambda n: repeat_to("www.", n),
    "schemes": lambda n: repeat_to("http://", n),
    "lookalikes": lambda n: repeat_to("Ѕһіt ", n),
    "fullwidth": lambda n: repeat_to("ｆ", n),
    "many-letters": lambda n: repeat_to(LETTERS, n),
    "capitals": lambda n: repeat_to("WHY NOT ", n),
    "(a+)+$": lambda n: repeat_to("a", n - 1) + "!",
    "x.*y|x": lambda n: repeat_to("x ", n),
}


def cost(room_filter: RoomFilter, text: str, rounds: int) -> float:
    """The median CPU seconds of ``rounds`` checks of ``text`` (each on fresh caches, as a new message is)."""
    times = []
    for round_ in range(rounds):
        fresh = text + " " * (round_ + 1)  # a new text each round: the views' caches do not help
        content = content_of(fresh, True)
        assert content is not None
        start = time.thread_time()
        room_filter.check(2, content, now=float(round_))
        times.append(time.thread_time() - start)
    return statistics.median(times)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 100], help="text sizes, in KB")
    parser.add_argument("--rounds", type=int, default=3, help="runs per shape and size (the median is printed)")
    args = parser.parse_args()
    room_filter = RoomFilter(FilterSettings.model_validate(classroom_rules()), moderator_id=901)
    print(f"{'shape':<14}" + "".join(f"{f'{kb} KB: ms':>14}{'ms/KB':>8}" for kb in args.sizes))
    worst = 0.0
    for name, make in SHAPES.items():
        cells = []
        for kb in args.sizes:
            text = make(kb * 1024)
            seconds = cost(room_filter, text, args.rounds)
            per_kb = seconds * 1000 / (len(text.encode()) / 1024)
            worst = max(worst, per_kb)
            cells.append(f"{seconds * 1000:>14.1f}{per_kb:>8.2f}")
        print(f"{name:<14}" + "".join(cells), flush=True)
    print(f"worst: {worst:.2f} ms of CPU per KB of hostile text")


if __name__ == "__main__":
    main()
