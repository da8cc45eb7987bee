"""The cluster's Socket.IO client manager, and every python-socketio private detail the cluster touches.

``cluster_parts`` builds a cluster server's state backend and manager
(python-socketio's ``AsyncRedisManager``, which carries every emit to the
servers holding the addressed connections); ``Subscription`` owns its Redis
listener (python-socketio starts it on the first connection, never restarts
it before its own backoff of up to 60 s, and never stops it). The version of
python-socketio is pinned below 6 for these.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import socketio
from redis.exceptions import RedisError

from ..config import Config
from ..logs import event
from ..transport.codec import OrjsonCodec
from ..transport.fanout import FanoutManager
from .state import RedisBackend, RedisLink, Unavailable, redis_options

log = logging.getLogger("roomchat.cluster")

__all__ = ["ClusterManager", "Subscription", "cluster_parts"]


class ClusterManager(socketio.AsyncRedisManager, FanoutManager):
    """python-socketio's Redis manager, with two changes (and FanoutManager's local fan-out).

    - An emit addressed to one connection this server holds (``initial-response``,
      an ``error-response``) is delivered here and not published: the other
      servers would only drop it.
    - While Redis is known to be away, an emit that must cross servers is
      refused (``Unavailable``: the sender's ack says ``unavailable``) instead
      of being published into the void, and a failed publish says so too.
    """

    link: RedisLink | None = None  # set by cluster_parts
    connected: bool  # python-socketio's: whether its Redis connection is up

    async def emit(self, event: str, data: Any, namespace: str | None = None, room: str | None = None,
                   skip_sid: Any = None, callback: Any = None, to: str | None = None, **kwargs: Any) -> Any:
        room = to or room
        if not kwargs.get("ignore_queue"):
            if room is not None and self.is_connected(room, namespace or "/"):
                kwargs["ignore_queue"] = True
            elif self.link is not None and not self.link.up:
                raise Unavailable()
        return await super().emit(event, data, namespace=namespace or "/", room=room, skip_sid=skip_sid,
                                  callback=callback, **kwargs)

    async def _publish(self, data: Any) -> Any:
        for attempt in (1, 2):  # like python-socketio's: a second try on a fresh connection
            try:
                if not self.connected:
                    self._redis_connect()
                return await self.redis.publish(self.channel, self.json.dumps(data))
            except (RedisError, OSError) as exc:
                self.connected = False
                if attempt == 2:
                    event(log, "publish_failed", logging.ERROR, error=str(exc) or type(exc).__name__)
                    raise Unavailable() from exc
        return None


def cluster_parts(config: Config) -> tuple[RedisBackend, ClusterManager]:
    """The state backend and the Socket.IO client manager of a server in the configured cluster."""
    cluster = config.cluster
    assert cluster is not None
    server_id = uuid.uuid4().hex[:12]
    backend = RedisBackend(cluster, server_id, config.auth.guest_id_start)
    manager_log = logging.getLogger("roomchat.cluster.socketio")
    manager_log.setLevel(logging.WARNING)  # its retries are errors; its "initialized" line is not news
    manager = ClusterManager(cluster.redis_url, channel=f"{cluster.key_prefix}:socketio", logger=manager_log,
                             redis_options=redis_options(2.0), json=OrjsonCodec)
    manager.link = backend.link
    return backend, manager


class Subscription:
    """The Redis listener of one server's ``ClusterManager`` (python-socketio's task ``manager.thread``)."""

    def __init__(self, sio: socketio.AsyncServer, manager: ClusterManager) -> None:
        self.sio = sio
        self.manager = manager

    def start(self) -> None:
        """Subscribe now rather than at the first connection (python-socketio's own moment)."""
        if not self.sio.manager_initialized:
            self.sio.manager_initialized = True
            self.manager.initialize()

    async def restart(self) -> None:
        """Restart the listener now rather than when its own backoff (up to 60 s) ends."""
        task = getattr(self.manager, "thread", None)
        if not isinstance(task, asyncio.Task) or task.done():
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        self.manager.thread = self.sio.start_background_task(self.manager._thread)

    async def stop(self) -> None:
        """Stop the listener (python-socketio never does)."""
        task = getattr(self.manager, "thread", None)
        if isinstance(task, asyncio.Task):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
