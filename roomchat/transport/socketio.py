"""The Socket.IO side of the transport: python-socketio's AsyncServer, with the adjustments PROTOCOL.md needs.

``SocketServer`` is the core's ``Transport`` (roomchat/core/delivery.py):
emit to a connection or a channel, put a connection in a channel, close one,
say whether the emit being handled wants an ack. The composition root
(roomchat/app.py) builds it and routes its events to the core's joins and
dispatch; the Engine.IO settings it relies on are applied there
(``transport.engine.apply``), never on import.
"""

from __future__ import annotations

import contextvars
import logging
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from ..errors import Refusal
from ..logs import event
from . import engine
from .codec import OrjsonCodec

log = logging.getLogger("roomchat.server")

__all__ = ["JsonPacket", "SocketServer", "cors_origins"]

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
    6. JSON goes through orjson (``codec.OrjsonCodec``), with the standard
       library's answer wherever the two would differ.

    They override python-socketio internals, so the version is pinned below 6 and
    tests/test_security_transport.py, tests/test_protocol_errors.py and
    tests/test_fuzz.py check each behaviour.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("json", OrjsonCodec)  # both directions, refusals as the standard library's (codec.py)
        super().__init__(*args, **kwargs)
        self.client_events: dict[str, ClientHandler] = {}
        self._refuser: Refuser | None = None

    # -- the core's Transport ------------------------------------------------------------

    def is_connected(self, sid: str) -> bool:
        """Whether connection ``sid`` is still connected (to this server)."""
        return bool(self.manager.is_connected(sid, "/"))

    @staticmethod
    def wants_ack() -> bool:
        """Whether the emit being handled now came with an ack callback."""
        return _wants_ack.get()

    def emit(self, event: str, data: Any = None, to: Any = None, room: Any = None, skip_sid: Any = None,
             namespace: str | None = None, callback: Any = None,
             ignore_queue: bool = False) -> Coroutine[Any, Any, None]:
        """python-socketio's ``emit``, without its log line per emit: the manager's emit, to await."""
        return self.manager.emit(event, data, namespace or "/", room=to or room, skip_sid=skip_sid, callback=callback,
                                 ignore_queue=ignore_queue)

    # -- routing ---------------------------------------------------------------------------

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

    async def _handle_event(self, eio_sid, namespace, id, data):
        if not isinstance(data, list) or not data:
            # Not an emit: no event name to route. An ack id still gets its answer.
            event(log, "bad_packet", logging.WARNING, eio_sid=eio_sid, error="an EVENT whose data is not an array")
            if id is not None:
                await self._refuse(eio_sid, namespace, id, "", _unreadable("An emit is a JSON array: [event, ...]"))
            return None
        return await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_event_internal(self, server, sid, eio_sid, data, namespace, id):
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

    async def _handle_eio_message(self, eio_sid, data):
        try:
            if not await self._route_plain_emit(eio_sid, data):
                await self._route_packet(eio_sid, data)
        except Exception as exc:
            if _raised_in_roomchat(exc):
                raise  # a bug of ours in a handler: keep the traceback
            # python-socketio could not route the packet: one log line, not a traceback.
            _bad_packet(eio_sid, data, exc)

    async def _route_plain_emit(self, eio_sid: str, data: Any) -> bool:
        """The common packet in fewer steps: a readable emit on the default namespace, from a connected client.

        What ``_route_packet``, ``_route_event``, ``_handle_event`` and
        python-socketio's ``_handle_event`` do before ``_handle_event_internal``
        (which routes the event and sends the ack), without their four
        coroutines and two log calls per emit (with the other steps of this
        change, 7.6 % of a direct message's instructions). False, having done
        nothing, for anything else: ``_route_packet`` reads it and refuses or
        routes it as before.
        """
        emit = _plain_emit(data) if type(data) is str and not self.async_handlers else None
        if emit is None:
            return False
        ack_id, text = emit
        try:
            emitted = self.packet_class.json.loads(text)
        except (ValueError, RecursionError, TypeError):
            return False
        if type(emitted) is not list or not emitted or engine.too_deep(data, emitted):
            return False
        manager = self.manager
        sid = manager.sid_from_eio_sid(eio_sid, "/")
        if sid is None or not manager.is_connected(sid, "/"):
            return False  # python-socketio's own path logs and drops it
        await self._handle_event_internal(self, sid, eio_sid, emitted, "/", ack_id)
        return True

    async def _route_packet(self, eio_sid: str, data: Any) -> None:
        """python-socketio's ``_handle_eio_message``, without waiting for binary attachments."""
        if not isinstance(data, str):
            _bad_packet(eio_sid, data, "a binary attachment: roomchat takes JSON only")
            return
        emit = _plain_emit(data)
        try:
            if emit is not None:  # the common case, read without a Packet: 2[...] or 2<ack id>[...]
                emitted = self.packet_class.json.loads(emit[1])
            else:
                pkt = self.packet_class(encoded_packet=data)
        except (ValueError, RecursionError, TypeError) as exc:
            header = engine.emit_header(data)
            if header is None or (header.ack_id is None and not header.event_name):
                _bad_packet(eio_sid, data, exc)  # nothing to answer: no ack, no event to name
                return
            await self._refuse_unreadable(eio_sid, header, "nested too deep" if isinstance(exc, RecursionError)
                                          else "undecodable")
            return
        if emit is not None:
            await self._route_event(eio_sid, data, emit[0], emitted)
            return
        kind = pkt.packet_type
        if kind == sio_packet.EVENT:
            await self._route_event(eio_sid, data, pkt.id, pkt.data, pkt.namespace)
        elif kind == sio_packet.CONNECT:
            await self._handle_connect(eio_sid, pkt.namespace, pkt.data)
        elif kind == sio_packet.DISCONNECT:
            await self._handle_disconnect(eio_sid, pkt.namespace, self.reason.CLIENT_DISCONNECT)
        elif kind == sio_packet.ACK:
            await self._handle_ack(eio_sid, pkt.namespace, pkt.id, pkt.data)
        elif kind == sio_packet.BINARY_EVENT:
            await self._refuse(eio_sid, pkt.namespace, pkt.id, _name_of(pkt.data),
                               _unreadable("Binary data is not accepted: a message is plain JSON"))
        else:
            _bad_packet(eio_sid, data, f"unexpected packet type {kind!r}")

    async def _route_event(self, eio_sid: str, text: str, ack_id: int | None, data: Any,
                           namespace: str | None = None) -> None:
        if engine.too_deep(text, data):
            await self._refuse_unreadable(eio_sid, engine.EmitHeader(namespace or "/", ack_id, _name_of(data)),
                                          "nested too deep")
            return
        await self._handle_event(eio_sid, namespace, ack_id, data)

    async def _refuse_unreadable(self, eio_sid: str, header: engine.EmitHeader, reason: str) -> None:
        event(log, "unreadable_emit", eio_sid=eio_sid, emit=header.event_name, reason=reason)
        await self._refuse(eio_sid, header.namespace, header.ack_id, header.event_name, _unreadable(
            f"This message could not be read: it must be JSON, nested at most {engine.MAX_JSON_DEPTH} deep, "
            "with integers of at most 99 digits"))

    async def _handle_eio_disconnect(self, eio_sid, reason):
        await super()._handle_eio_disconnect(eio_sid, reason)
        # A long-polling client that closes still has a GET waiting for packets, and
        # python-engineio leaves it open (for ping_interval + ping_timeout; a Python
        # client blocks that long in disconnect()). Answer it, as Node's engine.io does.
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None and not socket.upgraded and reason == self.reason.CLIENT_DISCONNECT:
            socket.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))


def _plain_emit(text: str) -> tuple[int | None, str] | None:
    """An EVENT on the default namespace without attachments (``2[...``, ``2<ack id>[...``): (ack id, JSON).

    None for anything else, which python-socketio's Packet reads (the same
    answer for these: its ack id is the digits before the JSON).
    """
    if text[:1] != "2":
        return None
    bracket = text.find("[", 1, 18)
    if bracket < 0:
        return None
    head = text[1:bracket]
    if not head:
        return None, text[1:]
    if head.isascii() and head.isdigit():
        return int(head), text[bracket:]
    return None


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
_PACKAGE = _THIS.parent.parent  # the roomchat package


def _raised_in_roomchat(exc: BaseException) -> bool:
    """Whether roomchat's own code was running (below this module) when ``exc`` was raised."""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if path != _THIS and path.is_relative_to(_PACKAGE):
            return True
    return False


def cors_origins(origins: list[str]) -> str | list[str] | None:
    """``server.cors_origins`` as python-engineio takes them: ``"*"``, a list, or None (same origin only)."""
    if "*" in origins:
        return "*"
    return origins or None
