"""The composition root: one place that builds a roomchat server from a Config, and its ASGI app.

``ChatServer(config)`` builds every part and wires them, bottom up: the clock,
the plugin host (every plugin registered, every setting checked), the state
(in memory, or Redis with ``cluster:``), identity, the transport (python-socketio
with roomchat's adjustments, ``transport.engine.apply()`` first), the core
(delivery, joins, dispatch), the cluster's loops, the bots, HTTP. Nothing
else builds or receives it: plugins get their ``Chat``, the core and the
adapters the collaborators they name.

``asgi_app()`` is the ASGI application. Its lifespan starts the server
(``start``: state, the cluster's loops, ``roomchat_startup``, the watchdog, the
bots) and stops it (``stop``). ``drain()`` says goodbye to every client with a
normal Socket.IO disconnect; the ASGI lifespan has no moment for it (a server
runs the lifespan's shutdown only after it closed the connections), so the
runner calls it before the server closes connections (roomchat/serve.py),
and ``stop`` calls it if nobody did.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio

from . import protocol
from .bothost import BotHost
from .botrunner import loopback_url
from .clock import Clock
from .config import Config
from .core.delivery import Delivery
from .core.dispatch import Dispatcher
from .core.identity import Authenticator, check_auth_config
from .core.joining import Joins
from .core.plugin_host import PluginHost, Runtime
from .core.sessions import Sessions
from .http import Health, http_app, schemas
from .logs import event
from .requires import require
from .state.base import StateBackend
from .state.memory import memory_backend
from .transport import engine
from .transport.fanout import FanoutManager
from .transport.socketio import JsonPacket, SocketServer, cors_origins
from .watchdog import LoopWatchdog, overdue_problem
from .webclient import WebClient, plugin_assets

log = logging.getLogger("roomchat.server")

__all__ = ["ChatServer"]


class ChatServer:
    """One roomchat server: every part, built from a Config and wired; started and stopped by its ASGI lifespan."""

    def __init__(self, config: Config, source: str = "<config>", extra_plugins: dict[str, object] | None = None,
                 clock: Clock | None = None) -> None:
        self.config = config
        self.source = source
        self.clock = clock or Clock()
        self.url: str | None = None  # where this server listens, for its bots (``listen_at``)
        self.plugins = self._plugin_host(extra_plugins or {})
        self.state, client_manager = self._state()
        self.auth = Authenticator(config, self.state.guest_ids)
        self.bots = BotHost(config, source, self.auth, self.plugins.bots, self.plugins.resolve_room, self.clock,
                            self.state.leases)  # checks the bots: config now; they connect once the server listens
        self.sessions: Sessions = {}
        self.sio = self._socket_server(client_manager)
        self.delivery = Delivery(self.sio, self.clock)
        self.joins = Joins(self.plugins, self.auth, self.state, self.sio, self.sessions)
        self.dispatcher = Dispatcher(config.server.handler_timeout, self.sessions, self.state, self.delivery, self.sio)
        self.plugins.attach(Runtime(self.state.kv, config.cluster is not None, self.state.presence,
                                    self.delivery.from_room, self.joins.disconnect_user))
        self.node = self._cluster_node(client_manager)
        self.watchdog = LoopWatchdog(config.server.health.max_loop_lag, config.server.health.report_for)
        self._route()
        self._drained = False

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

    def _state(self) -> tuple[StateBackend, socketio.AsyncManager]:
        """The state backend and the Socket.IO client manager: in memory, or on Redis (docs/scaling.md)."""
        config = self.config
        if config.cluster is None:
            return memory_backend(config.auth.guest_id_start, self.clock), FanoutManager()
        require("redis", feature=f"the cluster: section of {self.source} (several servers on Redis)",
                install="redis>=5")
        from .cluster.manager import cluster_parts

        return cluster_parts(config)

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
        return ClusterNode(self.config.cluster, self.config.server.health.max_feed_stall, self.state,
                           Subscription(self.sio, client_manager), self.joins, self.sio)

    def _route(self) -> None:
        """The Socket.IO events: connect and disconnect to the joins, client emits to dispatch."""
        self.sio.on("connect", self.joins.connect)
        self.sio.on("disconnect", self.joins.disconnect)
        self.sio.client_event(protocol.DIRECT, self.dispatcher.direct)
        self.sio.client_event(protocol.BROADCAST, self.dispatcher.broadcast)
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
        except Exception:
            log.exception("start-up failed")
            raise

    async def _start(self) -> None:
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
