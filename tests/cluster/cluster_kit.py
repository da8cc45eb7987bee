"""Helpers for the cluster tests: a real redis-server per test module, several roomchat processes on it.

Each module starts its own ``redis-server --port <free> --save '' --appendonly no``
when the binary exists (else it uses the Redis at 127.0.0.1:6379, or skips);
each test gets its own key prefix, so tests never see each other's state.

Negative and "exactly once" assertions never sleep; they use a barrier that
travels the same ordered path as what they count:

- presence: the stream of presence events is one total order that every
  server applies in turn, so once a later join (``marker``) has been
  announced to a client, every earlier change has been too;
- messages: python-socketio's Redis channel delivers one server's emits in
  order, so once a later message from the same sender arrived, an earlier one
  would have too.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from roomchat.testing import ChatClient, RoomchatProcess, free_port, write_config

try:
    import redis
except ImportError:  # the test extras install it; without it the fixture skips
    redis = None

HEARTBEAT = 0.5
DEAD_AFTER = 2.0
# How long the others may take to notice a killed server: its heartbeat expires
# (DEAD_AFTER), the next reaper beat runs (HEARTBEAT), the feed delivers;
# plus slack for a busy 2-core machine. A bound on waiting, not a timing claim.
DEATH_BOUND = DEAD_AFTER + 2 * HEARTBEAT + 4.0

TEACHER, ANN, BOB, CAT, ADMIN = 1, 2, 3, 4, 5
USERS: dict[int, tuple[str, str]] = {
    TEACHER: ("Tess Teacher", "TEACHER"),
    ANN: ("Ann", "STUDENT"),
    BOB: ("Bob", "STUDENT"),
    CAT: ("Cat", "STUDENT"),
    ADMIN: ("Ada Admin", "ADMIN"),
}


def token(user_id: int) -> str:
    """The config token of a test user."""
    return f"cluster-test-token-{user_id}"


class RedisServer:
    """A throwaway redis-server on a free loopback port (no persistence), or an existing one."""

    def __init__(self, port: int | None = None) -> None:
        self.external = port is not None
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start it (again, on the same port) and wait until it answers PING."""
        if not self.external:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL); the data goes with it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self) -> Any:
        """A synchronous redis-py client, for looking at what the cluster stored."""
        return redis.Redis.from_url(self.url)


def _local_redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.3):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server for this test module."""
    if redis is None:
        pytest.skip("the redis package is not installed (pip install -e '.[test]')")
    if shutil.which("redis-server"):
        server = RedisServer().start()
    elif _local_redis_answers():
        server = RedisServer(6379).start()
    else:
        pytest.skip("no redis-server binary and no Redis at 127.0.0.1:6379")
    yield server
    server.stop()


def cluster_config(redis_url: str, prefix: str, **extra: Any) -> dict[str, Any]:
    """A roomchat config for a cluster test: the users above, rooms created on join, the cluster section."""
    config: dict[str, Any] = {
        "server": {"create_rooms": True, "new_room": {"admit": ["users", "guests"], "rate_limit": None},
                   "log_level": "info"},
        "users": [{"ID": uid, "name": name, "role": role, "token": token(uid)} for uid, (name, role) in USERS.items()],
        "rooms": {"limited": {"admit": ["users"], "rate_limit": {"messages": 3, "per_seconds": 3600}}},
        "cluster": {"redis_url": redis_url, "key_prefix": prefix, "heartbeat_seconds": HEARTBEAT,
                    "dead_after_seconds": DEAD_AFTER},
    }
    for key, value in extra.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    return config


class Cluster:
    """Several roomchat processes on one Redis, one config, one key prefix; and their clients."""

    _rooms = itertools.count(1)

    def __init__(self, redis_server: RedisServer, tmp: Path, **extra: Any) -> None:
        self.redis = redis_server
        self.prefix = f"rctest-{uuid.uuid4().hex[:8]}"
        self.config_path = write_config(cluster_config(redis_server.url, self.prefix, **extra), tmp)
        self.servers: list[RoomchatProcess] = []
        self.clients: list[ChatClient] = []

    def start(self, count: int) -> list[RoomchatProcess]:
        """Start ``count`` more servers, side by side, and return them."""
        new = [RoomchatProcess(self.config_path) for _ in range(count)]
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda s: s.start(), new))
        self.servers += new
        return new

    def join(self, server: RoomchatProcess, room: str, user: int | None = None, name: str | None = None,
             **kwargs: Any) -> ChatClient:
        """Connect a client to ``room`` on ``server``: a configured user by ID, or a guest by name."""
        client = ChatClient(server.url, room=room, token=token(user) if user else None,
                            name=name if user is None else None, **kwargs)
        self.clients.append(client)
        return client

    def room(self) -> str:
        """A room name no other test uses."""
        return f"room-{next(self._rooms)}"

    def logs(self) -> str:
        """Every server's log, for failure messages."""
        return "\n".join(f"--- {s.url}\n{s.log()[-4000:]}" for s in self.servers)

    def close(self) -> None:
        """Close every client and stop every server still running."""
        for client in self.clients:
            with contextlib.suppress(Exception):  # a client the test already closed, or whose server died
                client.close()
        for server in self.servers:
            server.stop()


@pytest.fixture
def cluster(redis_server: RedisServer, tmp_path: Path) -> Iterator[Cluster]:
    """An empty cluster on this module's Redis: ``cluster.start(n)`` adds servers."""
    group = Cluster(redis_server, tmp_path)
    yield group
    group.close()


@pytest.fixture(scope="module")
def shared_cluster(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three servers shared by a whole test module (each test uses its own rooms)."""
    group = Cluster(redis_server, tmp_path_factory.mktemp("cluster"))
    group.start(3)
    yield group
    group.close()


def presence_events(client: ChatClient, user_id: int) -> list[str]:
    """The ``user-connected`` / ``user-disconnected`` events a client got about one user, in order."""
    return [name for name, payload in list(client.events)
            if name in ("user-connected", "user-disconnected") and payload["data"]["ID"] == user_id]


def marker(cluster: Cluster, server: RoomchatProcess, room: str, watchers: list[ChatClient]) -> ChatClient:
    """Join a fresh guest and wait until every watcher was told: all earlier presence changes reached them."""
    probe = cluster.join(server, room, name=f"marker-{uuid.uuid4().hex[:6]}")
    for watcher in watchers:
        watcher.wait_for("user-connected", lambda p: p["data"]["ID"] == probe.id, timeout=10)
    return probe
