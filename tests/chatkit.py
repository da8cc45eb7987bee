"""Helpers of the integration tests (imported by name: ``from chatkit import sync``).

Every protocol test talks to ``roomchat serve`` in its own process (RoomchatProcess)
through real python-socketio clients (ChatClient). The test config (``base_config``)
has four known users, a few special rooms, and creates any other room on first join.

Negative assertions ("B got nothing") never sleep: ``sync(*clients)`` sends
each client a round trip behind everything the server already emitted to it,
so once it returns, anything the server had sent has arrived.

(These are not in conftest.py: another conftest module of the suite would shadow
``from conftest import ...``.)
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from roomchat.core.identity import issue_token
from roomchat.testing import ChatClient, JoinRefused, RoomchatProcess
from roomchat.users import Role

TRANSPORTS = ["websocket", "polling", "upgrade"]
JWT_SECRET = "roomchat-test-secret-" + "0123456789abcdef" * 3  # 64+ bytes: HS512 tests too
SAM_TOKEN_ENV = "RC_TEST_TOKEN_SAM"
SAM_TOKEN = "sam-token-from-env-4f1c"
SERVER_ENV = {"ROOMCHAT_JWT_SECRET": JWT_SECRET, SAM_TOKEN_ENV: SAM_TOKEN}

# Known users of the test config: ID -> (name, role, token as clients send it).
TESS, SAM, ADA, STU = 1, 2, 3, 4
USERS: dict[int, tuple[str, str, str]] = {
    TESS: ("Tess Teacher", "TEACHER", "tok-teacher-tess"),
    SAM: ("Sam Student", "STUDENT", SAM_TOKEN),
    ADA: ("Ada Admin", "ADMIN", "tok-admin-ada"),
    STU: ("Stu Student", "STUDENT", "tok-student-stu"),
}
GUEST_ID_START = 1_000_000

# A type registered by a plugin file the config loads, so `message_types: known`
# rooms have something known to admit whatever built-ins exist.
PROBE_TYPE = "x-probe"
PROBE_PLUGIN = f'''
"""Registers {PROBE_TYPE!r} (any value) for the tests of `message_types: known` rooms."""
from roomchat import MessageType, hookimpl


@hookimpl
def roomchat_register_message_types(register):
    register(MessageType("{PROBE_TYPE}", description="test probe"))
'''

ROOMS: dict[str, dict[str, Any]] = {
    # Every way in, no rate limit: most protocol tests use fresh rooms like this (new_room).
    "tokens": {"admit": ["users", "jwt"], "rate_limit": None},
    "users-only": {"admit": ["users"], "rate_limit": None},
    "jwt-only": {"admit": ["jwt"], "rate_limit": None},
    "staff": {"admit": ["users", "jwt", "guests"], "roles": ["ADMIN", "TEACHER"], "rate_limit": None},
    "pair": {"admit": ["users", "guests"], "max_users": 2, "rate_limit": None},
    "known": {"admit": ["users", "guests"], "message_types": "known", "rate_limit": None},
    "limited": {"admit": ["users", "guests"], "rate_limit": {"messages": 3, "per_seconds": 3600}},
    "tiny": {"admit": ["users", "guests"], "max_message_bytes": 200, "rate_limit": None},
}


def base_config(**server: Any) -> dict[str, Any]:
    """The test servers' config: the users above, the rooms above, new rooms open to everyone."""
    return {
        "server": {
            "create_rooms": True,
            # python-engineio's polling client can drop its last packets on disconnect (its
            # write loop sees the state change before it sends DISCONNECT and CLOSE), then
            # waits on a GET until the next ping, and the server notices only when pings go
            # unanswered: keep both short, so the tests do not wait 25 + 20 s for it.
            "ping_interval": 2,
            "ping_timeout": 5,
            "new_room": {"admit": ["users", "jwt", "guests"], "rate_limit": None},
            **server,
        },
        "auth": {"jwt_secret_env": "ROOMCHAT_JWT_SECRET", "guest_id_start": GUEST_ID_START},
        "users": [
            {"ID": uid, "name": name, "role": role, "token": {"env": SAM_TOKEN_ENV} if uid == SAM else token}
            for uid, (name, role, token) in USERS.items()
        ],
        "rooms": ROOMS,
        "plugins": {"load": ["probe_plugin.py"]},
    }


def start_server(config: dict[str, Any], tmp: Path, env: dict[str, str] | None = None,
                 args: list[str] | None = None) -> RoomchatProcess:
    """Write ``config`` (and the probe plugin beside it) to ``tmp`` and start ``roomchat serve``."""
    import yaml

    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "probe_plugin.py").write_text(PROBE_PLUGIN, encoding="utf-8")
    path = tmp / "roomchat.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return RoomchatProcess(path, env={**SERVER_ENV, **(env or {})}, args=args).start()


class Joiner:
    """Opens ChatClients against one server and remembers them, so the test's end closes them all."""

    def __init__(self, server: RoomchatProcess, transport: str) -> None:
        self.server = server
        self.transport = transport
        self.clients: list[ChatClient] = []

    def __call__(self, room: str | None = None, *, name: str | None = None, token: str | None = None,
                 auth: dict[str, Any] | None = None, query: str | None = None,
                 transport: str | None = None) -> ChatClient:
        """Join and wait for ``initial-response``; raises JoinRefused on ``connect_error``."""
        client = ChatClient(self.server.url, room=room, token=token, name=name, auth=auth, query=query,
                            transport=transport or self.transport, connect=False)
        self.clients.append(client)
        return client.connect()

    def refused(self, room: str | None = None, **kwargs: Any) -> JoinRefused:
        """Join, expecting ``connect_error``; returns the refusal (code, message, data)."""
        with pytest.raises(JoinRefused) as info:
            self(room, **kwargs)
        return info.value

    def close_all(self) -> None:
        """Close every client and wait until the server has let go of all of them."""
        for client in self.clients:
            client.close()
        wait_connections(self.server.url, 0)


def sync(*clients: ChatClient) -> None:
    """Round-trip each client in turn; afterwards it has every event the server had sent it.

    A malformed ``message`` is refused without side effects, and its ack travels
    behind everything emitted to that connection before. The actor goes first:
    its round trip also waits until its own join has been announced.
    """
    for client in clients:
        ack = client.call("message", None)
        assert ack["data"]["code"] == "invalid_message"


def names(events: list[tuple[str, Any]]) -> list[str]:
    """Event names in the order received."""
    return [name for name, _ in events]


def health(url: str) -> dict[str, Any]:
    """``GET /healthz`` as JSON."""
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as reply:
        return json.loads(reply.read())


def wait_connections(url: str, count: int, timeout: float = 20.0) -> None:
    """Wait until the server holds exactly ``count`` joined connections."""
    deadline = time.monotonic() + timeout
    while True:
        now = health(url)["connections"]
        if now == count:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the server holds {now} connections, expected {count}")
        time.sleep(0.02)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` is true (not a timing assertion: only a bound on waiting)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def make_jwt(user_id: int, name: str = "Jay Jot", role: str = "STUDENT", ttl: float = 3600,
             rooms: list[str] | None = None, secret: str = JWT_SECRET) -> str:
    """A JWT signed like ``roomchat token`` signs it."""
    return issue_token(secret, user_id, name, Role(role), ttl, rooms)


def token_of(user_id: int) -> str:
    """The token a known test user joins with."""
    return USERS[user_id][2]


def wire_user(user_id: int) -> dict[str, Any]:
    """A known test user as the wire shows it."""
    name, role, _ = USERS[user_id]
    return {"ID": user_id, "role": role, "name": name}


def is_sentence(text: Any) -> bool:
    """A message a person can read: a non-empty string with a space, not a bare code."""
    return isinstance(text, str) and len(text) > 10 and " " in text.strip()
