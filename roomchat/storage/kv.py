"""The durable key-value store: today's ``KeyValueStore`` operations, kept in the database.

Plugins' state (polls and their votes, the moderation plugin's bans, mutes and
locks, the moderator's rules and offence records) and bots' (the quiz's season
leaderboard) outlive a restart here.

- ``DatabaseKeyValue``: the store on one database (the durable half of the two
  below; ``roomchat bot run``'s bot store, roomchat/client/store.py, on its own
  connection). Expiry times are absolute, on the clock it is given (the server's),
  so a TTL means the same after a restart; expired entries read as missing and
  the sweep deletes them.
- ``MirroredKeyValue``: one server's store. The in-memory store answers every
  call at once (no database round trip on a message's path); every key that
  changed is written to the database by a background task, in batches, as
  history is (write-behind: a kill -9 loses at most the last ``batch_window``
  of changes, a clean shutdown writes them all), and ``load`` puts the
  database's live entries back into memory at start-up.
- ``Namespaced``: a view whose keys are ``<namespace>:<key>`` underneath (a
  plugin's or a bot's own namespace).
- ``WriteThrough``: a cluster's store. Redis stays the fast path (every read,
  and the atomic decisions: ``incr``, ``hash_set(only_if_new)``); each change is
  then written to the database, which keeps what Redis alone would lose (a
  Redis restarted without persistence, flushed, replaced). ``restore`` puts the
  database's live entries back into Redis; the cluster calls it when it finds
  Redis empty (``event=redis_data_lost``, or the first server of a new Redis).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Text, and_, case, cast, delete, or_, select

from ..logs import event
from ..state.base import KeyValueStore
from ..state.memory import MemoryKeyValue
from .database import Database
from .errors import StorageError, StorageUnavailable
from .schema import kv, kv_fields

log = logging.getLogger("roomchat.storage")


_CHUNK = 500  # keys per IN list (SQLite's limit on a statement's variables)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Entry:
    """One live entry, for ``WriteThrough.restore``: a value or a hash's fields, and seconds left (None: no end)."""

    key: str
    value: Any
    fields: dict[str, Any] | None
    ttl: float | None


class DatabaseKeyValue(KeyValueStore):
    """``KeyValueStore`` on the ``kv`` and ``kv_fields`` tables; ``now`` is the clock expiry times are read on."""

    def __init__(self, db: Database, now: Callable[[], float] = time.time) -> None:
        self.db = db
        self.now = now

    def _alive(self, now: float) -> Any:
        return or_(kv.c.expires_at.is_(None), kv.c.expires_at > now)

    def _expired(self, now: float) -> Any:
        return and_(kv.c.expires_at.is_not(None), kv.c.expires_at <= now)

    async def get(self, key: str) -> Any:
        """The value at ``key``, or None (missing, expired, or a hash)."""
        return (await self.get_many([key]))[0]

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """The values at ``keys``, in order (None where missing), in one read."""
        if not keys:
            return []
        now = self.now()
        async with self.db.transaction(readonly=True) as conn:
            rows = await conn.execute(select(kv.c.key, kv.c.value).where(
                kv.c.key.in_(set(keys)), kv.c.kind == "value", self._alive(now)))
            found = {row.key: row.value for row in rows}
        return [json.loads(found[k]) if k in found else None for k in keys]

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` at ``key`` (replacing a hash), forgotten after ``ttl`` seconds if given."""
        expires = self.now() + ttl if ttl is not None else None
        stmt = self.db.insert(kv).values(key=key, kind="value", value=_dump(value), expires_at=expires)
        async with self.db.transaction() as conn:
            await conn.execute(delete(kv_fields).where(kv_fields.c.key == key))
            await conn.execute(stmt.on_conflict_do_update(index_elements=[kv.c.key], set_={
                "kind": "value", "value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at}))

    async def put_int(self, key: str, value: int) -> None:
        """Store the integer ``value`` at ``key``, keeping its expiry (what Redis' INCR decided, written through)."""
        stmt = self.db.insert(kv).values(key=key, kind="value", value=str(value), expires_at=None)
        async with self.db.transaction() as conn:
            await conn.execute(stmt.on_conflict_do_update(index_elements=[kv.c.key],
                                                          set_={"kind": "value", "value": stmt.excluded.value}))

    async def delete(self, key: str) -> bool:
        """Forget ``key``; True if it held something live."""
        now = self.now()
        async with self.db.transaction() as conn:
            live = await conn.scalar(select(kv.c.key).where(kv.c.key == key, self._alive(now)))
            await conn.execute(delete(kv_fields).where(kv_fields.c.key == key))
            await conn.execute(delete(kv).where(kv.c.key == key))
        return live is not None

    async def _hash_row(self, conn: Any, key: str, now: float, ttl: float | None) -> None:
        """Make ``key`` a live hash (emptied if it had expired), with the expiry ``ttl`` gives or it had."""
        row = (await conn.execute(select(kv.c.kind, kv.c.expires_at).where(kv.c.key == key))).first()
        expired = row is not None and row.expires_at is not None and row.expires_at <= now
        if row is not None and expired:
            await conn.execute(delete(kv_fields).where(kv_fields.c.key == key))
        elif row is not None and row.kind != "hash":
            raise StorageError(f"key {key!r} holds a value, not a hash")
        expires = now + ttl if ttl is not None else (None if row is None or expired else row.expires_at)
        stmt = self.db.insert(kv).values(key=key, kind="hash", value=None, expires_at=expires)
        await conn.execute(stmt.on_conflict_do_update(index_elements=[kv.c.key], set_={
            "kind": "hash", "value": None, "expires_at": stmt.excluded.expires_at}))

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        """Set one field of the hash at ``key``; with ``only_if_new``, not if it exists. True if set."""
        stmt = self.db.insert(kv_fields).values(key=key, field=field, value=_dump(value))
        async with self.db.transaction() as conn:
            await self._hash_row(conn, key, self.now(), ttl)
            if only_if_new:
                result = await conn.execute(stmt.on_conflict_do_nothing())
                return bool(result.rowcount)
            await conn.execute(stmt.on_conflict_do_update(index_elements=[kv_fields.c.key, kv_fields.c.field],
                                                          set_={"value": stmt.excluded.value}))
            return True

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        """Every field of the live hash at ``key``."""
        now = self.now()
        async with self.db.transaction(readonly=True) as conn:
            rows = await conn.execute(select(kv_fields.c.field, kv_fields.c.value)
                                      .join(kv, kv.c.key == kv_fields.c.key)
                                      .where(kv_fields.c.key == key, self._alive(now)))
            return {row.field: json.loads(row.value) for row in rows}

    async def incr(self, key: str, amount: int = 1) -> int:
        """Add to the integer at ``key`` (0 if missing or expired) and return the result; its expiry stays."""
        now = self.now()
        expired = self._expired(now)
        stmt = self.db.insert(kv).values(key=key, kind="value", value=str(amount), expires_at=None)
        update = stmt.on_conflict_do_update(index_elements=[kv.c.key], set_={
            "value": case((expired, str(amount)), else_=cast(cast(kv.c.value, BigInteger) + amount, Text)),
            "expires_at": case((expired, None), else_=kv.c.expires_at),
        }).returning(kv.c.value)
        async with self.db.transaction() as conn:
            return int(await conn.scalar(update))

    async def write(self, entries: Sequence[Entry], gone: Sequence[str]) -> None:
        """Make the database hold exactly ``entries`` (their keys replaced whole) and none of the ``gone`` keys.

        One transaction: what the durable mirror writes for the keys that changed.
        """
        now = self.now()
        keys = [e.key for e in entries] + list(gone)
        rows = [{"key": e.key, "kind": "hash" if e.fields is not None else "value",
                 "value": None if e.fields is not None else _dump(e.value),
                 "expires_at": now + e.ttl if e.ttl is not None else None} for e in entries]
        fields = [{"key": e.key, "field": name, "value": _dump(value)}
                  for e in entries if e.fields is not None for name, value in e.fields.items()]
        async with self.db.transaction() as conn:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start:start + _CHUNK]
                await conn.execute(delete(kv_fields).where(kv_fields.c.key.in_(chunk)))
                await conn.execute(delete(kv).where(kv.c.key.in_(chunk)))
            if rows:
                await conn.execute(kv.insert(), rows)
            if fields:
                await conn.execute(kv_fields.insert(), fields)

    async def sweep(self) -> int:
        """Delete expired entries; how many keys went."""
        now = self.now()
        async with self.db.transaction() as conn:
            gone = select(kv.c.key).where(self._expired(now))
            await conn.execute(delete(kv_fields).where(kv_fields.c.key.in_(gone)))
            result = await conn.execute(delete(kv).where(self._expired(now)))
            return int(result.rowcount or 0)

    async def entries(self, prefix: str = "") -> AsyncIterator[Entry]:
        """Every live entry (whose key starts with ``prefix``), values and hashes."""
        now = self.now()
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(select(kv.c.key, kv.c.kind, kv.c.value, kv.c.expires_at).where(
                kv.c.key.startswith(prefix, autoescape=True), self._alive(now)).order_by(kv.c.key))).all()
            fields: dict[str, dict[str, Any]] = {}
            for field_row in await conn.execute(select(kv_fields.c.key, kv_fields.c.field, kv_fields.c.value).where(
                    kv_fields.c.key.startswith(prefix, autoescape=True))):
                fields.setdefault(field_row.key, {})[field_row.field] = json.loads(field_row.value)
        for row in rows:
            ttl = row.expires_at - now if row.expires_at is not None else None
            if row.kind == "hash":
                yield Entry(row.key, None, fields.get(row.key, {}), ttl)
            else:
                yield Entry(row.key, json.loads(row.value), None, ttl)


class Namespaced(KeyValueStore):
    """A view of a store whose keys are ``<namespace>:<key>`` underneath: one plugin's or one bot's."""

    def __init__(self, store: KeyValueStore, namespace: str) -> None:
        if not namespace or ":" in namespace:
            raise ValueError(f"a namespace is a non-empty name without ':' (got {namespace!r})")
        self.store = store
        self.namespace = namespace

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    async def get(self, key: str) -> Any:
        return await self.store.get(self._key(key))

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """The values at ``keys``, in order."""
        getter = getattr(self.store, "get_many", None)
        if getter is not None:
            return list(await getter([self._key(k) for k in keys]))
        return [await self.store.get(self._key(k)) for k in keys]

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        await self.store.set(self._key(key), value, ttl)

    async def delete(self, key: str) -> bool:
        return bool(await self.store.delete(self._key(key)))

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        return await self.store.hash_set(self._key(key), field, value, only_if_new, ttl)

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        return await self.store.hash_get_all(self._key(key))

    async def incr(self, key: str, amount: int = 1) -> int:
        return await self.store.incr(self._key(key), amount)


class WriteThrough(KeyValueStore):
    """Redis (``fast``) answers; every change is then written to the database (``durable``).

    A change Redis made is in effect even if the database cannot take it then:
    the store logs ``state_not_durable`` once per outage (the change would not
    outlive a loss of Redis' data) and ``state_durable`` when writes work again.
    """

    def __init__(self, fast: KeyValueStore, durable: DatabaseKeyValue) -> None:
        self.fast = fast
        self.durable = durable
        self._failing = False

    async def _through(self, write: Callable[[], Any]) -> None:
        try:
            await write()
        except StorageUnavailable as exc:
            if not self._failing:
                event(log, "state_not_durable", logging.WARNING, reason=exc.reason,
                      effect="changes hold in Redis and are written to the database again once it answers")
                self._failing = True
            return
        if self._failing:
            event(log, "state_durable", url=self.durable.db.url)
            self._failing = False

    async def get(self, key: str) -> Any:
        return await self.fast.get(key)

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """The values at ``keys``, in order, from Redis."""
        getter = getattr(self.fast, "get_many", None)
        if getter is not None:
            return list(await getter(keys))
        return [await self.fast.get(k) for k in keys]

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        await self.fast.set(key, value, ttl)
        await self._through(lambda: self.durable.set(key, value, ttl))

    async def delete(self, key: str) -> bool:
        existed = await self.fast.delete(key)
        await self._through(lambda: self.durable.delete(key))
        return bool(existed)

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        done = await self.fast.hash_set(key, field, value, only_if_new, ttl)
        if done:
            await self._through(lambda: self.durable.hash_set(key, field, value, False, ttl))
        return done

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        return await self.fast.hash_get_all(key)

    async def incr(self, key: str, amount: int = 1) -> int:
        value = await self.fast.incr(key, amount)
        await self._through(lambda: self.durable.put_int(key, value))
        return value

    async def restore(self) -> int:
        """Put every live entry of the database back into Redis (after Redis lost its data); how many keys."""
        count = 0
        async for entry in self.durable.entries():
            if entry.fields is not None:
                for name, value in entry.fields.items():
                    await self.fast.hash_set(entry.key, name, value, False, entry.ttl)
            else:
                await self.fast.set(entry.key, entry.value, entry.ttl)
            count += 1
        event(log, "state_restored", keys=count)
        return count


class MirroredKeyValue(KeyValueStore):
    """One server's durable store: memory answers, and the keys that changed reach the database in batches.

    Reads and writes are the in-memory store's (on the server's clock), so no
    plugin waits for the database on a message's path. A write marks its key;
    the mirror's task (``run``) wakes, waits ``window`` seconds for more, and
    writes the marked keys as they are then (a key changed ten times in a
    window is written once). While the database is down the keys stay marked
    and are retried (``state_not_durable`` once, ``state_durable`` when it
    answers again); the server keeps working from memory. ``load`` fills memory
    from the database at start-up; ``stop`` writes what is marked (bounded).
    """

    def __init__(self, memory: MemoryKeyValue, durable: DatabaseKeyValue, window: float = 0.05) -> None:
        self.memory = memory
        self.durable = durable
        self.window = window
        self._hashes: set[str] = set()   # keys holding a hash (the memory store does not tell them from values)
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._failing = False

    # -- life ------------------------------------------------------------------------------------------------
    async def load(self) -> int:
        """Put the database's live entries into memory (at start-up, before anything reads); how many keys."""
        count = 0
        async for entry in self.durable.entries():
            if entry.fields is not None:
                self._hashes.add(entry.key)
                for name, value in entry.fields.items():
                    await self.memory.hash_set(entry.key, name, value, False, entry.ttl)
            else:
                await self.memory.set(entry.key, entry.value, entry.ttl)
            count += 1
        return count

    async def run(self, sweep_seconds: float = 60.0) -> None:
        """Write changed keys until cancelled (and sweep the database's expired entries every ``sweep_seconds``)."""
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + sweep_seconds
        pause = 0.2
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_sweep - loop.time()))
                await asyncio.sleep(self.window)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + sweep_seconds
                    await self.durable.sweep()
                pause = 0.2
            except StorageUnavailable:
                await asyncio.sleep(pause)  # the keys stay marked; try again
                pause = min(pause * 2, 5.0)
                self._wake.set()

    async def flush(self) -> None:
        """Write every marked key now, as it is in memory; raises ``StorageUnavailable`` (the keys stay marked)."""
        if not self._dirty:
            return
        keys, self._dirty = self._dirty, set()
        entries: list[Entry] = []
        gone: list[str] = []
        for key in keys:
            found = self.memory.entry(key)
            if found is None:
                gone.append(key)
                continue
            value, expires = found
            ttl = self.memory.seconds_left(expires)
            if key in self._hashes:
                entries.append(Entry(key, None, dict(value), ttl))
            else:
                entries.append(Entry(key, value, None, ttl))
        try:
            await self.durable.write(entries, gone)
        except BaseException as exc:
            # Marked again on any failure, cancellation included: shutdown cancels the mirror's task,
            # possibly in the middle of this write, and ``stop`` must still find these keys to write.
            self._dirty |= keys
            if not isinstance(exc, StorageUnavailable):
                raise
            if not self._failing:
                event(log, "state_not_durable", logging.WARNING, reason=exc.reason, keys=len(self._dirty),
                      effect="state holds in memory and is written to the database once it answers")
                self._failing = True
            raise
        if self._failing:
            event(log, "state_durable", url=self.durable.db.url)
            self._failing = False

    async def stop(self, timeout: float = 5.0) -> int:
        """Write what is marked (for at most ``timeout`` s); how many keys could not be written."""
        try:
            async with asyncio.timeout(timeout):
                while self._dirty:
                    try:
                        await self.flush()
                    except StorageUnavailable:
                        await asyncio.sleep(0.2)
        except TimeoutError:
            event(log, "state_not_durable", logging.ERROR, reason="the database did not take them before shutdown",
                  keys=len(self._dirty))
        return len(self._dirty)

    @property
    def pending(self) -> int:
        """How many changed keys wait to be written."""
        return len(self._dirty)

    def _changed(self, key: str, is_hash: bool | None) -> None:
        if is_hash is True:
            self._hashes.add(key)
        elif is_hash is False:
            self._hashes.discard(key)
        self._dirty.add(key)
        if not self._wake.is_set():
            self._wake.set()

    # -- the store ---------------------------------------------------------------------------------------------
    async def get(self, key: str) -> Any:
        return await self.memory.get(key)

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """The values at ``keys``, in order, from memory."""
        return await self.memory.get_many(keys)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        await self.memory.set(key, value, ttl)
        self._changed(key, False)

    async def delete(self, key: str) -> bool:
        existed = await self.memory.delete(key)
        self._changed(key, False)
        return existed

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        done = await self.memory.hash_set(key, field, value, only_if_new, ttl)
        self._changed(key, True)
        return done

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        return await self.memory.hash_get_all(key)

    async def incr(self, key: str, amount: int = 1) -> int:
        value = await self.memory.incr(key, amount)
        self._changed(key, False)
        return value

