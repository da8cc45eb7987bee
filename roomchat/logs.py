"""Structured, quiet logs: one line per event, as ``key=value`` text or JSON.

At the default level (info) the server logs start-up, shutdown, and one line
per join, leave and refusal. Message contents are never logged at info.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event: ``event=name`` followed by its fields."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})


class TextFormatter(logging.Formatter):
    """``time level logger event=... key=value ...``: easy to read and to grep."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [f"{stamp}.{int(record.msecs):03d}Z", record.levelname.lower(), record.name]
        fields: dict[str, Any] = getattr(record, "fields", None) or {}
        message = record.getMessage()
        parts.append(_pair("event" if fields or " " not in message else "message", message))
        parts.extend(_pair(k, v) for k, v in fields.items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _pair(key: str, value: Any) -> str:
    text = str(value)
    # Quote anything a client chose (a room name) that could split or spoof a line: spaces,
    # quotes, '=', and every control character (\r, ANSI escapes...), which json.dumps escapes.
    if not text or any(c in ' "=' or not c.isprintable() for c in text):
        text = "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in json.dumps(text, ensure_ascii=False))
    return f"{key}={text}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **(getattr(record, "fields", None) or {}),
        }
        if record.exc_info:
            doc["traceback"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Send roomchat's logs to stderr in the chosen format; keep libraries quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("roomchat").setLevel(level.upper())
