"""The chat server: one python-socketio AsyncServer, wired to joins and dispatch.

Reading order for newcomers: ``joining.py`` (connect, identify, announce),
``identity.py`` (who is this?), ``dispatch.py`` (check, dispatch by type),
``delivery.py`` (put it on the wire). This module only builds and connects them.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from . import engine, protocol  # engine: python-engineio's long-polling limits, set on import
from .bothost import BotHost
from .clock import Clock
from .config import Config, RoomConfig
from .delivery import Delivery, FanoutManager
from .dispatch import Dispatcher
from .errors import Refusal
from .identity import Authenticator, check_auth_config
from .joining import Joins
from .logs import event
from .plugins import PluginHost, Runtime
from .protocol import Message
from .requires import require
from .session import Session
from .state import StateBackend
from .state.memory import memory_backend
from .users import ROOM_ID
from .watchdog import LoopWatchdog

log = logging.getLogger("roomchat.server")

_wants_ack: contextvars.ContextVar[bool] = contextvars.ContextVar("wants_ack", default=False)


class JsonPacket(sio_packet.Packet):
    """Socket.IO packets of JSON only: the server never sends binary attachments.

    The stock packet walks every outgoing payload looking for bytes, a tenth of
    the server's time on a busy room. roomchat's protocol is JSON: emits with
    binary attachments are still decoded and refused (``invalid_message``), and
    nothing the server sends holds bytes (a plugin that put some in a value
    would fail to encode and get ``plugin_error``).
    """

    uses_binary_events = False


ClientHandler = Callable[..., Awaitable[Any]]
Refuser = Callable[[str, str, Refusal], Awaitable[Any]]

# python-socketio fires these itself; Socket.IO reserves them, and a client event may never reach them.
LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})
RESERVED_EVENTS = frozenset({*LIFECYCLE_EVENTS, "connect_error", "disconnecting", "newListener", "removeListener"})


class SocketServer(socketio.AsyncServer):
    """python-socketio's AsyncServer, with the routing and refusals the protocol needs.

    1. Client events go only to handlers registered with ``client_event``;
       ``on`` takes python-socketio's lifecycle handlers (``connect``,
       ``disconnect``) and nothing else. python-socketio looks client events up
       in the same table as its lifecycle handlers, so ``42["disconnect"]``
       from a client used to run the disconnect handler (the sender announced
       as gone while it kept listening) and ``42["connect", ...]`` the connect
       handler (guests who never left). A reserved or unknown name goes to the
       ``"*"`` handler, which refuses it (``invalid_message``).
    2. It records whether the client asked for an ack: PROTOCOL.md sends
       ``error-response`` only to an emit without an ack callback, and
       python-socketio does not tell a handler whether there is one.
    3. An emit it cannot read (JSON nested too deep, an integer past 100
       digits, binary attachments) is refused with ``invalid_message`` through
       the refuser (``set_refuser``), at once: binary attachments are never
       awaited, so a header without them cannot swallow the packets after it.
       Other packets it cannot read cost one log line (no traceback) and are dropped.
    4. A long-polling client that closes gets its pending GET answered at once.
    5. Its Engine.IO server (``engine.EngineServer``) closes a connection that has
       more than ``server.max_pending_output`` bytes pending (a client that stopped reading).

    They override python-socketio internals, so the version is pinned below 6 and
    tests/test_security_transport.py, tests/test_protocol_errors.py and
    tests/test_fuzz.py check each behaviour.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_events: dict[str, ClientHandler] = {}
        self._refuser: Refuser | None = None

    def _engineio_server_class(self) -> type[engine.EngineServer]:
        return engine.EngineServer  # caps what each connection may have pending

    def on(self, event: str, handler: Any = None, namespace: str | None = None) -> Any:
        """Register a lifecycle handler (``connect``, ``disconnect``); client events use ``client_event``."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"{event!r} is not a lifecycle event: register client events with client_event(), "
                             "so that no client can reach a lifecycle handler by naming it")
        return super().on(event, handler, namespace)

    def client_event(self, name: str, handler: ClientHandler) -> None:
        """Route client emits named ``name`` to ``handler(sid, *args)``.

        ``"*"`` takes every other name, reserved ones included, as ``handler(name, sid, *args)``.
        """
        if name in RESERVED_EVENTS:
            raise ValueError(f"{name!r} is reserved by Socket.IO: no client event may use it")
        self.client_events[name] = handler

    def set_refuser(self, refuser: Refuser) -> None:
        """``refuser(sid, event_name, refusal)`` answers an emit refused here (its return value is the ack)."""
        self._refuser = refuser

    async def _handle_event(self, eio_sid, namespace, id, data):  # type: ignore[no-untyped-def]
        if not isinstance(data, list) or not data:
            # Not an emit: no event name to route. An ack id still gets its answer.
            event(log, "bad_packet", logging.WARNING, eio_sid=eio_sid, error="an EVENT whose data is not an array")
            if id is not None:
                await self._refuse(eio_sid, namespace, id, "", _unreadable("An emit is a JSON array: [event, ...]"))
            return None
        return await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_event_internal(self, server, sid, eio_sid, data, namespace, id):  # type: ignore[no-untyped-def]
        _wants_ack.set(id is not None)
        name, args = data[0], data[1:]
        handler = self.client_events.get(name) if type(name) is str else None
        if handler is not None:
            result = await handler(sid, *args)
        elif "*" in self.client_events:
            result = await self.client_events["*"](name, sid, *args)
        else:
            return
        if id is not None:
            await self._send_ack(eio_sid, namespace, id, result)

    async def _send_ack(self, eio_sid: str, namespace: str | None, ack_id: int, result: Any) -> None:
        data = [] if result is None else list(result) if isinstance(result, tuple) else [result]
        await self._send_packet(eio_sid, self.packet_class(sio_packet.ACK, namespace=namespace, id=ack_id, data=data))

    async def _refuse(self, eio_sid: str, namespace: str | None, ack_id: int | None, event_name: str,
                      refusal: Refusal) -> None:
        """Refuse an emit that no handler could take: the ack if there is one, else ``error-response``."""
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
        if sid is None or self._refuser is None or not self.manager.is_connected(sid, namespace or "/"):
            return
        _wants_ack.set(ack_id is not None)
        result = await self._refuser(sid, event_name, refusal)
        if ack_id is not None:
            await self._send_ack(eio_sid, namespace, ack_id, result)

    async def _handle_eio_message(self, eio_sid, data):  # type: ignore[no-untyped-def]
        try:
            await self._route_packet(eio_sid, data)
        except Exception as exc:
            if _raised_in_roomchat(exc):
                raise  # a bug of ours in a handler: keep the traceback
            # python-socketio could not route the packet: one log line, not a traceback.
            _bad_packet(eio_sid, data, exc)

    async def _route_packet(self, eio_sid: str, data: Any) -> None:
        """python-socketio's ``_handle_eio_message``, without waiting for binary attachments."""
        if not isinstance(data, str):
            _bad_packet(eio_sid, data, "a binary attachment: roomchat takes JSON only")
            return
        try:
            pkt = self.packet_class(encoded_packet=data)
        except (ValueError, RecursionError, TypeError) as exc:
            header = engine.emit_header(data)
            if header is None or (header.ack_id is None and not header.event_name):
                _bad_packet(eio_sid, data, exc)  # nothing to answer: no ack, no event to name
                return
            await self._refuse_unreadable(eio_sid, header, "nested too deep" if isinstance(exc, RecursionError)
                                          else "undecodable")
            return
        kind = pkt.packet_type
        if kind == sio_packet.EVENT and engine.too_deep(data, pkt.data):
            await self._refuse_unreadable(eio_sid, engine.EmitHeader(pkt.namespace or "/", pkt.id, _name_of(pkt.data)),
                                          "nested too deep")
            return
        if kind == sio_packet.CONNECT:
            await self._handle_connect(eio_sid, pkt.namespace, pkt.data)
        elif kind == sio_packet.DISCONNECT:
            await self._handle_disconnect(eio_sid, pkt.namespace, self.reason.CLIENT_DISCONNECT)
        elif kind == sio_packet.EVENT:
            await self._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data)
        elif kind == sio_packet.ACK:
            await self._handle_ack(eio_sid, pkt.namespace, pkt.id, pkt.data)
        elif kind == sio_packet.BINARY_EVENT:
            await self._refuse(eio_sid, pkt.namespace, pkt.id, _name_of(pkt.data),
                               _unreadable("Binary data is not accepted: a message is plain JSON"))
        else:
            _bad_packet(eio_sid, data, f"unexpected packet type {kind!r}")

    async def _refuse_unreadable(self, eio_sid: str, header: engine.EmitHeader, reason: str) -> None:
        event(log, "unreadable_emit", eio_sid=eio_sid, emit=header.event_name, reason=reason)
        await self._refuse(eio_sid, header.namespace, header.ack_id, header.event_name, _unreadable(
            f"This message could not be read: it must be JSON, nested at most {engine.MAX_JSON_DEPTH} deep, "
            "with integers of at most 99 digits"))

    async def _handle_eio_disconnect(self, eio_sid, reason):  # type: ignore[no-untyped-def]
        await super()._handle_eio_disconnect(eio_sid, reason)
        # A long-polling client that closes still has a GET waiting for packets, and
        # python-engineio leaves it open (for ping_interval + ping_timeout; a Python
        # client blocks that long in disconnect()). Answer it, as Node's engine.io does.
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None and not socket.upgraded and reason == self.reason.CLIENT_DISCONNECT:
            socket.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))


def _name_of(data: Any) -> str:
    """The event name of a decoded EVENT's data ("" when it has none), cut to 100 characters."""
    name = data[0] if isinstance(data, list) and data else None
    return name[:100] if type(name) is str else ""


def _unreadable(sentence: str) -> Refusal:
    return Refusal("invalid_message", sentence)


def _bad_packet(eio_sid: str, data: Any, error: BaseException | str) -> None:
    size = len(data) if isinstance(data, (str, bytes)) else None
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    event(log, "bad_packet", logging.WARNING, eio_sid=eio_sid, size=size, error=text[:200])


_THIS = Path(__file__).resolve()
_PACKAGE = _THIS.parent


def _raised_in_roomchat(exc: BaseException) -> bool:
    """Whether roomchat's own code was running (below this module) when ``exc`` was raised."""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if path != _THIS and path.is_relative_to(_PACKAGE):
            return True
    return False


def _cors(origins: list[str]) -> str | list[str] | None:
    if "*" in origins:
        return "*"
    return origins or None  # None: same origin only


class ChatServer:
    """Everything one roomchat server process holds: config, plugins, state, sessions."""

    def __init__(self, config: Config, source: str = "<config>", state: StateBackend | None = None,
                 client_manager: socketio.AsyncManager | None = None,
                 extra_plugins: dict[str, object] | None = None, clock: Clock | None = None) -> None:
        self.config = config
        self.source = source
        self.clock = clock or Clock()
        self.plugins = PluginHost(config.server.handler_timeout, self.clock, frozenset(b.id for b in config.bots))
        self.plugins.load(config.plugins, source, config)
        for name, plugin in (extra_plugins or {}).items():
            self.plugins.add(plugin, name, "given to ChatServer")
        self.plugins.validate_settings(
            {**{f"rooms.{name}": room for name, room in config.rooms.items()}, "server.new_room": config.server.new_room},
            source,
        )
        if state is None and config.cluster is not None:  # several servers as one: docs/scaling.md
            require("redis", feature=f"the cluster: section of {source} (several servers on Redis)", install="redis>=5")
            from .cluster import cluster_parts

            state, cluster_manager = cluster_parts(config)
            client_manager = client_manager or cluster_manager
        self.state = state or memory_backend(config.auth.guest_id_start)
        self.auth = Authenticator(config, self.state.guest_ids)
        self.bots = BotHost(self)  # checks the bots: config now; they connect once the server listens
        self.sessions: dict[str, Session] = {}
        settings = config.server
        self.sio = SocketServer(
            async_mode="asgi",
            client_manager=client_manager or FanoutManager(),
            serializer=JsonPacket,
            cors_allowed_origins=_cors(settings.cors_origins),
            max_http_buffer_size=settings.max_http_buffer_size,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            async_handlers=False,
        )
        # Handle each connection's packets in the order they arrive, inline,
        # instead of one task per packet: a sender's messages keep their order
        # even when a plugin awaits I/O, and the hot path creates no tasks.
        # Every handler is bounded by handler_timeout, well under ping_timeout.
        self.sio.eio.async_handlers = False
        self.sio.eio.max_pending_output = settings.max_pending_output  # a client that stops reading is closed
        self.delivery = Delivery(self.sio)
        self.joins = Joins(self)
        self.watchdog = LoopWatchdog(settings.health.max_loop_lag, settings.health.report_for)
        self.dispatcher = Dispatcher(self)
        self.plugins.attach(Runtime(self.state.kv, config.cluster is not None, self.state.presence,
                                    self._send_as_room, self._disconnect_user))
        self.state.bind(self)
        self.sio.on("connect", self.joins.connect)
        self.sio.on("disconnect", self.joins.disconnect)
        self.sio.client_event(protocol.DIRECT, self.dispatcher.direct)
        self.sio.client_event(protocol.BROADCAST, self.dispatcher.broadcast)
        self.sio.client_event("*", self.dispatcher.other_event)
        self.sio.set_refuser(self.dispatcher.refuse)

    @staticmethod
    def wants_ack() -> bool:
        """Whether the emit being handled now came with an ack callback."""
        return _wants_ack.get()

    def resolve_room(self, name: str) -> RoomConfig:
        """The room's config, from the first plugin that knows it (the config file last)."""
        return self.plugins.resolve_room(name)

    async def _send_as_room(self, room: str, type: str, value: Any, to: int | None) -> dict[str, Any]:
        """A plugin's ``chat.send``: a message from the room (ID 0) to the room, or to one user of it."""
        message = Message(type, value)
        if to is None:
            return await self.delivery.to_room(room, ROOM_ID, message)
        return await self.delivery.to_user(room, to, ROOM_ID, message)

    async def _disconnect_user(self, room: str, user_id: int) -> int:
        """A plugin's ``chat.disconnect``: close every connection of one user in a room (on every server)."""
        sids = await self.state.presence.sids(room, user_id)
        for sid in sids:
            await self.sio.disconnect(sid)
        return len(sids)

    async def listening(self, url: str) -> None:
        """The server accepts connections at ``url`` (a loopback URL): time the event loop, start the configured bots.

        The loop's watchdog (``/healthz``) starts now: start-up work is not a stuck loop.
        """
        self.watchdog.start()
        await self.bots.start(url)

    async def start(self) -> None:
        """Start the state backend and tell plugins the server is up."""
        await self.state.start()
        warning = check_auth_config(self.config.auth)
        if warning and any("jwt" in r.admit for r in self.config.rooms.values()):
            event(log, "jwt_disabled", logging.WARNING, reason=warning)
        await self.plugins.notify("roomchat_startup")
        event(log, "started", plugins=len(self.plugins.info), types=len(self.plugins.types), rooms=len(self.config.rooms))

    async def stop(self) -> None:
        """Stop the bots, disconnect every client cleanly, tell plugins, release the backend.

        Disconnects take each room's lock only to record the leave (joining.py),
        and nothing holds a room's lock across an emit, so a client that stopped
        answering long ago cannot hold this up.
        """
        await self.bots.stop()
        for sid in list(self.sessions):
            await self.sio.disconnect(sid, ignore_queue=True)
        await self.joins.close()  # joins, announcements and plugin notifications under way finish
        await self._let_pollers_collect()
        await self.sio.shutdown()
        await self.plugins.notify("roomchat_shutdown")
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

    def asgi_app(self) -> Any:
        """The ASGI application: Socket.IO under /socket.io/, plus /healthz and /schema."""
        from .http import http_app

        return socketio.ASGIApp(self.sio, other_asgi_app=http_app(self))
