"""State shared by several roomchat servers through one Redis (the cluster backend).

Every store here implements the interface in ``base.py`` that the in-memory
default implements, so nothing above this module knows which one it has.
docs/scaling.md tells the whole story; in short:

- Presence lives in Redis (who is in which room, each connection with the
  server holding it), changed only by Lua scripts, so that "first connection"
  and "last connection" are decided atomically across servers. Every change
  is also appended, by the same script, to one Redis stream of presence
  events. Each server reads that stream in order and keeps a *roster* of the
  rooms it has connections in; ``user-connected`` and ``user-disconnected``
  come from applying the stream to the roster (``cluster/node.py``), so
  every server announces every change once, in the same order, and a joining
  connection's ``initial-response`` is the roster at the point the server has
  read up to its own join.
- Guest IDs come from a script that keeps them above the last one and
  above the clock (``guest_id_floor``), rate limits from a token bucket in a Lua script
  (Redis' clock), plugin key-values from plain Redis keys and hashes (JSON).
- Bot leases are SET NX PX keys, renewed by their holder.

Redis errors never escape as tracebacks into a join or a message: they
become ``Unavailable``, a Refusal with the code ``unavailable`` and a
sentence saying to retry.

Keys live under ``<key_prefix>:``. Scripts compute some keys from the prefix,
which is fine on a single Redis (or Sentinel) but not on Redis Cluster.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..config import ClusterConfig
from ..errors import Refusal
from ..logs import event
from ..state.base import (
    GuestIds,
    Joined,
    KeyValueStore,
    Leases,
    NewGuest,
    Presence,
    RateLimiter,
    StateBackend,
    guest_id_floor,
)
from ..users import IdentityClash, User

log = logging.getLogger("roomchat.cluster")
T = TypeVar("T")

STREAM_MAXLEN = 10_000  # presence events kept for servers catching up after a short outage

StreamId = tuple[int, int]
ZERO: StreamId = (0, 0)


def text(raw: bytes | str) -> str:
    """A Redis reply as text (the client answers bytes; its type hints say bytes or str)."""
    return raw.decode() if isinstance(raw, bytes) else raw


def parse_id(raw: bytes | str) -> StreamId:
    """A stream entry id (``"1700000000000-3"``) as a comparable pair."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class Unavailable(Refusal):
    """Redis cannot be reached: the join or message is refused with ``unavailable``."""

    def __init__(self) -> None:
        super().__init__(
            "unavailable", "The chat cannot reach its shared store (Redis) right now; try again in a few seconds"
        )


def user_json(user: User) -> str:
    """A user as stored in Redis: the wire form plus the server-side bot flag."""
    return json.dumps({**user.as_wire(), "bot": user.bot}, separators=(",", ":"))


def user_from_json(raw: bytes | str) -> User:
    """``user_json``'s inverse."""
    data = json.loads(raw)
    return User.from_wire(data, bot=bool(data.get("bot")))


# -- Lua ----------------------------------------------------------------------
# KEYS and ARGV are documented above each script. ``room`` keys are
# ``<prefix>:room:<name>:...``; the scripts build per-user keys from ARGV.

JOIN = """
-- KEYS: 1 order (zset uid->n), 2 users (hash uid->json), 3 conns of this user (hash sid->server),
--       4 this server's conns (hash sid->[room, uid]), 5 events stream, 6 order counter, 7 guest ID counter
-- ARGV: 1 uid, 2 user json, 3 sid, 4 server id, 5 room, 6 stream maxlen, 7 want snapshot, 8 room key base,
--       9 first guest ID
-- Returns {1 if this is the user's first connection in the room (0 if not; -1, and nothing written, if the
-- room holds this ID as another user: one ID is never shown as, or sent the messages of, two people),
--          the stream id of the join, the room's users then if wanted}.
local uid, sid = ARGV[1], ARGV[3]
local stored = redis.call('HGET', KEYS[2], uid)
if stored and stored ~= ARGV[2] then return {-1, '0-0', {}} end
-- A guest present keeps the guest counter above its ID (it matters when Redis lost the counter:
-- the servers' resync puts their guests back, and new guests are numbered after them).
local n = tonumber(uid)
if n >= tonumber(ARGV[9]) and tonumber(redis.call('GET', KEYS[7]) or '0') < n then
  redis.call('SET', KEYS[7], n)
end
redis.call('HSET', KEYS[3], sid, ARGV[4])
redis.call('HSET', KEYS[4], sid, cjson.encode({ARGV[5], uid}))
local first = 0
if not redis.call('ZSCORE', KEYS[1], uid) then
  first = 1
  redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[6]), uid)
  redis.call('HSET', KEYS[2], uid, ARGV[2])
end
local id = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*',
  'r', ARGV[5], 'k', 'j', 'u', uid, 's', sid, 'd', redis.call('HGET', KEYS[2], uid))
local snapshot = {}
if ARGV[7] == '1' then
  for i, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    snapshot[i] = {member, redis.call('HGET', KEYS[2], member), redis.call('HKEYS', ARGV[8] .. ':conns:' .. member)}
  end
end
return {first, id, snapshot}
"""

LEAVE = """
-- KEYS: 1 order, 2 users, 3 conns of this user, 4 events stream
-- ARGV: 1 uid, 2 sid, 3 room, 4 stream maxlen, 5 key prefix
local owner = redis.call('HGET', KEYS[3], ARGV[2])
if not owner then return 0 end
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('HDEL', ARGV[5] .. ':server:' .. owner .. ':conns', ARGV[2])
local user = redis.call('HGET', KEYS[2], ARGV[1]) or ''
local last = 0
if redis.call('HLEN', KEYS[3]) == 0 then
  last = 1
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'r', ARGV[3], 'k', 'l', 'u', ARGV[1], 's', ARGV[2], 'd', user)
return last
"""

REAP = """
-- Remove every connection of a server whose heartbeat expired, once: the
-- check and the removal are one atomic step, so of several servers that
-- notice the death at once exactly one removes (and announces) anything.
-- A server leaving cleanly reaps itself with ARGV 4 = 'leaving': its heartbeat goes in the same step,
-- so no other server can find it gone before its connections are (and report it as dead).
-- KEYS: 1 the dead server's heartbeat, 2 its conns, 3 the servers set, 4 events stream
-- ARGV: 1 dead server id, 2 key prefix, 3 stream maxlen, 4 'leaving' (optional)
-- Returns nil if the server is alive, else {room, user json} of every user who left a room with it.
if ARGV[4] == 'leaving' then redis.call('DEL', KEYS[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local entries = redis.call('HGETALL', KEYS[2])
local gone = {}
for i = 1, #entries, 2 do
  local sid = entries[i]
  local where = cjson.decode(entries[i + 1])
  local room, uid = where[1], where[2]
  local base = ARGV[2] .. ':room:' .. room
  local conns = base .. ':conns:' .. uid
  if redis.call('HDEL', conns, sid) == 1 then
    local user = redis.call('HGET', base .. ':users', uid) or ''
    if redis.call('HLEN', conns) == 0 then
      redis.call('ZREM', base .. ':order', uid)
      redis.call('HDEL', base .. ':users', uid)
      if user ~= '' then table.insert(gone, {room, user}) end
    end
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'r', room, 'k', 'l', 'u', uid, 's', sid, 'd', user)
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return gone
"""

ROSTER = """
-- A room's users with their connections, and the stream's last id, read at one instant.
-- KEYS: 1 order, 2 users, 3 events stream   ARGV: 1 room key base
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then id = last[1][1] end
local roster = {}
for i, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  roster[i] = {member, redis.call('HGET', KEYS[2], member), redis.call('HKEYS', ARGV[1] .. ':conns:' .. member)}
end
return {id, roster}
"""

HEARTBEAT = """
-- KEYS: 1 this server's heartbeat, 2 servers set, 3 epoch   ARGV: 1 server id, 2 ttl ms, 3 proposed epoch
-- Returns {1 if the heartbeat was still there (0: first beat, or this server was taken for dead),
--          the epoch: set once by the first server to beat, so a new one means Redis lost its data}.
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[3], 'NX')
return {existed, redis.call('GET', KEYS[3])}
"""

GUEST_ID = """
-- KEYS: 1 the highest guest ID handed out, 2 how many guests were numbered (for 'Guest N')
-- ARGV: 1 the lowest ID to hand out (the caller's clock and the highest it handed out), 2 the first guest ID
-- An ID is above the last one and at least ARGV[2] plus Redis' clock in microseconds, so IDs handed out
-- after Redis lost its data still start above every earlier one. Lua numbers are doubles: exact below 2^53.
local t = redis.call('TIME')
local clock = tonumber(ARGV[2]) + tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = math.max(tonumber(redis.call('GET', KEYS[1]) or '0') + 1, tonumber(ARGV[1]), clock)
redis.call('SET', KEYS[1], string.format('%d', v))
return {v, redis.call('INCR', KEYS[2])}
"""

TOKEN_BUCKET = """
-- MemoryRateLimiter's token bucket, on Redis' clock so every server agrees.
-- KEYS: 1 bucket   ARGV: 1 limit, 2 window seconds
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if not tokens then tokens, at = limit, now end
tokens = math.min(limit, tokens + (now - at) * limit / window)
local ok = 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 end
redis.call('HSET', KEYS[1], 't', string.format('%.6f', tokens), 'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
return ok
"""

LEASE_TAKE = """
-- Take a free lease or renew one's own.  KEYS: 1 lease   ARGV: 1 holder, 2 ttl ms
-- Returns 1 if the holder has it now, 0 if another server does.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]); return 1 end
return 0
"""

LEASE_RELEASE = """
-- KEYS: 1 lease   ARGV: 1 holder
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# -- the connection -------------------------------------------------------------


class RedisLink:
    """One Redis client with roomchat's scripts; turns connection failures into ``Unavailable``.

    ``up`` is what the cluster's health loop last saw; while it is False,
    calls fail at once instead of each waiting for a timeout.
    """

    def __init__(self, url: str, prefix: str, timeout: float = 2.0) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.client = self.new_client(timeout)
        self.up = False
        s = self.client.register_script
        self.join, self.leave, self.reap, self.roster = s(JOIN), s(LEAVE), s(REAP), s(ROSTER)
        self.heartbeat, self.guest_id, self.token_bucket = s(HEARTBEAT), s(GUEST_ID), s(TOKEN_BUCKET)
        self.lease_take, self.lease_release = s(LEASE_TAKE), s(LEASE_RELEASE)

    def new_client(self, timeout: float | None) -> aioredis.Redis:
        """A client to this Redis; one retry, at once, for a pooled connection Redis closed (it restarted).

        Its pool waits for a free connection (up to ``timeout``) when all
        ``REDIS_POOL_SIZE`` are busy: redis-py's default pool raises "Too many
        connections" past 100 operations in flight, which under load lost
        messages (publish_failed) and refused joins as if Redis were down.
        """
        pool = aioredis.BlockingConnectionPool.from_url(self.url, max_connections=REDIS_POOL_SIZE, timeout=timeout,
                                                        **redis_options(timeout))
        return aioredis.Redis(connection_pool=pool)

    def key(self, *parts: str) -> str:
        """``<prefix>:part:part...``."""
        return ":".join((self.prefix, *parts))

    def room_key(self, room: str) -> str:
        """The base of a room's presence keys."""
        return self.key("room", room)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis operation; a connection problem becomes ``Unavailable``."""
        if not self.up:
            raise Unavailable()
        try:
            return await fn()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise Unavailable() from exc

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()


REDIS_POOL_SIZE = 64
"""Connections one server's client opens to Redis at most; more operations in flight wait for one."""


def redis_options(timeout: float | None) -> dict[str, Any]:
    """Client options for every roomchat connection to Redis (python-socketio's too)."""
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": 1.0,
        "retry": Retry(NoBackoff(), 1, (RedisConnectionError,)),
    }


# -- presence -------------------------------------------------------------------


@dataclass
class Roster:
    """One room as this server has read it from the presence stream.

    ``users`` keeps joining order: uid -> (User, its connection sids on every
    server). ``seq`` is the id of the last event applied; events at or before
    it are already in. Until a snapshot seeds it, events are kept in
    ``buffer`` (a join is on its way to Redis and will bring the snapshot).
    """

    seq: StreamId = ZERO
    users: dict[int, tuple[User, set[str]]] = field(default_factory=dict)
    seeded: bool = False
    buffer: list[PresenceEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """One entry of the presence stream: a connection joined (``join``) or left (``leave``)."""

    seq: StreamId
    room: str
    kind: str
    uid: int
    sid: str
    user: User | None

    @classmethod
    def parse(cls, raw_id: bytes, fields: dict[bytes, bytes]) -> PresenceEvent:
        """Read a stream entry."""
        data = fields.get(b"d") or b""
        return cls(
            parse_id(raw_id), fields[b"r"].decode(), "join" if fields[b"k"] == b"j" else "leave",
            int(fields[b"u"]), fields[b"s"].decode(), user_from_json(data) if data else None,
        )


@dataclass(frozen=True, slots=True)
class Change:
    """What applying an event changed for the room's clients: a user arrived or left, at stream position ``seq``."""

    room: str
    arrived: bool
    user: User
    seq: StreamId


@dataclass(slots=True)
class Local:
    """One connection this server joined to a room, and the stream position its user list was read at."""

    user: User
    seq: StreamId


class RedisPresence(Presence):
    """Presence in Redis, with a roster per room this server has connections in.

    A join's script returns the room as it is right after the join, at the
    join's own stream position, which is what ``initial-response`` shows.
    ``cluster/node.py`` then feeds the stream to ``apply`` in order, holding
    the room's join lock, and announces each change to the local connections
    whose list was read before it (``skip``). So every connection is told of
    every change after its list exactly once, and of none before. That is
    why joining.py leaves the announcements to this backend (``announces``).
    """

    announces = True

    def __init__(self, link: RedisLink, server_id: str, guest_id_start: int) -> None:
        self.link = link
        self.server_id = server_id
        self.guest_id_start = guest_id_start
        self.position: StreamId = ZERO  # how far the feed has read
        self.rosters: dict[str, Roster] = {}
        self.local: dict[str, dict[str, Local]] = {}  # room -> sid -> connection on this server
        self._joining: dict[str, int] = {}  # joins in progress per room
        self.joining_sids: set[str] = set()  # their connections (the resync leaves them alone)

    # -- Presence ---------------------------------------------------------------

    async def join(self, room: str, user: User, sid: str) -> Joined:
        self._joining[room] = self._joining.get(room, 0) + 1
        self.joining_sids.add(sid)
        roster = self.rosters.setdefault(room, Roster())
        try:
            first, seq, snapshot = await self.write_join(room, user, sid)
            if first < 0:
                raise IdentityClash(user.id)
            self.local.setdefault(room, {})[sid] = Local(user, seq)
            if not roster.seeded:
                self._seed(roster, seq, snapshot)
            return Joined(first=bool(first), members=[u for u, _ in snapshot.values()])
        finally:
            self.joining_sids.discard(sid)
            self._joining[room] -= 1
            if not self._joining[room]:
                del self._joining[room]
            self._drop_if_unused(room)

    async def write_join(self, room: str, user: User, sid: str, want_snapshot: bool = True
                         ) -> tuple[int, StreamId, dict[int, tuple[User, set[str]]]]:
        """Add a connection in Redis: (first of its user? -1: refused, its ID is another user's; its stream
        position; the room then if wanted)."""
        base = self.link.room_key(room)
        keys = [f"{base}:order", f"{base}:users", f"{base}:conns:{user.id}",
                self.link.key("server", self.server_id, "conns"), self.link.key("events"), f"{base}:n",
                self.link.key("guest_ids")]
        args: list[Any] = [user.id, user_json(user), sid, self.server_id, room, STREAM_MAXLEN, int(want_snapshot),
                           base, self.guest_id_start]
        first, raw_id, rows = await self.link.call(lambda: self.link.join(keys=keys, args=args))
        return first, parse_id(raw_id), _rows(rows)

    async def leave(self, room: str, user: User, sid: str) -> bool:
        self.local.get(room, {}).pop(sid, None)
        if room in self.local and not self.local[room]:
            del self.local[room]
        self._drop_if_unused(room)
        try:
            return bool(await self.write_leave(room, user.id, sid))
        except Unavailable:
            # Redis is away: the cluster's resync removes this connection when it is back.
            event(log, "leave_deferred", logging.WARNING, room=room, user=user.id, sid=sid)
            return False

    async def write_leave(self, room: str, uid: int, sid: str) -> int:
        """Remove a connection in Redis: 1 if it was its user's last in the room."""
        base = self.link.room_key(room)
        keys = [f"{base}:order", f"{base}:users", f"{base}:conns:{uid}", self.link.key("events")]
        args: list[Any] = [uid, sid, room, STREAM_MAXLEN, self.link.prefix]
        return int(await self.link.call(lambda: self.link.leave(keys=keys, args=args)))

    async def members(self, room: str) -> list[User]:
        roster = self.rosters.get(room)
        if roster is not None and roster.seeded:
            return [u for u, _ in roster.users.values()]
        _, users = await self.read_roster(room)
        return [u for u, _ in users.values()]

    async def member(self, room: str, user_id: int) -> User | None:
        roster = self.rosters.get(room)
        if roster is not None and roster.seeded:
            entry = roster.users.get(user_id)
            return entry[0] if entry else None
        raw = await self.link.call(lambda: self.link.client.hget(f"{self.link.room_key(room)}:users", str(user_id)))
        return user_from_json(raw) if raw else None

    async def count(self, room: str) -> int:
        return int(await self.link.call(lambda: self.link.client.zcard(f"{self.link.room_key(room)}:order")))

    async def sids(self, room: str, user_id: int) -> list[str]:
        roster = self.rosters.get(room)
        if roster is not None and roster.seeded:
            entry = roster.users.get(user_id)
            return sorted(entry[1]) if entry else []
        raw = await self.link.call(
            lambda: self.link.client.hkeys(f"{self.link.room_key(room)}:conns:{user_id}"))
        return sorted(text(s) for s in raw)

    # -- the roster and the stream ----------------------------------------------

    async def read_roster(self, room: str) -> tuple[StreamId, dict[int, tuple[User, set[str]]]]:
        """The room's users and connections as Redis has them now, with the stream's last id."""
        base = self.link.room_key(room)
        keys = [f"{base}:order", f"{base}:users", self.link.key("events")]
        raw_id, rows = await self.link.call(lambda: self.link.roster(keys=keys, args=[base]))
        return parse_id(raw_id), _rows(rows)

    def _seed(self, roster: Roster, seq: StreamId, users: dict[int, tuple[User, set[str]]]) -> None:
        roster.users = {uid: (u, set(sids)) for uid, (u, sids) in users.items()}
        roster.seq = seq
        roster.seeded = True
        buffered, roster.buffer = roster.buffer, []
        for ev in buffered:
            self._apply_to(roster, ev)

    def apply(self, ev: PresenceEvent) -> Change | None:
        """Apply one stream event (in stream order); what changed for clients, if anything."""
        self.position = max(self.position, ev.seq)
        roster = self.rosters.get(ev.room)
        if roster is None:
            return None
        if not roster.seeded:
            roster.buffer.append(ev)
            return None
        return self._apply_to(roster, ev)

    def _apply_to(self, roster: Roster, ev: PresenceEvent) -> Change | None:
        if ev.seq <= roster.seq:
            return None
        roster.seq = ev.seq
        entry = roster.users.get(ev.uid)
        if ev.kind == "join":
            if entry is not None:
                entry[1].add(ev.sid)
                return None
            if ev.user is None:
                return None
            roster.users[ev.uid] = (ev.user, {ev.sid})
            return Change(ev.room, True, ev.user, ev.seq)
        if entry is None:
            return None
        entry[1].discard(ev.sid)
        if entry[1]:
            return None
        del roster.users[ev.uid]
        return Change(ev.room, False, entry[0], ev.seq)

    def reconcile(self, room: str, seq: StreamId, users: dict[int, tuple[User, set[str]]]) -> list[Change]:
        """Make a roster equal to what Redis holds at ``seq``, after stream events may have been lost.

        Users still present keep their place; newcomers follow in Redis' order.
        """
        roster = self.rosters.get(room)
        if roster is None or not roster.seeded:
            return []
        gone = [u for uid, (u, _) in roster.users.items() if uid not in users]
        came = [u for uid, (u, _) in users.items() if uid not in roster.users]
        kept = {uid: (u, set(users[uid][1])) for uid, (u, _) in roster.users.items() if uid in users}
        roster.users = {**kept, **{uid: (u, set(s)) for uid, (u, s) in users.items() if uid not in kept}}
        roster.seq = max(roster.seq, seq)
        return [Change(room, False, u, seq) for u in gone] + [Change(room, True, u, seq) for u in came]

    def skip(self, change: Change) -> list[str]:
        """The local connections not to tell of ``change``: the user's own, and those whose list already has it."""
        return [sid for sid, conn in self.local.get(change.room, {}).items()
                if conn.user.id == change.user.id or conn.seq >= change.seq]

    def _drop_if_unused(self, room: str) -> None:
        if room not in self.local and room not in self._joining:
            self.rosters.pop(room, None)

    def rewind(self) -> None:
        """Redis lost its data and the stream starts again: read it from the start, trust no old position."""
        self.position = ZERO
        for roster in self.rosters.values():
            roster.seq = ZERO
        for conns in self.local.values():
            for conn in conns.values():
                conn.seq = ZERO

    def local_connections(self) -> dict[str, tuple[str, User]]:
        """Every connection this server has joined to a room: sid -> (room, user)."""
        return {sid: (room, conn.user) for room, conns in self.local.items() for sid, conn in conns.items()}


def _rows(rows: list[Any]) -> dict[int, tuple[User, set[str]]]:
    users: dict[int, tuple[User, set[str]]] = {}
    for uid, raw, sids in rows:
        if raw:
            users[int(uid)] = (user_from_json(raw), {s.decode() for s in sids})
    return users


# -- the other stores -------------------------------------------------------------


class RedisGuestIds(GuestIds):
    """One script shared by every server: above the last ID, and above the clock (``guest_id_floor``)."""

    def __init__(self, link: RedisLink, start: int) -> None:
        self.link = link
        self.start = start
        self.highest = start - 1  # the highest this server handed out: a floor if Redis lost the counter

    async def allocate(self) -> NewGuest:
        floor = max(guest_id_floor(self.start), self.highest + 1)
        keys = [self.link.key("guest_ids"), self.link.key("guest_count")]
        value, number = await self.link.call(lambda: self.link.guest_id(keys=keys, args=[floor, self.start]))
        self.highest = max(self.highest, int(value))
        return NewGuest(int(value), int(number))


class RedisRateLimiter(RateLimiter):
    """The in-memory limiter's token bucket, in a Lua script on Redis' clock."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link

    async def hit(self, key: str, limit: int, window: float) -> bool:
        bucket = self.link.key("rate", key)
        return bool(await self.link.call(lambda: self.link.token_bucket(keys=[bucket], args=[limit, window])))


class RedisKeyValue(KeyValueStore):
    """Plain Redis keys and hashes holding JSON, under ``<prefix>:kv:``."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link

    def _key(self, key: str) -> str:
        return self.link.key("kv", key)

    async def get(self, key: str) -> Any:
        raw = await self.link.call(lambda: self.link.client.get(self._key(key)))
        return json.loads(raw) if raw is not None else None

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        if not keys:
            return []
        names = [self._key(key) for key in keys]
        raw = await self.link.call(lambda: self.link.client.mget(names))
        return [json.loads(value) if value is not None else None for value in raw]

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        raw = json.dumps(value, separators=(",", ":"))
        px = max(1, math.ceil(ttl * 1000)) if ttl is not None else None
        await self.link.call(lambda: self.link.client.set(self._key(key), raw, px=px))

    async def delete(self, key: str) -> bool:
        return bool(await self.link.call(lambda: self.link.client.delete(self._key(key))))

    async def hash_set(self, key: str, field: str, value: Any, only_if_new: bool = False,
                       ttl: float | None = None) -> bool:
        raw = json.dumps(value, separators=(",", ":"))
        name = self._key(key)

        async def write() -> Any:
            async with self.link.client.pipeline(transaction=True) as pipe:  # MULTI: the field and its expiry
                if only_if_new:
                    pipe.hsetnx(name, field, raw)
                else:
                    pipe.hset(name, field, raw)
                if ttl is not None:
                    pipe.pexpire(name, max(1, math.ceil(ttl * 1000)))
                return await pipe.execute()

        results = await self.link.call(write)
        return bool(results[0]) if only_if_new else True

    async def hash_get_all(self, key: str) -> dict[str, Any]:
        raw = await self.link.call(lambda: self.link.client.hgetall(self._key(key)))
        return {text(k): json.loads(v) for k, v in raw.items()}

    async def incr(self, key: str, amount: int = 1) -> int:
        return int(await self.link.call(lambda: self.link.client.incrby(self._key(key), amount)))


class RedisLeases(Leases):
    """A lease is a key SET NX PX by its holder and renewed every heartbeat; it expires when the holder dies."""

    def __init__(self, link: RedisLink, holder: str, settings: ClusterConfig) -> None:
        self.link = link
        self.holder = holder
        self.ttl_ms = math.ceil(settings.dead_after_seconds * 1000)
        self.every = settings.heartbeat_seconds

    async def _take(self, key: str) -> bool:
        return bool(await self.link.call(lambda: self.link.lease_take(keys=[key], args=[self.holder, self.ttl_ms])))

    async def hold(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        key = self.link.key("lease", name)
        try:
            while True:
                try:
                    mine = await self._take(key)
                except Unavailable:
                    mine = False
                if not mine:
                    await asyncio.sleep(self.every)
                    continue
                event(log, "lease_taken", lease=name, server=self.holder)
                await self._run_while_held(name, key, work)
        finally:
            try:
                await asyncio.shield(self.link.call(
                    lambda: self.link.lease_release(keys=[key], args=[self.holder])))
            except (Unavailable, asyncio.CancelledError):
                pass  # it expires by itself

    async def _run_while_held(self, name: str, key: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` until it ends (its result or error is raised) or the lease is lost."""
        task = asyncio.ensure_future(work())
        try:
            while True:
                await asyncio.wait({task}, timeout=self.every)
                if task.done():
                    return task.result()
                try:
                    if not await self._take(key):
                        event(log, "lease_lost", logging.WARNING, lease=name, server=self.holder)
                        return None
                except Unavailable:
                    pass  # Redis is away: keep running, and find out when it is back
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# -- the backend ------------------------------------------------------------------


class RedisBackend(StateBackend):
    """Every store on one Redis. The cluster's loops (``cluster/node.py``) are built beside it by the composition root."""

    def __init__(self, settings: ClusterConfig, server_id: str, guest_id_start: int) -> None:
        self.link = RedisLink(settings.redis_url, settings.key_prefix)
        self.settings = settings
        self.server_id = server_id
        link = self.link
        self.presence: RedisPresence = RedisPresence(link, server_id, guest_id_start)
        super().__init__(self.presence, RedisGuestIds(link, guest_id_start), RedisRateLimiter(link),
                         RedisKeyValue(link), leases=RedisLeases(link, server_id, settings))

    def check_available(self) -> None:
        if not self.link.up:
            raise Unavailable()

    async def close(self) -> None:
        await self.link.close()
