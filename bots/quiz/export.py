"""The teacher's results export: one CSV row per question per student.

Columns: question number, question, kind, accepted answers, student ID,
student name, the answer given (empty: no answer), how it was read, correct
(yes/no/empty), seconds taken, points, speed bonus, streak bonus, points in
total, and the student's running score. Every student who answered at least
once has a row for every question played, so a spreadsheet pivot works.

Cells a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-`` or ``@``, and not a number) get a leading apostrophe: a student named
``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import csv
import io
import json
import re

from .game import QuizRun

COLUMNS = [
    "question", "text", "kind", "accepted", "student_id", "student", "answer", "read_as", "correct",
    "seconds", "points", "speed_bonus", "streak_bonus", "total_points", "running_score",
]
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def results_csv(run: QuizRun) -> str:
    """The run's results as CSV text (with a header row; lines end in CRLF as RFC 4180 says)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    players = sorted(run.players.values(), key=lambda p: (p.name.casefold(), p.id))
    running = {p.id: 0 for p in players}
    for result in run.results:
        question = result.question
        for player in players:
            answer = result.answers.get(player.id)
            if answer is not None:
                running[player.id] += answer.points.total
            row = [
                result.index + 1, question.text, question.kind, " | ".join(question.answers),
                player.id, player.name,
                answer.given if answer else "", answer.shown if answer else "",
                ("yes" if answer.correct else "no") if answer else "",
                f"{answer.elapsed:.1f}" if answer else "",
                answer.points.base if answer else 0, answer.points.speed if answer else 0,
                answer.points.streak if answer else 0, answer.points.total if answer else 0,
                running[player.id],
            ]
            writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def _size(text: str) -> int:
    """Bytes ``text`` takes inside a JSON message (escapes and UTF-8 counted)."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def split_csv(text: str, max_bytes: int) -> list[str]:
    """Cut CSV text into parts of at most ``max_bytes`` (as JSON), at row ends where possible.

    Rooms limit a message's size, so a large export travels as several
    ``quiz-export`` messages; joining the parts in order gives the file back.
    """
    parts: list[str] = []
    current, size = "", 0
    for line in text.splitlines(keepends=True):
        while _size(line) > max_bytes:  # a single huge row: cut it anywhere
            if current:
                parts.append(current)
                current, size = "", 0
            cut = max_bytes // 6 or 1  # a character is at most 6 bytes in JSON (\uXXXX)
            parts.append(line[:cut])
            line = line[cut:]
        line_size = _size(line)
        if current and size + line_size > max_bytes:
            parts.append(current)
            current, size = "", 0
        current += line
        size += line_size
    if current or not parts:
        parts.append(current)
    return parts
