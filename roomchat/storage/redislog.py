"""A cluster's message ids and recent-messages tail in Redis, and the history service that uses them.

One Lua script, run for every delivered message, does in one atomic step:

1. the id: ``max(last + 1, Redis' clock in µs, floor)`` from one counter
   (``<prefix>:history:seq``) shared by every server and room, so ids are
   unique and ordered across the cluster (``roomchat.storage.ids``);
2. the tail: the message's data (with its id) into its room's sorted set
   ``<prefix>:history:tail:<room>`` (score = id), capped in count and age,
   where every server's readers find what this server delivered but has not
   committed to the database yet;
3. optionally the publish of the delivery itself (python-socketio's Redis
   channel), so the order of ids *is* the order in which every server
   receives the messages: a client that saw id N has seen every earlier
   message of the room addressed to it (what ``since`` relies on).

Calls from one server go through one connection in order (``append``
pipelines whatever is waiting, and resolves the callers in the order Redis
answered), so this server's own connections also get its messages in id order.

A reader takes ``snapshot`` (the counter and the room's tail, in one step)
before reading the database; a writer removes its records from the tail once
committed (``forget``). A record whose server died before committing stays
until the tail's age or count cap removes it, and is read from the tail
meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import RedisError

from ..logs import event
from .config import StorageConfig
from .database import Database
from .history import History, RoomSettings, _now_ms
from .ids import format_id
from .records import Record

log = logging.getLogger("roomchat.storage")

# A placeholder for the id in JSON the caller encodes before the id exists: random per process, so no
# message content can contain it, and made of characters JSON never escapes.
MARKER = "rcid" + secrets.token_hex(12)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

_APPEND = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local seq = math.max(last + 1, now, tonumber(ARGV[1]))
local id = string.format('%016.0f', seq)
redis.call('SET', KEYS[1], id)
if ARGV[2] == '1' then
  local cap = tonumber(ARGV[5])
  local age = tonumber(ARGV[6])
  redis.call('ZADD', KEYS[2], id, ARGV[3] .. id .. ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', now - age))
  local n = redis.call('ZCARD', KEYS[2])
  if n > cap then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - cap - 1) end
  redis.call('PEXPIRE', KEYS[2], math.floor(age / 1000) + 1000)
end
if ARGV[7] ~= '' then redis.call('PUBLISH', ARGV[7], ARGV[8] .. id .. ARGV[9]) end
return id
"""

_SNAPSHOT = """
return {redis.call('GET', KEYS[1]) or '0', redis.call('ZRANGE', KEYS[2], 0, -1)}
"""

_FLOOR = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if floor > last then redis.call('SET', KEYS[1], string.format('%016.0f', floor)) end
return redis.call('GET', KEYS[1]) or '0'
"""


def split_at_marker(text: str) -> tuple[str, str]:
    """The parts of ``text`` before and after its one ``MARKER`` (the id goes between them)."""
    head, found, tail = text.partition(MARKER)
    if not found:
        raise ValueError("the encoded text does not contain the id marker")
    return head, tail


class Append:
    """One message to append: its room, its data (``"id"`` is filled in) and an optional publish."""

    __slots__ = ("channel", "data_parts", "future", "keep", "publish_parts", "room")

    def __init__(self, room: str, data_parts: tuple[str, str], keep: bool, channel: str,
                 publish_parts: tuple[str, str]) -> None:
        self.room = room
        self.data_parts = data_parts
        self.keep = keep
        self.channel = channel
        self.publish_parts = publish_parts
        self.future: asyncio.Future[str] = asyncio.get_running_loop().create_future()


class RedisRoomLog:
    """The id counter and the rooms' tails of one cluster (one key prefix) on one Redis."""

    def __init__(self, client: Any, prefix: str, tail_max: int, tail_seconds: float) -> None:
        self.client = client  # a redis.asyncio.Redis
        self.prefix = prefix
        self.tail_max = tail_max
        self.tail_us = int(tail_seconds * 1_000_000)
        self.floor = 0
        self._append = client.register_script(_APPEND)
        self._snapshot = client.register_script(_SNAPSHOT)
        self._floor = client.register_script(_FLOOR)
        self._waiting: list[Append] = []
        self._sender: asyncio.Task[None] | None = None

    @property
    def seq_key(self) -> str:
        """The cluster's id counter."""
        return f"{self.prefix}:history:seq"

    def tail_key(self, room: str) -> str:
        """A room's tail of recent messages."""
        return f"{self.prefix}:history:tail:{room}"

    async def raise_floor(self, floor: int) -> int:
        """Never hand out ``floor`` or below (the database's highest id, at start-up); the counter after."""
        self.floor = max(self.floor, floor)
        return int(await self._floor(keys=[self.seq_key], args=[floor]))

    async def append(self, room: str, data_json: str, keep: bool, channel: str = "", payload: str = "") -> int:
        """Give a message its id, put it in its room's tail (``keep``) and publish ``payload`` on ``channel``.

        ``data_json`` (and ``payload``, if any) hold ``MARKER`` where the id goes.
        Callers resume in the order Redis ran their scripts.
        """
        item = Append(room, split_at_marker(data_json), keep, channel,
                      split_at_marker(payload) if channel else ("", ""))
        self._waiting.append(item)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send(), name="history-redis-append")
        return int(await item.future)

    async def _send(self) -> None:
        """Pipeline every waiting append on one connection; resolve them in Redis' order."""
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for item in batch:
                        await self._append(keys=[self.seq_key, self.tail_key(item.room)], client=pipe, args=[
                            self.floor, "1" if item.keep else "0", item.data_parts[0], item.data_parts[1],
                            self.tail_max, self.tail_us, item.channel, item.publish_parts[0],
                            item.publish_parts[1]])
                    answers = await pipe.execute(raise_on_error=False)
            except (RedisError, OSError, TimeoutError) as exc:  # Redis is away: every caller of this batch hears it
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            for item, answer in zip(batch, answers, strict=True):
                if item.future.done():
                    continue
                if isinstance(answer, Exception):
                    item.future.set_exception(answer)
                else:
                    item.future.set_result(answer.decode() if isinstance(answer, bytes) else str(answer))

    async def snapshot(self, room: str) -> tuple[int, list[Record]]:
        """(the highest id handed out, the room's tail as records), read in one step."""
        last, members = await self._snapshot(keys=[self.seq_key, self.tail_key(room)])
        records = []
        for member in members:
            text = member.decode() if isinstance(member, bytes) else member
            record = Record.from_data(room, json.loads(text))
            record.tail_member = text
            records.append(record)
        return int(last), records

    async def forget(self, records: Sequence[Record]) -> None:
        """Remove committed records from their rooms' tails."""
        by_room: dict[str, list[str]] = {}
        for record in records:
            if record.tail_member is not None:
                by_room.setdefault(record.room, []).append(record.tail_member)
        if not by_room:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for room, members in by_room.items():
                pipe.zrem(self.tail_key(room), *members)
            await pipe.execute()


class RedisTail:
    """The ``Tail`` of a cluster: the shared counter and the room's Redis tail."""

    def __init__(self, room_log: RedisRoomLog) -> None:
        self.room_log = room_log

    async def snapshot(self, room: str) -> tuple[int, list[Record]]:
        return await self.room_log.snapshot(room)


class ClusterHistory(History):
    """``History`` for one server of a cluster: ids and the tail in Redis, the database shared by every server.

    Instead of ``assign`` + ``record``, the delivery path calls ``deliver``,
    which gives the message its id, puts it in the tail and publishes it in one
    Redis step, then queues it for this server's writer.
    """

    def __init__(self, db: Database, settings: StorageConfig, room_settings: RoomSettings, redis_client: Any,
                 prefix: str, now_ms: Callable[[], int] = _now_ms) -> None:
        super().__init__(db, settings, room_settings, now_ms)
        self.room_log = RedisRoomLog(redis_client, prefix, settings.tail_max, settings.tail_seconds)
        self.tail = RedisTail(self.room_log)

    async def start(self) -> None:
        await super().start()
        try:
            await self.room_log.raise_floor(self.allocator.last)
        except (RedisError, OSError, TimeoutError) as exc:  # the cluster waits for Redis; ids then follow its clock
            event(log, "history_floor_not_set", logging.WARNING, reason=str(exc) or type(exc).__name__)

    def assign(self) -> int:
        raise RuntimeError("a cluster's ids come from Redis: use ClusterHistory.deliver")

    async def deliver(self, room: str, data: dict[str, Any],
                      payload: Callable[[dict[str, Any]], str] | None = None, channel: str = "",
                      keep: bool | None = None) -> dict[str, Any]:
        """Give ``data`` (a ``message`` event's data without its id) its id, tail entry and publish; keep it.

        ``payload(data)`` encodes what goes on ``channel`` (the caller's pub/sub
        message carrying ``data``); it is called with the id still a placeholder.
        ``keep``: whether the room keeps history (its settings are asked when None).
        Returns ``data`` with its id. Raises Redis' error when Redis is away: the
        message then went nowhere.
        """
        data["id"] = MARKER
        data_json = _JSON.encode(data)
        published = payload(data) if payload is not None else ""
        if keep is None:
            keep = self.keeps(room)
        seq = await self.room_log.append(room, data_json, keep, channel if payload is not None else "", published)
        data["id"] = format_id(seq)
        if keep:
            head, tail = split_at_marker(data_json)
            record = Record.from_data(room, data)
            record.tail_member = head + data["id"] + tail
            self.writer.add(record)
        return data

    async def _committed(self, batch: Sequence[Record]) -> None:
        try:
            await self.room_log.forget(batch)
        except (RedisError, OSError, TimeoutError) as exc:  # the tail's age cap removes them instead
            event(log, "history_tail_forget_failed", logging.WARNING, reason=str(exc), messages=len(batch))
