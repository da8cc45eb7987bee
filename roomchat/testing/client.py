"""A real Socket.IO client for tests: records every event, waits for the ones you expect."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Self

import socketio

from ..client.wire import data_of, read_user, read_users
from ..requires import require
from ..users import User


class JoinRefused(Exception):
    """The server refused the connection (``connect_error``); ``code`` is PROTOCOL.md's code."""

    def __init__(self, message: str, data: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data or {}
        self.code = self.data.get("code")


def _require_client_packages(transport: str) -> None:
    """python-socketio's client polls with ``requests`` and speaks WebSocket with ``websocket-client`` (test extra)."""
    if transport != "websocket":
        require("requests", feature="roomchat.testing.ChatClient over long-polling")
    if transport != "polling":
        require("websocket", feature="roomchat.testing.ChatClient over WebSocket", package="websocket-client")


class ChatClient:
    """One connection to a roomchat server, with every received event kept in ``events``.

    >>> with ChatClient(url, room="lobby", name="Ann") as ann:
    ...     ann.users            # initial-response's list
    ...     ann.call("broadcast-message", {"type": "text", "value": "hi"})
    """

    def __init__(self, url: str, room: str | None = None, token: str | None = None, name: str | None = None,
                 transport: str = "websocket", auth: dict[str, Any] | None = None, query: str | None = None,
                 connect: bool = True, timeout: float = 5.0) -> None:
        self.url = url
        self.auth = auth if auth is not None else {k: v for k, v in
                                                     {"room": room, "token": token, "name": name}.items() if v is not None}
        self.query = query
        self.transport = transport
        self.timeout = timeout
        self.events: list[tuple[str, Any]] = []
        self.known_users: dict[int, User] = {}  # everyone this connection has seen in its room, by ID
        self.refusal: JoinRefused | None = None
        self.disconnect_reason: str | None = None
        self._cond = threading.Condition()
        _require_client_packages(transport)
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)
        if connect:
            self.connect()

    # -- connection -----------------------------------------------------------

    def connect(self) -> ChatClient:
        """Connect and wait for ``initial-response``; raise JoinRefused on ``connect_error``."""
        transports = ["polling", "websocket"] if self.transport == "upgrade" else [self.transport]
        url = f"{self.url}?{self.query}" if self.query else self.url
        try:
            self.sio.connect(url, auth=self.auth or None, transports=transports, wait_timeout=self.timeout)
        except socketio.exceptions.ConnectionError:
            if self.refusal is not None:
                raise self.refusal from None
            raise
        if self.refusal is not None:
            raise self.refusal
        self.wait_for("initial-response")
        return self

    def close(self) -> None:
        """Disconnect (idempotent); on long-polling, the server hears of it before the client closes."""
        if self.sio.connected:
            if self.sio.transport() == "polling":
                self._leave_before_closing()
            self.sio.disconnect()

    def _leave_before_closing(self, timeout: float = 2.0) -> None:
        """Send Socket.IO's DISCONNECT and wait (bounded) until it is posted.

        python-engineio's polling client can drop the last packets of its
        ``disconnect()`` (DISCONNECT and CLOSE): its write loop stops when it sees
        the state change, and a POST in flight then (a PONG, say) is its last.
        The server then noticed only when pings went unanswered (ping_interval +
        ping_timeout), after a test had given up waiting for ``user-disconnected``.
        """
        for namespace in self.sio.namespaces:
            self.sio._send_packet(self.sio.packet_class(socketio.packet.DISCONNECT, namespace=namespace))
        queue = self.sio.eio.queue
        deadline = time.monotonic() + timeout
        while queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """Whether the Socket.IO connection is up."""
        return self.sio.connected

    # -- what we know ---------------------------------------------------------

    @property
    def users(self) -> list[dict[str, Any]]:
        """The user list of this connection's ``initial-response``."""
        return self.first("initial-response")["data"]

    @property
    def me(self) -> dict[str, Any]:
        """This connection's own user (the last of its initial list)."""
        return self.users[-1]

    @property
    def id(self) -> int:
        """This connection's user ID."""
        return self.me["ID"]

    def first(self, event: str) -> Any:
        """The payload of the first ``event`` received."""
        return self.wait_for(event)

    def received(self, event: str) -> list[Any]:
        """Payloads of every ``event`` received so far."""
        with self._cond:
            return [data for name, data in self.events if name == event]

    def messages(self) -> list[dict[str, Any]]:
        """``data`` of every ``message`` event received so far."""
        return [p["data"] for p in self.received("message")]

    # -- sending --------------------------------------------------------------

    def emit(self, event: str, *args: Any) -> None:
        """Emit without an ack callback."""
        self.sio.emit(event, args if len(args) != 1 else args[0])

    def call(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Emit with an ack callback and return the ack's payload."""
        return self.sio.call(event, args if len(args) != 1 else args[0], timeout=timeout or self.timeout)

    def send(self, to: int | str, type: str, value: Any = None) -> Any:
        """Direct ``message`` with an ack."""
        return self.call("message", {"type": type, "value": value}, to)

    def broadcast(self, type: str, value: Any = None) -> Any:
        """``broadcast-message`` with an ack."""
        return self.call("broadcast-message", {"type": type, "value": value})

    # -- waiting --------------------------------------------------------------

    def wait_for(self, event: str, match: Callable[[Any], bool] | None = None, timeout: float | None = None,
                 count: int = 1) -> Any:
        """Wait until ``count`` payloads of ``event`` (matching ``match``) arrived; return the last."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while True:
                found = [d for name, d in self.events if name == event and (match is None or match(d))]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {event!r} within the timeout; got {[n for n, _ in self.events]}")
                self._cond.wait(left)

    def wait_message(self, match: Callable[[dict[str, Any]], bool] | None = None, timeout: float | None = None,
                     count: int = 1) -> dict[str, Any]:
        """Wait for a ``message`` whose ``data`` matches; return the ``data``."""
        payload = self.wait_for("message", (lambda p: match(p["data"])) if match else None, timeout, count)
        return payload["data"]

    def quiet(self, event: str, seconds: float = 0.3, match: Callable[[Any], bool] | None = None) -> bool:
        """True if no (matching) ``event`` arrives within ``seconds``."""
        before = len([d for n, d in self.events if n == event and (match is None or match(d))])
        time.sleep(seconds)
        after = len([d for n, d in self.events if n == event and (match is None or match(d))])
        return after == before

    # -- internals ------------------------------------------------------------

    def _record(self, event: str, *args: Any) -> None:
        payload = args[0] if len(args) == 1 else list(args)
        with self._cond:
            if event == "initial-response":
                self.known_users.update((u.id, u) for u in read_users(data_of(payload)))
            elif event == "user-connected" and (user := read_user(data_of(payload))) is not None:
                self.known_users[user.id] = user
            self.events.append((event, payload))
            self._cond.notify_all()

    def _on_connect_error(self, data: Any = None) -> None:
        data = data if isinstance(data, dict) else {"message": str(data)}
        self.refusal = JoinRefused(data.get("message", ""), data.get("data"))

    def _on_disconnect(self, reason: Any = None) -> None:
        with self._cond:
            self.disconnect_reason = str(reason)
            self.events.append(("disconnect", str(reason)))
            self._cond.notify_all()
