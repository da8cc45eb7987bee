"""A bot's own persistent store: ``self.store`` on every ``roomchat.bot.Bot`` (docs/bots.md, "The bot store").

Modelled on errbot's and maubot's per-plugin storage: each bot gets a
key-value store of its own, with JSON values, that outlives a restart. Its
methods are the plugins' ``roomchat.Store``'s (``get``, ``get_many``,
``set``, ``delete``, ``hash_set``, ``hash_get_all``, ``incr``), all ``async``.

Where it lives (the hosts hand it over; this module imports none of the server's code):

- a bot ``roomchat serve`` runs (``bots:`` with ``run: server``) uses the
  server's own durable store (the database of ``storage.url``; with
  ``cluster:``, Redis written through to it), under ``bot:<kind>:<ID>:``
  (``roomchat/bothost.py``);
- ``roomchat bot run`` opens a database of its own (``roomchat/botcli.py``):
  with ``--config``, the ``storage.url`` that config names (the server's
  database, so a bot moved between ``run: server`` and ``run: external`` keeps
  its data), else an SQLite file in ``--data DIR`` (default ``./data``);
- a bot built by hand (unit tests) gets ``BotStore.in_memory()``, forgotten
  when the process ends.

Values are JSON: a value that is not (a set, an object, NaN) is refused with
a ``TypeError`` naming the key, whatever the backend, and what is read back is
what JSON gives (tuples come back as lists, a dict's keys as strings).
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

__all__ = ["BOT_DATA_FILE", "BotStore", "KeyValue", "LocalKeyValue", "bot_namespace", "data_url"]

BOT_DATA_FILE = "roomchat-bots.sqlite3"
"""The SQLite file ``roomchat bot run --data DIR`` keeps bots' stores in."""


def bot_namespace(kind: str, bot_id: int | None = None) -> str:
    """The prefix of a bot's keys: ``bot:<kind>:<ID>`` (``bot:<kind>`` when its ID is not known)."""
    return f"bot:{kind}" if bot_id is None else f"bot:{kind}:{bot_id}"


def _json(key: str, value: Any) -> Any:
    """``value`` as JSON would give it back; a TypeError naming ``key`` if it is not JSON data."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"bot store: the value for {key!r} is not JSON data ({exc})") from None
    return json.loads(text)


def _ttl(ttl: float | None) -> float | None:
    if ttl is not None and (not isinstance(ttl, int | float) or isinstance(ttl, bool) or not math.isfinite(ttl)
                            or ttl <= 0):
        raise ValueError(f"bot store: ttl must be a number of seconds above 0 (got {ttl!r})")
    return ttl


class KeyValue(Protocol):
    """What a ``BotStore`` keeps its keys in: the server's ``KeyValueStore`` has these methods."""

    async def get(self, key: str) -> Any: ...
    async def get_many(self, keys: Sequence[str]) -> list[Any]: ...
    async def set(self, key: str, value: Any, ttl: float | None = None) -> None: ...
    async def delete(self, key: str) -> bool: ...
    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool: ...
    async def hash_get_all(self, key: str) -> dict[str, Any]: ...
    async def incr(self, key: str, amount: int = 1) -> int: ...


class LocalKeyValue:
    """A ``KeyValue`` in a dict, expiry on ``now`` (a bot's store when none was given: it ends with the process)."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._now = now

    def _live(self, key: str) -> Any:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] is not None and self._now() >= entry[1]:
            del self._data[key]
            return None
        return entry[0]

    def _expiry(self, key: str, ttl: float | None) -> float | None:
        return self._now() + ttl if ttl is not None else self._data.get(key, (None, None))[1]

    async def get(self, key: str) -> Any:
        """The value at ``key``, or None."""
        value = self._live(key)
        return None if isinstance(value, _Hash) else copy.deepcopy(value)

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """The values at ``keys``, in order."""
        return [await self.get(key) for key in keys]

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` at ``key``."""
        self._data[key] = (copy.deepcopy(value), self._now() + ttl if ttl is not None else None)

    async def delete(self, key: str) -> bool:
        """Forget ``key``; True if it held something."""
        held = self._live(key) is not None
        self._data.pop(key, None)
        return held

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        """Set one field of the hash at ``key``."""
        table = self._live(key)
        if not isinstance(table, _Hash):
            table = _Hash()
        self._data[key] = (table, self._expiry(key, ttl))
        if only_if_new and field in table:
            return False
        table[field] = copy.deepcopy(value)
        return True

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        """Every field of the hash at ``key``."""
        table = self._live(key)
        return copy.deepcopy(dict(table)) if isinstance(table, _Hash) else {}

    async def incr(self, key: str, amount: int = 1) -> int:
        """Add to the integer at ``key``."""
        current = self._live(key)
        value = (current if isinstance(current, int) else 0) + amount
        self._data[key] = (value, self._expiry(key, None))
        return value


class _Hash(dict[str, Any]):
    """A hash's fields (told apart from a value that happens to be a dict)."""


class BotStore:
    """One bot's key-value store: its own namespace on a ``KeyValueStore``, JSON values, optional expiry.

    ``durable`` says whether it outlives the process (False for
    ``in_memory``); ``shared`` whether other servers write the same store (a
    cluster); ``namespace`` is the prefix of its keys underneath. ``close()``
    releases a store the bot opened itself (``roomchat bot run``).
    """

    def __init__(self, kv: KeyValue, namespace: str, *, durable: bool = True, shared: bool = False,
                 close: Callable[[], Awaitable[None]] | None = None) -> None:
        if not namespace:
            raise ValueError("a bot store needs a namespace")
        self._kv = kv
        self._prefix = namespace + ":"
        self.namespace = namespace
        self.durable = durable
        self.shared = shared
        self._close = close

    @classmethod
    def in_memory(cls, namespace: str = "bot") -> BotStore:
        """A store in this process's memory only (a bot built without one: unit tests)."""
        return cls(LocalKeyValue(time.monotonic), namespace, durable=False)

    def _key(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise TypeError(f"bot store: a key is a non-empty string (got {key!r})")
        return self._prefix + key

    async def get(self, key: str) -> Any:
        """The value at ``key``, or None."""
        return await self._kv.get(self._key(key))

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """The values at ``keys``, in order (None where a key has none)."""
        return list(await self._kv.get_many([self._key(k) for k in keys]))

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (JSON data) at ``key``, forgotten ``ttl`` seconds from now if given."""
        await self._kv.set(self._key(key), _json(key, value), _ttl(ttl))

    async def delete(self, key: str) -> bool:
        """Forget ``key``; True if it held a value."""
        return bool(await self._kv.delete(self._key(key)))

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        """Set one field of the hash at ``key`` (with ``only_if_new``, only if it has none); True if set."""
        if not isinstance(field, str):
            raise TypeError(f"bot store: a hash field is a string (got {field!r})")
        return await self._kv.hash_set(self._key(key), field, _json(key, value), only_if_new, _ttl(ttl))

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        """Every field of the hash at ``key`` (``{}`` if none)."""
        return dict(await self._kv.hash_get_all(self._key(key)))

    async def incr(self, key: str, amount: int = 1) -> int:
        """Add ``amount`` to the integer at ``key`` (0 if none) and return the result."""
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError(f"bot store: incr takes an integer (got {amount!r})")
        return await self._kv.incr(self._key(key), amount)

    async def close(self) -> None:
        """Release what the store holds (the database connection ``roomchat bot run`` opened for it); idempotent."""
        close, self._close = self._close, None
        if close is not None:
            await close()

    def __repr__(self) -> str:
        return f"<BotStore {self.namespace!r}{'' if self.durable else ' (memory only)'}>"


def data_url(data_dir: str | Path) -> str:
    """The storage URL of the SQLite file ``roomchat bot run --data DIR`` uses."""
    return f"sqlite:///{Path(data_dir).resolve() / BOT_DATA_FILE}"
