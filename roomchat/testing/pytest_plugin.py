"""pytest fixtures for testing roomchat plugins against a real server.

Installing roomchat registers this module with pytest (the ``pytest11``
entry point), so these fixtures are available in any project's tests with
no conftest.py. Each test gets a real roomchat server on a free loopback port
(in a thread of the test process, so plugins can be handed over as objects),
one room in it, and real Socket.IO clients::

    import pytest
    from my_plugin import plugin

    @pytest.fixture
    def roomchat_plugins():
        return {"my-plugin": plugin}

    def test_answer(roomchat_room):
        ann, bob = roomchat_room.join("Ann"), roomchat_room.join("Bob")
        assert ann.broadcast("potato", {"kind": "baked"}).ok
        assert bob.receive(type="potato").value == {"kind": "baked"}

Fixtures (all function-scoped, all prefixed ``roomchat_``):

- ``roomchat_plugins``: ``{name: plugin object}`` to register; override it.
- ``roomchat_settings``: ``{plugin name: settings}`` for the room; override it.
- ``roomchat_config``: extra config, merged into the test server's; override it.
- ``roomchat_room``: a started ``RoomHarness`` built from the three above.
- ``roomchat_start``: a factory, ``roomchat_start(plugins=..., settings=...)``,
  for tests that need several servers or build their plugins inline.

docs/plugins.md ("Testing a plugin") has the whole story.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ..client.ack import Ack
from ..client.message import Incoming
from ..client.wire import read_message

if TYPE_CHECKING:
    from .client import ChatClient
    from .servers import RoomchatThread

ROOM = "test"

Received = Incoming
"""One ``message`` event a user got: the client SDK's ``Incoming`` (``sender``, ``from_id``, ``from_room``, ...)."""


class RoomUser:
    """One user in the harness's room, connected by a real Socket.IO client."""

    def __init__(self, room: RoomHarness, client: ChatClient) -> None:
        self.room = room
        self.client = client

    @property
    def id(self) -> int:
        """The user's ID."""
        return self.client.id

    @property
    def name(self) -> str:
        """The user's display name."""
        return self.client.me["name"]

    @property
    def role(self) -> str:
        """``ADMIN``, ``TEACHER`` or ``STUDENT``."""
        return self.client.me["role"]

    def send(self, to: RoomUser | int, type: str, value: Any = None) -> Ack:
        """Send a direct ``message`` to one user and return the server's ack."""
        target = to.id if isinstance(to, RoomUser) else to
        return Ack.of(self.client.send(target, type, value))

    def broadcast(self, type: str, value: Any = None) -> Ack:
        """Send a ``broadcast-message`` to everyone else and return the server's ack."""
        return Ack.of(self.client.broadcast(type, value))

    def messages(self, type: str | None = None, sender: RoomUser | int | None = None) -> list[Received]:
        """The messages received so far, optionally only of one type or from one sender (0: the room)."""
        return [m for m in map(self._read, self.client.messages()) if _matches(m, type, sender)]

    def receive(self, type: str | None = None, sender: RoomUser | int | None = None, count: int = 1,
                timeout: float | None = None) -> Received:
        """Wait until ``count`` matching messages arrived; return the ``count``-th."""
        data = self.client.wait_message(lambda d: _matches(self._read(d), type, sender), timeout, count)
        return self._read(data)

    def _read(self, data: dict[str, Any]) -> Received:
        msg = read_message(data, self.client.known_users)
        assert msg is not None, f"not a message: {data!r}"
        return msg

    def sync(self) -> None:
        """Wait until everything the server sent this user so far has arrived.

        Sends a malformed emit that the server refuses without side effects;
        its ack travels behind every earlier event on this connection. Use it
        before asserting that something was *not* received.
        """
        self.client.call("message", None)

    def leave(self) -> None:
        """Disconnect this user."""
        self.client.close()

    def __repr__(self) -> str:
        return f"<RoomUser {self.client.auth.get('name', '?')} in {self.room.name!r}>"


def _matches(message: Received, type: str | None, sender: RoomUser | int | None) -> bool:
    if type is not None and message.type != type:
        return False
    return sender is None or message.from_id == (sender.id if isinstance(sender, RoomUser) else sender)


class RoomHarness:
    """A running roomchat server with one room (``name``) and the users a test joined to it."""

    def __init__(self, server: RoomchatThread, name: str) -> None:
        self.server = server
        self.name = name
        self.users: list[RoomUser] = []
        taken = {u.id for u in server.config.users}
        self._ids = (i for i in itertools.count(1) if i not in taken)

    @property
    def url(self) -> str:
        """The server's base URL (``http://127.0.0.1:<port>``)."""
        return self.server.url

    @property
    def chat(self) -> Any:
        """The server itself, ``roomchat.app.ChatServer`` (the composition root): its ``plugins``, ``config``, ``state``."""
        return self.server.chat

    def join(self, name: str | None = None, role: str = "STUDENT", *, guest: bool | None = None) -> RoomUser:
        """Connect a new user and wait for its ``initial-response``.

        A plain call joins a guest (a STUDENT). ``role="TEACHER"`` (or
        ``ADMIN``, or ``guest=False``) joins a known user with that role,
        through a token the harness makes up.
        """
        from roomchat.testing import ChatClient
        from roomchat.users import Role, User

        if guest is None:
            guest = role == "STUDENT"
        if guest:
            if role != "STUDENT":
                raise ValueError("guests are always STUDENTs; use guest=False for another role")
            client = ChatClient(self.url, room=self.name, name=name)
        else:
            user = User(next(self._ids), Role(role), name or f"{role.title()} {len(self.users) + 1}")
            token = "test-" + secrets.token_hex(16)
            self.chat.auth.add_token(token, user)
            client = ChatClient(self.url, room=self.name, token=token)
        joined = RoomUser(self, client)
        self.users.append(joined)
        return joined

    def advance(self, seconds: float) -> None:
        """Move the server's FakeClock (``roomchat_start(clock=FakeClock())``) and run the timers that fall due."""
        if self.server.clock is None:
            raise RuntimeError("this server runs on the real clock: start it with roomchat_start(clock=FakeClock())")
        self.server.advance(seconds)

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        """Wait until ``condition()`` is true: for what the server does on its own, after a reply.

        Join and leave hooks, for instance, run after the joiner got its
        ``initial-response``. Raises AssertionError naming ``what`` if it
        never happens.
        """
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"never happened within {timeout}s: {what}")
            time.sleep(0.01)

    def close(self) -> None:
        """Disconnect every user and stop the server."""
        for user in self.users:
            user.leave()
        self.server.stop()


def harness_config(settings: dict[str, Any] | None = None, config: dict[str, Any] | None = None,
                   room: str = ROOM) -> dict[str, Any]:
    """The test server's config: one room open to guests and known users, no rate limit, short timeout.

    ``config`` is merged over it key by key (dicts deeply, anything else replaced).
    """
    base: dict[str, Any] = {
        "server": {"handler_timeout": 2.0},
        "rooms": {room: {"admit": ["users", "guests"], "rate_limit": None,
                         "plugins": {"settings": copy.deepcopy(settings or {})}}},
    }
    return _merge(base, config or {})


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@pytest.fixture
def roomchat_plugins() -> dict[str, object]:
    """Plugins to register in ``roomchat_room``, by name. Override this fixture to choose them."""
    return {}


@pytest.fixture
def roomchat_settings() -> dict[str, dict[str, Any]]:
    """Settings of ``roomchat_room``'s room, by plugin name. Override this fixture to set them."""
    return {}


@pytest.fixture
def roomchat_config() -> dict[str, Any]:
    """Extra config merged into ``roomchat_room``'s server config. Override this fixture to set it."""
    return {}


@pytest.fixture
def roomchat_start() -> Iterator[Callable[..., RoomHarness]]:
    """A factory: ``roomchat_start(plugins=None, settings=None, config=None, room="test", clock=None)``.

    It starts a server and returns its RoomHarness. ``clock``: a
    ``roomchat.clock.FakeClock`` for the server (mutes, plugin and bot timers),
    moved with ``harness.advance(seconds)``. Every server it started is
    stopped at the end of the test.
    """
    started: list[RoomHarness] = []

    def start(plugins: dict[str, object] | None = None, settings: dict[str, dict[str, Any]] | None = None,
              config: dict[str, Any] | None = None, room: str = ROOM, clock: Any = None) -> RoomHarness:
        from roomchat.testing import RoomchatThread

        server = RoomchatThread(harness_config(settings, config, room), plugins=plugins or {}, clock=clock)
        server.start()
        harness = RoomHarness(server, room)
        started.append(harness)
        return harness

    yield start
    for harness in reversed(started):
        harness.close()


@pytest.fixture
def roomchat_room(roomchat_start: Callable[..., RoomHarness], roomchat_plugins: dict[str, object],
                  roomchat_settings: dict[str, dict[str, Any]], roomchat_config: dict[str, Any]) -> RoomHarness:
    """A running server with the chosen plugins, settings and config, and its room ``test``."""
    return roomchat_start(plugins=roomchat_plugins, settings=roomchat_settings, config=roomchat_config)
