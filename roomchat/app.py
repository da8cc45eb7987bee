"""The composition root: one place that builds a roomchat server from a Config, and its ASGI app.

``ChatServer(config)`` builds every part and wires them, bottom up: the clock,
the plugin host (every plugin registered, every setting checked), the storage
(the database of ``storage.url``, not connected yet, and the history on it),
the state (in memory, or Redis with ``cluster:``; its key-value store and
guest IDs made durable on the database), identity, the transport
(python-socketio with roomchat's adjustments, ``transport.engine.apply()``
first), the core (delivery and its outbox, joins and their history,
dispatch), the cluster's loops, the bots, HTTP. Nothing else builds or
receives it: plugins get their ``Chat``, the core and the adapters the
collaborators they name.

``asgi_app()`` is the ASGI application. Its lifespan starts the server
(``start``: the database, migrated, and what it holds loaded; the history
writer; state, the cluster's loops, ``roomchat_startup``, the watchdog, the
bots) and stops it (``stop``: the bots and clients, then plugins, then what
the history and the store have queued is written, for at most 5 seconds, and
the database closed). A database that cannot be reached at start-up stops
start-up with one line (``start_failure``): a server that cannot load its
bans must not admit anyone. ``drain()`` says goodbye to every client with a
normal Socket.IO disconnect; the ASGI lifespan has no moment for it (a server
runs the lifespan's shutdown only after it closed the connections), so the
runner calls it before the server closes connections (roomchat/serve.py),
and ``stop`` calls it if nobody did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import socketio

from . import protocol
from .bothost import BotHost
from .botrunner import loopback_url
from .clock import Clock
from .config import Config, RoomConfig
from .core.catchup import HistoryOnJoin
from .core.delivery import Delivery, LocalOutbox
from .core.dispatch import Dispatcher
from .core.identity import Authenticator, check_auth_config
from .core.joining import Joins
from .core.plugin_host import PluginHost, Runtime
from .core.sessions import Sessions
from .errors import Refusal
from .http import Health, http_app, schemas
from .logs import event
from .requires import require
from .state.base import StateBackend
from .state.memory import MemoryKeyValue, memory_backend
from .storage.config import HistoryConfig, driver_url
from .storage.database import database
from .storage.errors import StorageError
from .storage.guests import DatabaseGuestIds
from .storage.history import History
from .storage.kv import DatabaseKeyValue, MirroredKeyValue, WriteThrough
from .transport import engine
from .transport.fanout import FanoutManager
from .transport.socketio import JsonPacket, SocketServer, cors_origins
from .watchdog import LoopWatchdog, overdue_problem
from .webclient import WebClient, plugin_assets

log = logging.getLogger("roomchat.server")

__all__ = ["ChatServer", "StartupFailed"]


class StartupFailed(Exception):
    """Start-up stopped for a reason already logged in one line (the database could not be reached)."""


class ChatServer:
    """One roomchat server: every part, built from a Config and wired; started and stopped by its ASGI lifespan."""

    def __init__(self, config: Config, source: str = "<config>", extra_plugins: dict[str, object] | None = None,
                 clock: Clock | None = None) -> None:
        self.config = config
        self.source = source
        self.clock = clock or Clock()
        self.url: str | None = None  # where this server listens, for its bots (``listen_at``)
        self.start_failure: str | None = None  # why start-up failed, when it did (``roomchat serve`` exits non-zero)
        self.plugins = self._plugin_host(extra_plugins or {})
        self.db = database(driver_url(config.storage.url, self.data_dir()))  # connected by start()
        self.state, client_manager = self._state()
        self.history = self._history()
        self.auth = Authenticator(config, self.state.guest_ids)
        self.bots = BotHost(config, source, self.auth, self.plugins.bots, self.plugins.resolve_room, self.clock,
                            self.state.leases, store=self.state.kv, shared_store=config.cluster is not None)
        # (it checks the bots: config now; they connect once the server listens; each bot's store is in state.kv)
        self.sessions: Sessions = {}
        self.sio = self._socket_server(client_manager)
        self.delivery = Delivery(self.sio, self.clock)
        self.joins = Joins(self.plugins, self.auth, self.state, self.sio, self.sessions, self.delivery,
                           HistoryOnJoin(self.history, self.delivery, self.sio, config.storage.history_max))
        self.dispatcher = Dispatcher(config.server.handler_timeout, self.sessions, self.state, self.delivery, self.sio,
                                     self.history)
        self.plugins.attach(Runtime(self.state.kv, config.cluster is not None, self.state.presence,
                                    self.delivery.from_room, self.joins.disconnect_user))
        self.node = self._cluster_node(client_manager)
        self.delivery.attach(self._outbox(), lambda room: self.room_history(room) is not None)
        self.watchdog = LoopWatchdog(config.server.health.max_loop_lag, config.server.health.report_for)
        self._route()
        self._drained = False
        self._storage_tasks: list[asyncio.Task[None]] = []
        self._storage_open = False

    # -- building -------------------------------------------------------------------------

    def _plugin_host(self, extra_plugins: dict[str, object]) -> PluginHost:
        config = self.config
        host = PluginHost(config.server.handler_timeout, self.clock, frozenset(b.id for b in config.bots))
        host.load(config.plugins, self.source, config)
        for name, plugin in extra_plugins.items():
            host.add(plugin, name, "given to ChatServer")
        host.validate_settings(
            {**{f"rooms.{name}": room for name, room in config.rooms.items()}, "server.new_room": config.server.new_room},
            self.source,
        )
        return host

    def data_dir(self) -> Path | None:
        """The folder a relative ``storage.url`` is relative to: the config file's (None: the working directory)."""
        source = Path(self.source)
        return source.parent if source.suffix in (".yaml", ".yml", ".json") or source.is_file() else None

    def room_history(self, room: str) -> HistoryConfig | None:
        """Room ``room``'s history settings (None: off); a room no longer configured has ``server.new_room``'s."""
        try:
            config: RoomConfig = self.plugins.resolve_room(room)
        except Refusal:
            config = self.config.server.new_room
        return config.history.kept

    def _state(self) -> tuple[StateBackend, socketio.AsyncManager]:
        """The state backend and the Socket.IO client manager: in memory, or on Redis (docs/scaling.md).

        One server's key-value store answers from memory and is written to the
        database behind (``MirroredKeyValue``); its guest IDs are the database's.
        A cluster's answers from Redis and is written through to the database.
        """
        config = self.config
        if config.cluster is None:
            state = memory_backend(config.auth.guest_id_start, self.clock)
            assert isinstance(state.kv, MemoryKeyValue)
            state.kv = MirroredKeyValue(state.kv, DatabaseKeyValue(self.db, self.clock.now),
                                        window=config.storage.batch_window)
            state.guest_ids = DatabaseGuestIds(self.db, config.auth.guest_id_start)
            return state, FanoutManager()
        require("redis", feature=f"the cluster: section of {self.source} (several servers on Redis)",
                install="redis>=5")
        from .cluster.manager import cluster_parts

        backend, manager = cluster_parts(config)
        # Redis answers; each change is written through to the database, which puts it back if Redis loses it.
        backend.kv = WriteThrough(backend.kv, DatabaseKeyValue(self.db, self.clock.now))
        return backend, manager

    def _history(self) -> History:
        """The history of every room: this server's, or its share of a cluster's (ids and recent messages in Redis)."""
        settings = self.config.storage
        now_ms = lambda: int(self.clock.now() * 1000)  # retention reads ages on the server's clock
        if self.config.cluster is None:
            return History(self.db, settings, self.room_history, now_ms)
        from .cluster.messages import cluster_history

        return cluster_history(self.db, settings, self.room_history, now_ms, self.state)

    def _outbox(self) -> Any:
        """How messages get their ids and reach every connection: here, or through a cluster's Redis."""
        if self.node is None:
            return LocalOutbox(self.history, self.delivery)
        return self.node.outbox(self.history, self.delivery)

    def _socket_server(self, client_manager: socketio.AsyncManager) -> SocketServer:
        settings = self.config.server
        engine.apply()  # python-engineio's long-polling limits, unreadable frames, output accounting
        sio = SocketServer(
            async_mode="asgi",
            client_manager=client_manager,
            serializer=JsonPacket,
            cors_allowed_origins=cors_origins(settings.cors_origins),
            max_http_buffer_size=settings.max_http_buffer_size,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            async_handlers=False,
        )
        # Handle each connection's packets in the order they arrive, inline,
        # instead of one task per packet: a sender's messages keep their order
        # even when a plugin awaits I/O, and the hot path creates no tasks.
        # Every handler is bounded by handler_timeout, well under ping_timeout.
        sio.eio.async_handlers = False
        sio.eio.max_pending_output = settings.max_pending_output  # a client that stops reading is closed
        return sio

    def _cluster_node(self, client_manager: socketio.AsyncManager) -> Any:
        if self.config.cluster is None:
            return None
        from .cluster.manager import ClusterManager, Subscription
        from .cluster.node import ClusterNode
        from .cluster.state import RedisBackend

        assert isinstance(self.state, RedisBackend) and isinstance(client_manager, ClusterManager)
        node = ClusterNode(self.config.cluster, self.config.server.health.max_feed_stall, self.state,
                           Subscription(self.sio, client_manager), self.joins, self.sio)
        node.durable(DatabaseGuestIds(self.db, self.config.auth.guest_id_start))
        return node

    def _route(self) -> None:
        """The Socket.IO events: connect and disconnect to the joins, client emits to dispatch."""
        self.sio.on("connect", self.joins.connect)
        self.sio.on("disconnect", self.joins.disconnect)
        self.sio.client_event(protocol.DIRECT, self.dispatcher.direct)
        self.sio.client_event(protocol.BROADCAST, self.dispatcher.broadcast)
        self.sio.client_event(protocol.GET_HISTORY, self.dispatcher.get_history)
        self.sio.client_event("*", self.dispatcher.other_event)
        self.sio.set_refuser(self.dispatcher.refuse)

    # -- serving ---------------------------------------------------------------------------

    def listen_at(self, host: str, port: int) -> None:
        """The server will listen at ``host:port`` (before ``start``): its bots connect there, over loopback."""
        self.url = loopback_url(host, port)

    async def start(self) -> None:
        """Start the state (and a cluster's loops), tell plugins, time the event loop, start the bots.

        The ASGI lifespan's startup, before any connection is served. A failure
        is logged here (python-engineio's lifespan handler only reports it
        failed) and ends start-up.
        """
        try:
            await self._start()
        except StartupFailed:
            raise  # said in one line already
        except Exception:
            log.exception("start-up failed")
            raise

    async def start_storage(self) -> None:
        """Open the database (migrating it), load what it holds, start the history writer and the store's mirror.

        Raises ``StorageError`` (a ``StorageUnavailable`` when it cannot be reached).
        """
        await self.db.open()
        self._storage_open = True
        kv = self.state.kv
        if isinstance(kv, MirroredKeyValue):
            loaded = await kv.load()
            self._storage_tasks.append(asyncio.create_task(kv.run(self.config.storage.sweep_seconds),
                                                           name="state-mirror"))
            event(log, "state_loaded", keys=loaded)
        await self.history.start()

    async def stop_storage(self) -> None:
        """Write what the history and the store have queued (for at most 5 seconds each), then close the database."""
        if not self._storage_open:
            await self.db.close()
            return
        for task in self._storage_tasks:
            task.cancel()
        for task in self._storage_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._storage_tasks = []
        await self.history.stop()
        if isinstance(self.state.kv, MirroredKeyValue):
            await self.state.kv.stop()
        await self.db.close()
        self._storage_open = False

    async def _start(self) -> None:
        try:
            await self.start_storage()
        except StorageError as exc:
            self.start_failure = exc.reason
            event(log, "storage_unavailable", logging.ERROR, reason=exc.reason,
                  effect="the server does not start: without its database it could not load bans or keep history",
                  fix="start the database, or set storage.url to one this server can reach (docs/storage.md), "
                      "then start roomchat again")
            await self.db.close()
            raise StartupFailed(exc.reason) from None
        await self.state.start()
        if self.node is not None:
            await self.node.start()
        warning = check_auth_config(self.config.auth)
        if warning and any("jwt" in r.admit for r in self.config.rooms.values()):
            event(log, "jwt_disabled", logging.WARNING, reason=warning)
        await self.plugins.notify("roomchat_startup")
        self.watchdog.start()
        if self.url is not None:
            await self.bots.start(self.url)
        elif self.bots.planned:
            event(log, "bots_not_started", logging.WARNING, bots=self.bots.planned,
                  reason="the server's address is not known: serve it with roomchat serve (or call listen_at)")
        event(log, "started", plugins=len(self.plugins.info), types=len(self.plugins.types),
              rooms=len(self.config.rooms))

    async def drain(self) -> None:
        """Stop the bots and disconnect every client cleanly (a normal Socket.IO disconnect), while connections are up.

        Disconnects take each room's lock only to record the leave
        (core/joining.py), and nothing holds a room's lock across an emit, so a
        client that stopped answering long ago cannot hold this up.
        """
        if self._drained:
            return
        self._drained = True
        await self.bots.stop()
        for sid in list(self.sessions):
            await self.sio.disconnect(sid, ignore_queue=True)
        await self.joins.close()  # joins, announcements and plugin notifications under way finish
        await self._let_pollers_collect()
        await self.sio.shutdown()  # close every Engine.IO connection properly, behind its DISCONNECT

    async def stop(self) -> None:
        """Drain (if nobody did), tell plugins, stop a cluster's loops, release the state. The lifespan's shutdown."""
        await self.drain()
        await self.plugins.notify("roomchat_shutdown")
        if self.node is not None:
            await self.node.stop()
        await self.stop_storage()  # after the cluster's feed: what it delivered is queued
        await self.state.close()
        await self.watchdog.stop()
        event(log, "stopped")

    async def _let_pollers_collect(self, timeout: float = 2.0) -> None:
        """Wait (bounded) until long-polling clients have fetched their DISCONNECT packets.

        A polling client between two GETs would otherwise find the server gone
        and see a transport error (and reconnect) instead of a normal disconnect.
        WebSocket queues drain at once; this reads python-engineio's socket queues.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while any(not s.queue.empty() for s in list(self.sio.eio.sockets.values())):
            if asyncio.get_running_loop().time() >= deadline:
                return
            await asyncio.sleep(0.02)

    def connection_count(self) -> int:
        """Connections joined to a room on this server."""
        return len(self.sessions)

    def health(self) -> Health:
        """What ``/healthz`` checks: the shared store, the event loop, the ping sweep, a cluster's feed."""
        checks = [self.watchdog.problem, lambda: overdue_problem(self.sio.eio)]
        if self.node is not None:
            checks.append(self.node.feed_problem)
        return Health(self.connection_count, self.state.check_available, checks)

    def asgi_app(self) -> Any:
        """The ASGI application: Socket.IO under /socket.io/, /healthz, /schema, the web client; and the lifespan."""
        web = WebClient(plugin_assets(self.plugins.answers("roomchat_web_assets")), self.config.bots)
        http = http_app(lambda: schemas(self.plugins.types), self.health(), web)
        return socketio.ASGIApp(self.sio, other_asgi_app=http, on_startup=self.start, on_shutdown=self.stop)
