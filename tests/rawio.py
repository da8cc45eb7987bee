"""A raw Engine.IO v4 / Socket.IO v5 client for attack tests: frames exactly as written.

The python-socketio client refuses to send what a hostile client sends (an event
named ``disconnect``, a bare ``46``, an empty WebSocket frame, a client that
stops reading or stops answering pings). ``RawClient`` speaks the wire by hand,
over a real WebSocket (websocket-client) or HTTP long-polling (requests):

>>> with RawClient(url, "websocket") as raw:
...     users = raw.join("lobby", name="Mallory")     # 40{auth}, waits for initial-response
...     raw.send('42["disconnect"]')                   # one Engine.IO packet, as written
...     raw.call("message", None)                      # 421["message",null] -> the ack's data
...     raw.wait_event("error-response")               # the first error-response's payload

Nothing runs in the background: the client reads only when a method waits for
something, and answers the server's pings only then (``answer_pings=False``
never answers them). A client that stops calling it is a client that stopped
reading: with ``rcvbuf`` small, the server's writes back up to the server.

Engine.IO packets are strings like ``"42[...]"`` (4 = MESSAGE, then the
Socket.IO packet: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR,
5 BINARY_EVENT, 6 BINARY_ACK). Received events are kept in ``events`` and acks
in ``acks``; every raw Engine.IO packet received is also in ``received``.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from collections.abc import Callable
from typing import Any, Literal, Self

import requests
import websocket

Transport = Literal["websocket", "polling"]
RECORD_SEPARATOR = "\x1e"  # between packets of one long-polling payload

# A Socket.IO packet as Engine.IO's MESSAGE data: type, [attachments-], [/namespace,], [ack id], [JSON].
_SIO = re.compile(r"(?P<type>[0-6])(?:(?P<attachments>[0-9]+)-)?(?:(?P<nsp>/[^,]*),)?(?P<id>[0-9]+)?(?P<data>.*)",
                  re.DOTALL)


class RawClosed(Exception):
    """The server closed the connection (``code``: the WebSocket close code, None without a close frame)."""

    def __init__(self, code: int | None, how: str) -> None:
        super().__init__(f"connection closed ({how}, close code {code})")
        self.code = code
        self.how = how


class RawRefused(Exception):
    """The server answered the Socket.IO CONNECT with CONNECT_ERROR (``data``: its payload)."""

    def __init__(self, data: Any) -> None:
        super().__init__(f"connect refused: {data!r}")
        self.data = data
        self.code = data.get("data", {}).get("code") if isinstance(data, dict) and isinstance(data.get("data"), dict) \
            else None


class RawClient:
    """One Engine.IO connection, opened at construction (the handshake only; ``join`` enters a room).

    ``rcvbuf``/``sndbuf`` set the TCP buffer sizes of a WebSocket before it connects.
    ``timeout`` bounds every wait (and each socket read).
    """

    def __init__(self, url: str, transport: Transport = "websocket", *, timeout: float = 5.0,
                 rcvbuf: int | None = None, sndbuf: int | None = None, answer_pings: bool = True,
                 path: str = "/socket.io/") -> None:
        self.url = url.rstrip("/")
        self.transport = transport
        self.timeout = timeout
        self.answer_pings = answer_pings
        self.path = path
        self.events: list[tuple[str, Any]] = []
        self.acks: dict[int, Any] = {}
        self.received: list[str | bytes] = []
        self.connect_reply: Any = None
        self.closed: RawClosed | None = None
        self.sid: str = ""
        self.handshake: dict[str, Any] = {}
        self._pending: list[str | bytes] = []  # long-polling: packets of the last GET not yet handled
        self._next_ack = 1
        self._http = requests.Session()
        self.ws: websocket.WebSocket | None = None
        if transport == "websocket":
            options = [(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)] if rcvbuf else []
            options += [(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)] if sndbuf else []
            ws_url = self.url.replace("http://", "ws://", 1) + f"{path}?EIO=4&transport=websocket"
            self.ws = websocket.create_connection(ws_url, timeout=timeout, sockopt=tuple(options),
                                                  enable_multithread=True)
        else:
            reply = self._http.get(self._poll_url(), timeout=timeout)
            reply.raise_for_status()
            self._pending = list(reply.text.split(RECORD_SEPARATOR))
        opening = self._read_packet(timeout)
        if not isinstance(opening, str) or not opening.startswith("0"):
            raise AssertionError(f"expected an Engine.IO OPEN packet, got {opening!r}")
        self.handshake = json.loads(opening[1:])
        self.sid = self.handshake["sid"]

    # -- raw Engine.IO ------------------------------------------------------------------------

    def send(self, packet: str | bytes) -> None:
        """Send one Engine.IO packet exactly as given (a WebSocket frame; a POST of its own when polling)."""
        self.send_many([packet])

    def send_many(self, packets: list[str | bytes]) -> None:
        """Send several packets: one WebSocket frame each, or one long-polling POST holding them all."""
        if self.ws is not None:
            for packet in packets:
                opcode = websocket.ABNF.OPCODE_BINARY if isinstance(packet, bytes) else websocket.ABNF.OPCODE_TEXT
                self.ws.send(packet, opcode)
            return
        body = RECORD_SEPARATOR.join(p if isinstance(p, str) else "b" + _b64(p) for p in packets)
        self.post(body.encode("utf-8"))

    def post(self, body: bytes) -> requests.Response:
        """Long-polling: one POST of ``body`` as it is (no framing added); returns the reply."""
        reply = self._http.post(self._poll_url(), data=body, timeout=self.timeout,
                                headers={"Content-Type": "text/plain;charset=UTF-8"})
        if reply.status_code >= 400:
            self.closed = self.closed or RawClosed(None, f"POST answered {reply.status_code}")
        return reply

    def send_ws_frame(self, payload: bytes | str, opcode: int = websocket.ABNF.OPCODE_TEXT) -> None:
        """WebSocket only: one frame of any opcode and payload (an empty text frame: ``b""``)."""
        assert self.ws is not None, "send_ws_frame needs the websocket transport"
        self.ws.send(payload, opcode)

    def recv(self, timeout: float | None = None) -> str | bytes | None:
        """The next Engine.IO packet handled here (pings answered, events recorded); None on timeout.

        Raises RawClosed once the server has closed the connection.
        """
        packet = self._read_packet(self.timeout if timeout is None else timeout)
        if packet is not None:
            self._handle(packet)
        return packet

    # -- Socket.IO ----------------------------------------------------------------------------

    def connect(self, auth: dict[str, Any] | None = None) -> Any:
        """Send the Socket.IO CONNECT (``40{auth}``) and wait for its answer; RawRefused on CONNECT_ERROR."""
        self.send("40" + (json.dumps(auth) if auth is not None else ""))
        self.wait_until(lambda: self.connect_reply is not None, "the CONNECT answer")
        if isinstance(self.connect_reply, RawRefused):
            raise self.connect_reply
        return self.connect_reply

    def join(self, room: str, *, name: str | None = None, token: str | None = None, **auth: Any) -> list[Any]:
        """Connect with ``{room, name, token, ...}`` as auth and wait for ``initial-response``; its users."""
        given = {"room": room, "name": name, "token": token, **auth}
        self.connect({k: v for k, v in given.items() if v is not None})
        return self.wait_event("initial-response")["data"]

    def emit(self, event: Any, *args: Any, ack: bool = False) -> int | None:
        """Send an EVENT (``42[event, *args]``, with an ack id when ``ack``); returns the ack id."""
        ack_id = None
        if ack:
            ack_id, self._next_ack = self._next_ack, self._next_ack + 1
        self.send("42" + ("" if ack_id is None else str(ack_id)) + json.dumps([event, *args]))
        return ack_id

    def call(self, event: Any, *args: Any, timeout: float | None = None) -> Any:
        """Emit with an ack and return the ack's first argument."""
        ack_id = self.emit(event, *args, ack=True)
        assert ack_id is not None
        return self.wait_ack(ack_id, timeout)

    def send_with_ack(self, packet_after_type: str, timeout: float | None = None) -> Any:
        """Send ``42<id><packet_after_type>`` (an EVENT whose JSON you wrote) and return the ack's first argument."""
        ack_id, self._next_ack = self._next_ack, self._next_ack + 1
        self.send(f"42{ack_id}{packet_after_type}")
        return self.wait_ack(ack_id, timeout)

    def sync(self) -> None:
        """A round trip (a ``message`` of ``null``, refused): afterwards every event sent before it has arrived."""
        self.call("message", None)

    def wait_ack(self, ack_id: int, timeout: float | None = None) -> Any:
        """The first argument of the ack with this id (waits for it)."""
        self.wait_until(lambda: ack_id in self.acks, f"the ack {ack_id}", timeout)
        args = self.acks[ack_id]
        return args[0] if isinstance(args, list) and args else args

    def wait_event(self, name: str, timeout: float | None = None, count: int = 1) -> Any:
        """The payload of the ``count``-th event of this name (waits for it)."""
        self.wait_until(lambda: len(self.of(name)) >= count, f"event {name!r} #{count}", timeout)
        return self.of(name)[count - 1]

    def of(self, name: str) -> list[Any]:
        """Payloads of the events of this name received so far (first argument of each)."""
        return [args[0] if args else None for event, args in self.events if event == name]

    def wait_until(self, predicate: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        """Read packets until ``predicate()`` holds; AssertionError after ``timeout`` (a bound, not a check)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            self.recv(min(left, 1.0))

    def wait_closed(self, timeout: float | None = None) -> RawClosed:
        """Read (and drop) whatever comes until the server closes the connection; how it closed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self.closed is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for the server to close the connection")
            try:
                self.recv(min(left, 1.0))
            except RawClosed:
                break
        assert self.closed is not None
        return self.closed

    def close(self) -> None:
        """Close the transport (idempotent; a WebSocket with a close frame, a poller with a CLOSE packet)."""
        try:
            if self.ws is not None:
                self.ws.close(timeout=1)
            elif self.closed is None:
                self.post(b"1")
        except (OSError, websocket.WebSocketException, requests.RequestException):
            pass
        self.closed = self.closed or RawClosed(1000, "closed by the client")
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _poll_url(self) -> str:
        sid = f"&sid={self.sid}" if self.sid else ""
        return f"{self.url}{self.path}?EIO=4&transport=polling&t={time.monotonic_ns()}{sid}"

    def _read_packet(self, timeout: float) -> str | bytes | None:
        if self.closed is not None:
            raise self.closed
        if self.ws is not None:
            return self._read_ws(timeout)
        return self._read_poll(timeout)

    def _read_ws(self, timeout: float) -> str | bytes | None:
        assert self.ws is not None
        self.ws.settimeout(max(timeout, 0.001))
        try:
            opcode, data = self.ws.recv_data(control_frame=False)
        except websocket.WebSocketTimeoutException:
            return None
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as exc:
            self.closed = RawClosed(None, f"no close frame: {type(exc).__name__}")
            raise self.closed from None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            self.closed = RawClosed(code, "close frame")
            raise self.closed
        return data.decode("utf-8") if opcode == websocket.ABNF.OPCODE_TEXT else data

    def _read_poll(self, timeout: float) -> str | bytes | None:
        """One packet; a GET when none is pending (it returns at the server's next packet or ping)."""
        if not self._pending:
            wait = self.handshake.get("pingInterval", 25000) / 1000 + self.handshake.get("pingTimeout", 20000) / 1000
            try:
                reply = self._http.get(self._poll_url(), timeout=max(timeout, wait + 5))
            except requests.RequestException as exc:
                self.closed = RawClosed(None, f"GET failed: {type(exc).__name__}")
                raise self.closed from None
            if reply.status_code >= 400:
                self.closed = RawClosed(None, f"GET answered {reply.status_code}")
                raise self.closed
            self._pending = reply.text.split(RECORD_SEPARATOR)
        packet = self._pending.pop(0)
        if packet.startswith("b"):
            return base64.b64decode(packet[1:])
        return packet

    def _handle(self, packet: str | bytes) -> None:
        self.received.append(packet)
        if not isinstance(packet, str) or not packet:
            return
        kind = packet[0]
        if kind == "2" and self.answer_pings:
            self.send("3" + packet[1:])
        elif kind == "1":
            self.closed = RawClosed(None, "Engine.IO CLOSE packet")
        elif kind == "4":
            self._handle_socketio(packet[1:])

    def _handle_socketio(self, text: str) -> None:
        found = _SIO.fullmatch(text)
        if found is None:
            return
        kind, data = found.group("type"), found.group("data")
        value = json.loads(data) if data else None
        if kind == "0":
            self.connect_reply = value if value is not None else {}
        elif kind == "4":
            self.connect_reply = RawRefused(value)
        elif kind == "2" and isinstance(value, list) and value:
            self.events.append((value[0], value[1:]))
        elif kind == "3" and found.group("id") is not None:
            self.acks[int(found.group("id"))] = value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
