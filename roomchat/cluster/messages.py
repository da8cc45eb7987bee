"""A cluster's messages: ids from one Redis counter, in the order every server delivers them.

Every ``message`` event of a cluster goes through one Redis script
(``roomchat.storage.redislog``): it takes the message's id from the cluster's
counter, keeps the message in its room's recent-messages tail (for the other
servers' history readers until it is committed) and publishes it on the
cluster's message channel (``<prefix>:messages``), in one atomic step. Each
server's ``MessageFeed`` reads that channel on a connection of its own and
fans each message out to its own connections (``Delivery.fan_out``), so the
order of ids is the order in which every server delivers, and a held
connection (a join waiting for its history) sees every message through the
core, wherever it was sent.

A publish is JSON: ``{"room", "to", "skip", "data"}`` for a message (``to``:
the addressed user of a direct message, or null; ``skip``: the connections
that must not get it), or ``{"sync": "<id>"}``, a marker that carries nothing
but says every earlier publish was read (``settled``, and the id of a
consumed message's ack).

python-socketio's own pub/sub (roomchat/cluster/manager.py) still carries
everything else: presence announcements, disconnects, a plugin's kick.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from ..core.delivery import Delivery
from ..logs import event
from ..storage.config import StorageConfig
from ..storage.database import Database
from ..storage.history import History, RoomSettings
from ..storage.ids import format_id, parse_id
from ..storage.redislog import MARKER, ClusterHistory
from .state import RedisBackend, RedisLink, Unavailable

log = logging.getLogger("roomchat.cluster")

SETTLE_TIMEOUT = 5.0
"""Seconds an ack or a join waits for this server's feed to pass an id before it goes on anyway."""
FIRST_RETRY, MAX_RETRY = 0.2, 5.0

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def cluster_history(db: Database, settings: StorageConfig, room_settings: RoomSettings,
                    now_ms: Callable[[], int], backend: Any) -> ClusterHistory:
    """The history of a cluster server: ids and recent messages in the cluster's Redis, the rest in ``db``."""
    assert isinstance(backend, RedisBackend)
    return ClusterHistory(db, settings, room_settings, backend.link.client, backend.link.prefix, now_ms)


class MessageFeed:
    """This server's subscription to the cluster's messages; fans each out here, in the order of ids.

    ``position`` is the highest id read; ``reached(id)`` returns once it is at
    least ``id`` (every message up to it has been fanned out here).
    """

    def __init__(self, link: RedisLink, delivery: Delivery) -> None:
        self.link = link
        self.delivery = delivery
        self.channel = link.key("messages")
        self.position = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._retry_now = asyncio.Event()

    def start(self) -> None:
        """Subscribe (in a task that reconnects by itself)."""
        self._task = asyncio.create_task(self._run(), name="cluster-messages")

    async def subscribed(self, timeout: float = 5.0) -> bool:
        """Wait (bounded) until the subscription is in place; whether it is."""
        try:
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def retry_now(self) -> None:
        """Redis is back (the heartbeat saw it): subscribe again now rather than when the backoff ends."""
        self._retry_now.set()

    async def stop(self) -> None:
        """Unsubscribe; callers still waiting go on."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for _, _, future in self._waiting:
            if not future.done():
                future.set_result(None)
        self._waiting.clear()

    async def reached(self, seq: int, timeout: float = SETTLE_TIMEOUT) -> bool:
        """Wait until every message up to id ``seq`` was fanned out here (at most ``timeout`` s); whether it was."""
        if self.position >= seq:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (seq, next(self._order), future))
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            event(log, "feed_behind", logging.WARNING, waiting_for=format_id(seq), at=format_id(self.position),
                  effect="an ack or a join's history went on without waiting for the cluster's message feed")
            return False
        return True

    async def _run(self) -> None:
        retry = FIRST_RETRY
        lost = False
        while True:
            client = self.link.new_client(timeout=None)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                if lost:
                    event(log, "message_feed_back", channel=self.channel)
                    lost, retry = False, FIRST_RETRY
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self._read(message["data"])
            except (RedisError, OSError) as exc:
                if not lost:
                    event(log, "message_feed_lost", logging.WARNING, error=str(exc) or type(exc).__name__,
                          effect="messages published meanwhile do not reach this server's connections")
                lost = True
            finally:
                self._subscribed.clear()
                await asyncio.gather(pubsub.aclose(), client.aclose(), return_exceptions=True)
            self._retry_now.clear()
            try:
                await asyncio.wait_for(self._retry_now.wait(), retry)
            except TimeoutError:
                pass
            retry = min(retry * 2, MAX_RETRY)

    async def _read(self, raw: bytes | str) -> None:
        try:
            published = json.loads(raw)
            if "sync" in published:
                seq = parse_id(published["sync"]) or 0
            else:
                data = published["data"]
                seq = parse_id(data["id"]) or 0
                await self.delivery.fan_out(published["room"], data, published.get("to"), published.get("skip") or [])
        except Exception:  # one bad publish must not stop the feed
            log.exception("a cluster message could not be delivered")
            return
        self._passed(seq)

    def _passed(self, seq: int) -> None:
        self.position = max(self.position, seq)
        waiting = self._waiting
        while waiting and waiting[0][0] <= self.position:
            _, _, future = heapq.heappop(waiting)
            if not future.done():
                future.set_result(None)


class ClusterOutbox:
    """A cluster server's outbox (``roomchat.core.delivery.Outbox``): Redis gives the id and publishes; the feed delivers.

    An ack waits until this server's feed has delivered the message here, so
    on every connection messages and acks come in the order of ids (a client
    may take the highest id it received or was acked as its ``since``).
    """

    def __init__(self, history: History, feed: MessageFeed) -> None:
        assert isinstance(history, ClusterHistory)
        self.history = history
        self.feed = feed

    async def post(self, room: str, data: dict[str, Any], target: int | None, skip: list[str],
                   keep: bool) -> dict[str, Any]:
        """Give ``data`` its id, keep it in the room's tail and history, publish it, wait for the feed here."""
        def payload(marked: dict[str, Any]) -> str:
            return _JSON.encode({"room": room, "to": target, "skip": skip, "data": marked})

        try:
            data = await self.history.deliver(room, data, payload, self.feed.channel, keep=keep)
        except (RedisError, OSError) as exc:
            event(log, "publish_failed", logging.ERROR, error=str(exc) or type(exc).__name__)
            raise Unavailable() from exc
        await self.feed.reached(parse_id(data["id"]) or 0)
        return data

    async def fresh_id(self) -> str:
        """An id from the cluster's counter that no message carries (published as a marker, and waited for)."""
        try:
            seq = await self.history.room_log.append("", MARKER, False, self.feed.channel,
                                                     '{"sync":"' + MARKER + '"}')
        except (RedisError, OSError) as exc:
            raise Unavailable() from exc
        await self.feed.reached(seq)
        return format_id(seq)

    async def settled(self, through: int) -> None:
        """Wait until this server's feed delivered every message up to ``through`` (a join's history snapshot)."""
        if self.feed.position >= through:
            return
        try:  # a marker behind everything published so far: ids up to ``through`` were published before it
            await self.history.room_log.client.publish(self.feed.channel, '{"sync":"' + format_id(through) + '"}')
        except (RedisError, OSError):
            return  # Redis is away: what is held goes out now
        await self.feed.reached(through)
