"""Several roomchat servers as one: this server's part in a cluster on Redis.

``cluster: {redis_url: ...}`` in the config makes the composition root
(roomchat/app.py) build a cluster server: ``cluster_parts`` (manager.py):
python-socketio's ``AsyncRedisManager`` carries every emit (messages,
broadcasts, disconnects) to the servers holding the addressed connections,
and ``state.py`` keeps the state in Redis. This module runs what a cluster
needs beyond that, as three loops, with its collaborators given explicitly
(the core's joins as ``Rooms``, the ``Transport``, the listener's ``Subscription``):

- the **heartbeat**: a key with a TTL (``dead_after_seconds``), renewed every
  ``heartbeat_seconds``; it is also the Redis health check (``redis_down`` /
  ``redis_up`` log lines, retries with backoff) and, when it finds its own
  key gone (Redis restarted, or this server was taken for dead), re-registers
  this server's connections (``resync``);
- the **reaper**, on the same beat: every server whose heartbeat expired has
  its connections removed by one atomic script, so exactly one server does it
  and the rooms hear ``user-disconnected`` once;
- the **feed**: reads the presence stream in order, applies it to the rosters
  of the rooms this server has connections in, and tells those connections
  ``user-connected`` / ``user-disconnected``. After it lost Redis for a while
  it compares its rosters with Redis (``reconcile``) once every live server
  has had time to resync.

Beside the loops it runs the cluster's message feed (``messages.py``: every
server delivers messages in the order of their ids), keeps the database's
copy of the cluster's state in step (``WriteThrough.restore`` when Redis
comes back without its data, or is new), and remembers the highest guest ID
in the database (a floor for Redis' counter at start-up).

docs/scaling.md says what is and is not guaranteed.

Retries: the heartbeat and the feed retry Redis on their own loops, sooner
after a failure and backing off up to the heartbeat interval, because they
are periodic loops that must never stop (a heartbeat that gave up would get
this server reaped), not calls to retry until they succeed. tenacity's model
is the latter (``Retrying`` around one call, stopping on success or a limit);
the two lines of backoff here (``min(FIRST_RETRY * 2**failures, interval)``)
say exactly what happens, so roomchat does not take it on for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from redis.exceptions import RedisError

from .. import protocol
from ..config import ClusterConfig
from ..core.announcing import Step
from ..core.delivery import Delivery, Transport, room_channel
from ..logs import event
from ..storage.errors import StorageUnavailable
from ..storage.guests import DatabaseGuestIds
from ..storage.history import History
from ..storage.kv import WriteThrough
from ..users import User
from .manager import Subscription
from .messages import ClusterOutbox, MessageFeed
from .state import (
    STREAM_MAXLEN,
    ZERO,
    Change,
    PresenceEvent,
    RedisBackend,
    Unavailable,
    parse_id,
    text,
    user_from_json,
)

log = logging.getLogger("roomchat.cluster")

FEED_BLOCK_MS = 1000
FEED_BATCH = 500
FIRST_RETRY = 0.2
REMEMBER_GUESTS_EVERY = 30  # heartbeats between two writes of the highest guest ID to the database


class Rooms(Protocol):
    """What the presence feed needs of the core's joins (roomchat/core/joining.py's ``Joins``)."""

    def hold(self, room: str) -> AbstractAsyncContextManager[None]:
        """Hold the room's lock."""
        ...

    def announce(self, room: str, step: Step) -> None:
        """Post an announcement behind the room's earlier ones (under the room's lock)."""
        ...

    def tell_left(self, room: str, user: User) -> None:
        """Plugins hear that ``user`` left ``room``."""
        ...


class ClusterNode:
    """This server's heartbeat, reaper and presence feed (see the module docstring)."""

    def __init__(self, settings: ClusterConfig, max_feed_stall: float, backend: RedisBackend,
                 subscription: Subscription, rooms: Rooms, transport: Transport) -> None:
        self.settings = settings
        self.max_feed_stall = max_feed_stall
        self.subscription = subscription
        self.rooms = rooms
        self.transport = transport
        self.backend = backend
        self.link = backend.link
        self.presence = backend.presence
        self.id = backend.server_id
        self._tasks: list[asyncio.Task[None]] = []
        self._position_known = asyncio.Event()
        self._reconcile_at: float | None = None
        self._epoch: bytes | None = None
        self._rewind = False  # set by the heartbeat, done by the feed (which owns the position)
        self._beat_ms = int(self.settings.dead_after_seconds * 1000)
        self._feed_moved = time.monotonic()  # when the feed last read the stream or applied an event
        self._closing: set[asyncio.Task[None]] = set()
        self.messages: MessageFeed | None = None  # made by ``outbox``
        self.delivery: Delivery | None = None  # given to ``outbox``
        self.guests: DatabaseGuestIds | None = None  # the database's memory of guest IDs (``durable``)
        self._beats = 0

    # -- what the composition root wires ------------------------------------------

    def outbox(self, history: History, delivery: Delivery) -> ClusterOutbox:
        """The cluster's outbox for ``delivery``, and this server's feed of the cluster's messages."""
        self.delivery = delivery
        self.messages = MessageFeed(self.link, delivery)
        return ClusterOutbox(history, self.messages)

    def durable(self, guests: DatabaseGuestIds) -> None:
        """Keep Redis' guest IDs above what the database remembers, and write them back now and then."""
        self.guests = guests

    # -- life -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the loops; a Redis that is down is waited for, not fatal."""
        self.subscription.start()
        event(log, "cluster_starting", server=self.id, redis=_safe_url(self.link.url), prefix=self.link.prefix)
        await self._guest_floor()
        if self.messages is not None:
            self.messages.start()
            await self.messages.subscribed(timeout=2.0)  # messages sent from now on reach this server
        await self._beat(first=True)
        self._spawn(self._beat_loop())
        self._spawn(self._feed_loop())

    async def _guest_floor(self) -> None:
        if self.guests is None:
            return
        guest_ids = self.backend.guest_ids
        try:
            highest = await self.guests.highest()
        except StorageUnavailable:
            return
        if hasattr(guest_ids, "highest"):
            guest_ids.highest = max(guest_ids.highest, highest)

    async def _remember_guests(self) -> None:
        highest = getattr(self.backend.guest_ids, "highest", 0)
        if self.guests is None or highest <= 0:
            return
        try:
            await self.guests.remember(highest)
        except StorageUnavailable:
            pass  # next time; Redis' counter and the clock keep IDs unique meanwhile

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    async def stop(self) -> None:
        """Stop the loops and leave the cluster: drop the heartbeat and whatever connections are left."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, self.subscription.stop(), return_exceptions=True)
        if self.messages is not None:
            await self.messages.stop()
        await self._remember_guests()
        if not self.link.up:
            return
        try:
            gone = await self._reap(self.id, leaving=True)  # the heartbeat goes in the same atomic step
        except (RedisError, OSError):
            return  # the others reap this server when its heartbeat expires
        event(log, "cluster_left", server=self.id, users=len(gone or ()))

    # -- heartbeat, health, resync, reaping -------------------------------------

    async def _beat_loop(self) -> None:
        every = self.settings.heartbeat_seconds
        failures = 0
        while True:
            # While Redis is away, retry sooner and back off up to the heartbeat interval.
            await asyncio.sleep(min(FIRST_RETRY * 2**failures, every) if failures else every)
            try:
                ok = await self._beat()
            except Exception:  # a bug must not stop the heartbeat: the others would take this server for dead
                log.exception("cluster heartbeat failed")
                ok = False
            failures = 0 if ok else min(failures + 1, 16)
            self._beats += 1
            if self._beats % REMEMBER_GUESTS_EVERY == 0:
                await self._remember_guests()

    async def _beat(self, first: bool = False) -> bool:
        """One heartbeat (and health check, resync, reaping); False when Redis did not answer."""
        try:
            keys = [self.link.key("server", self.id, "hb"), self.link.key("servers"), self.link.key("epoch")]
            proposal = uuid.uuid4().hex  # fresh each time: a new epoch never equals an old one
            existed, epoch = await self.link.heartbeat(keys=keys, args=[self.id, self._beat_ms, proposal])
            lost = self._epoch is not None and epoch != self._epoch
            if self._epoch is None:  # the first answer: read the stream from here on
                last: Any = await self.link.client.xrevrange(self.link.key("events"), count=1)
                self.presence.position = parse_id(last[0][0]) if last else ZERO
                self._position_known.set()
            elif lost:
                event(log, "redis_data_lost", logging.WARNING, effect="this server registers its connections again")
                self._rewind = True
            self._epoch = epoch
            restore = lost or text(epoch) == proposal  # Redis lost its data, or is new: put the durable state back
            recovered = not self.link.up
            self.link.up = True
            if restore:
                await self._restore_state()
            if recovered and not first:
                event(log, "redis_up", url=_safe_url(self.link.url))
                self._reconcile_at = time.monotonic() + self.settings.dead_after_seconds
                await self.subscription.restart()
                if self.messages is not None:
                    self.messages.retry_now()
            if not first and (recovered or not existed):
                await self._resync()
            await self._reap_dead()
            return True
        except (RedisError, OSError) as exc:
            if self.link.up or first:
                event(log, "redis_down", logging.WARNING, url=_safe_url(self.link.url),
                      error=str(exc) or type(exc).__name__, during="start-up" if first else "service",
                      effect="joins are refused until Redis answers; retrying with backoff")
            self.link.up = False
            return False
        except Unavailable:
            return False

    async def _restore_state(self) -> None:
        kv = self.backend.kv
        if not isinstance(kv, WriteThrough):
            return
        try:
            await kv.restore()
        except StorageUnavailable as exc:
            event(log, "state_not_restored", logging.ERROR, reason=exc.reason,
                  effect="plugins' state (bans, polls...) is missing from Redis until the database answers "
                         "and Redis is restored")

    async def _resync(self) -> None:
        """Make Redis hold exactly this server's live connections (after Redis lost them, or reaped us)."""
        conns_key = self.link.key("server", self.id, "conns")
        actual = {text(sid) for sid in await self.link.client.hkeys(conns_key)}
        live = self.presence.local_connections()
        added = removed = 0
        for sid, (room, user) in live.items():
            if sid not in actual and sid not in self.presence.joining_sids:
                first, _, _ = await self.presence.write_join(room, user, sid, want_snapshot=False)
                if first < 0:  # while Redis was away its ID went to someone else: it must not get their messages
                    event(log, "identity_clash", logging.WARNING, room=room, user=user.id, sid=sid)
                    self._disconnect_soon(sid)
                    continue
                added += 1
        for sid in actual - live.keys() - self.presence.joining_sids:
            raw = await self.link.client.hget(conns_key, sid)
            if raw:
                room, uid = json.loads(raw)
                await self.presence.write_leave(room, int(uid), sid)
                removed += 1
        if added or removed:
            event(log, "cluster_resync", server=self.id, rejoined=added, removed=removed)

    def _disconnect_soon(self, sid: str) -> None:
        task = asyncio.ensure_future(self.transport.disconnect(sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _reap_dead(self) -> None:
        for raw in await self.link.client.smembers(self.link.key("servers")):
            other = text(raw)
            if other == self.id:
                continue
            gone = await self._reap(other)
            if gone is not None:
                event(log, "server_reaped", logging.WARNING, dead=other, users=len(gone), by=self.id)

    async def _reap(self, server: str, leaving: bool = False) -> list[Any] | None:
        """Remove a server whose heartbeat expired (or this one, ``leaving``) and its connections; None: it is alive.

        Returns the (room, user) of each user that left with it. Leaving, the
        heartbeat is dropped by the same script: deleted first on its own, another
        server's reaper could find this one dead in between and log it as reaped.
        """
        keys = [self.link.key("server", server, "hb"), self.link.key("server", server, "conns"),
                self.link.key("servers"), self.link.key("events")]
        args: list[Any] = [server, self.link.prefix, STREAM_MAXLEN] + (["leaving"] if leaving else [])
        gone = await self.link.reap(keys=keys, args=args)
        if gone is None:
            return None
        # Its users left their rooms here, where the reaping happened: plugins hear of it once.
        for room, raw_user in gone:
            self.rooms.tell_left(room.decode(), user_from_json(raw_user))
        return list(gone)

    # -- the presence feed --------------------------------------------------------

    async def _feed_loop(self) -> None:
        client = self.link.new_client(timeout=FEED_BLOCK_MS / 1000 + 2)
        stream = self.link.key("events")
        retry = FIRST_RETRY
        lost = False
        try:
            while True:
                self._feed_moved = time.monotonic()
                await self._position_known.wait()
                if self._rewind:
                    self._rewind = False
                    self.presence.rewind()
                try:
                    position = self.presence.position
                    reply: Any = await client.xread({stream: f"{position[0]}-{position[1]}"}, count=FEED_BATCH,
                                               block=FEED_BLOCK_MS)
                except (RedisError, OSError) as exc:
                    if not lost:
                        event(log, "feed_lost", logging.WARNING, error=str(exc) or type(exc).__name__)
                    lost = True
                    await asyncio.sleep(retry)
                    retry = min(retry * 2, self.settings.heartbeat_seconds)
                    continue
                if lost:
                    lost, retry = False, FIRST_RETRY
                    event(log, "feed_back", position=f"{position[0]}-{position[1]}")
                    self._reconcile_at = time.monotonic() + self.settings.dead_after_seconds
                for _, entries in reply or ():
                    for raw_id, fields in entries:
                        try:
                            await self._apply(PresenceEvent.parse(raw_id, fields))
                        except Exception:  # one bad event must not stop the feed
                            log.exception("presence event %r could not be applied", raw_id)
                        self._feed_moved = time.monotonic()
                if not reply and self._reconcile_at is not None and time.monotonic() >= self._reconcile_at:
                    await self._reconcile()
        finally:
            await client.aclose()

    def feed_problem(self) -> str | None:
        """Why the presence feed counts as stalled (a sentence for ``/healthz``), or None.

        It reads the stream at least every second while Redis answers; one that
        has not moved for ``server.health.max_feed_stall`` seconds is stuck, and
        this server's users stop hearing of joins and leaves on the others (and
        direct messages to users who joined there are refused). While Redis is
        away, ``check_available`` says so instead.
        """
        if not self._tasks or not self.link.up:
            return None
        still = time.monotonic() - self._feed_moved
        limit = self.max_feed_stall
        if still <= limit:
            return None
        return (f"the presence feed has not moved for {still:.1f} s (limit {limit:g} s): users here miss joins "
                "and leaves on the other servers")

    async def _apply(self, ev: PresenceEvent) -> None:
        """Apply one event; post its announcement to this server's connections in its room, if it changed the room.

        The room's join lock keeps it from falling between a join's script and
        its initial-response: a change is either in a joiner's list or told to it.
        Under the lock the change is only posted (the room's announcer emits it,
        in order, after the lock is released): an emit could run a disconnect
        handler, which needs the lock, and the feed would stop for every room.
        """
        event(log, "presence_event", logging.DEBUG, room=ev.room, kind=ev.kind, user=ev.uid,
              seq=f"{ev.seq[0]}-{ev.seq[1]}", local=ev.room in self.presence.rosters)
        if ev.room not in self.presence.rosters:
            self.presence.apply(ev)  # only moves the position: no connection here cares
            return
        async with self.rooms.hold(ev.room):
            change = self.presence.apply(ev)
            if change is not None:
                self._post(change)

    def _post(self, change: Change) -> None:
        """Post the announcement of a change to this server's connections in the room (under the room's lock).

        Who is not told is decided now, with the room as it is at this point of
        the order: the user's own connections, and those whose list already has it.
        """
        name, payload = ((protocol.USER_CONNECTED, protocol.user_connected(change.user)) if change.arrived
                         else (protocol.USER_DISCONNECTED, protocol.user_disconnected(change.user)))
        skip = self.presence.skip(change)
        transport, delivery = self.transport, self.delivery

        async def announce() -> None:
            if delivery is not None:  # a join waiting for its history gets it after its history
                await delivery.announce(change.room, name, payload, skip, ignore_queue=True)
            else:
                await transport.emit(name, payload, to=room_channel(change.room), skip_sid=skip or None,
                                     ignore_queue=True)

        self.rooms.announce(change.room, announce)

    async def _reconcile(self) -> None:
        """Compare every roster with Redis while the feed is idle; retried until it could be done."""
        try:
            for room in list(self.presence.rosters):
                async with self.rooms.hold(room):
                    seq, users = await self.presence.read_roster(room)
                    if seq > self.presence.position:
                        return  # events are on their way: try again when the feed is idle
                    for change in self.presence.reconcile(room, seq, users):
                        self._post(change)
        except Unavailable:
            return
        self._reconcile_at = None
        event(log, "cluster_reconciled", rooms=len(self.presence.rosters))


def _safe_url(url: str) -> str:
    """The Redis URL without its password."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"

