"""The ``storage`` section and a room's ``history`` setting (docs/storage.md, README "Configuration").

Plain pydantic models with no roomchat imports, so ``roomchat.config`` can use
them without a cycle and without loading SQLAlchemy.

```yaml
storage:
  url: sqlite:///data/roomchat.sqlite3     # the default; relative to the config file's folder
  # (with no url, $ROOMCHAT_DATA_DIR or `roomchat serve --data DIR` moves the default file into DIR)
  # url: postgresql://roomchat@db.example/roomchat   (several servers: one PostgreSQL)
rooms:
  lobby:
    history: {keep: 1000, max_age: 30d}   # the default
  scratch:
    history: off
```
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PositiveFloat, PositiveInt, field_validator

DEFAULT_URL = "sqlite:///data/roomchat.sqlite3"
DEFAULT_FILE = "roomchat.sqlite3"
DATA_DIR_ENV = "ROOMCHAT_DATA_DIR"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(value: Any) -> float:
    """Seconds from a number of seconds or a string like ``90s``, ``15m``, ``12h``, ``30d``, ``2w``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration such as 30d, 12h, 15m or a number of seconds (got {value!r})")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"a duration must be more than 0 (got {value!r})")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HistoryConfig(_Strict):
    """How much of a room's history is kept: the last ``keep`` messages, none older than ``max_age``.

    Either limit may be null (no limit of that kind). ``history: off`` (or
    ``off: true``) keeps nothing: the room's messages are not recorded and what
    was kept goes at the next sweep.
    """

    keep: PositiveInt | None = Field(1000, description="the room keeps at most this many messages (null: no limit)")
    max_age: Duration | None = Field(
        30 * 86400.0, description="messages older than this go (30d, 12h, 15m, seconds; null: no limit)")
    off: bool = Field(False, description="true: the room keeps no history (what `history: off` says)")

    @property
    def kept(self) -> HistoryConfig | None:
        """These settings, or None when the room keeps no history (what ``History``'s room settings return)."""
        return None if self.off else self


def history_setting(value: Any) -> Any:
    """``history: off`` or ``false`` mean no history; ``on`` or ``true`` the defaults; else a mapping."""
    if value is True or value == "on":
        return {}
    if value is False or value == "off":
        return {"off": True}
    if not isinstance(value, dict | HistoryConfig):  # pydantic reports a ValueError (not a TypeError) as the key's
        raise ValueError(f"expected off, on, or {{keep: 1000, max_age: 30d}} (got {value!r})")  # noqa: TRY004
    return value


RoomHistory = Annotated[HistoryConfig, BeforeValidator(history_setting)]


class StorageConfig(_Strict):
    """Where history and durable state live, and how history is written and served."""

    url: str = Field(
        DEFAULT_URL,
        description="sqlite:///FILE (relative to the config file's folder) or postgresql://user@host/db")
    batch_window: PositiveFloat = Field(
        0.05, le=5.0, description="seconds the writer gathers messages before one commit: what a kill -9 may lose")
    batch_max: PositiveInt = Field(2000, description="most messages in one commit")
    queue_max: PositiveInt = Field(
        100_000, description="messages waiting for the database (while it is slow or down) before new ones are "
                             "not kept (event=history_not_kept)")
    history_max: PositiveInt = Field(
        500, le=10_000, description="most messages in one history event or get-history answer (the cap on `history`)")
    history_max_bytes: PositiveInt = Field(
        1_000_000, description="most bytes of message values in one history event or get-history answer")
    sweep_seconds: PositiveFloat = Field(60.0, description="how often retention and expired state are swept")
    tail_max: PositiveInt = Field(
        10_000, description="clusters: most recent messages per room kept in Redis for the other servers' readers")
    tail_seconds: PositiveFloat = Field(
        600.0, description="clusters: how long a recent message stays in Redis if its server never committed it")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        scheme = url.split(":", 1)[0].lower()
        if scheme not in _DRIVERS:
            raise ValueError(f"must start with sqlite:/// or postgresql:// (got {url!r})")
        if scheme.startswith("sqlite") and not url.split("://", 1)[-1].lstrip("/"):
            raise ValueError(f"an SQLite URL needs a file: sqlite:///data/roomchat.sqlite3 (got {url!r})")
        return url


# What a user may write -> the asyncio driver SQLAlchemy uses for it.
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def driver_url(url: str, base_dir: str | Path | None = None) -> str:
    """The SQLAlchemy URL for ``url``: the asyncio driver, and a relative SQLite file made absolute.

    A relative SQLite path is relative to ``base_dir`` (the config file's folder; the
    working directory when None). ``sqlite:///data/x.db`` is relative, ``sqlite:////var/x.db`` absolute.
    """
    scheme, rest = url.split("://", 1)
    driver = _DRIVERS[scheme.lower()]
    if driver.startswith("sqlite"):
        file = Path(rest.removeprefix("/"))
        if not file.is_absolute():
            file = Path(base_dir or ".").resolve() / file
        return f"{driver}:///{file}"
    return f"{driver}://{rest}"


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite driver URL (from ``driver_url``), or None for PostgreSQL."""
    if not url.startswith("sqlite"):
        return None
    return Path(url.split(":///", 1)[1].split("?", 1)[0])


def data_dir(given: str | Path | None = None) -> Path | None:
    """The folder the default database goes in: ``given`` (a ``--data DIR``), else ``$ROOMCHAT_DATA_DIR``.

    Relative to the working directory; None (neither given, or the variable set
    but empty) means the default's own place, ``data/`` in the config file's folder.
    """
    value = given or os.environ.get(DATA_DIR_ENV)
    return Path(value).resolve() if value else None


def with_data_dir(settings: StorageConfig, given: str | Path | None = None) -> StorageConfig:
    """``settings`` with the default SQLite file in ``data_dir(given)``; a ``url`` the config sets is kept.

    Without a data folder (``data_dir`` is None) the settings are returned as they are.
    """
    folder = data_dir(given)
    if folder is None or "url" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"url": f"sqlite:///{folder / DEFAULT_FILE}"})
