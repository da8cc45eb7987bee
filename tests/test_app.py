"""The composition root (roomchat/app.py): what it builds, and that its ASGI lifespan starts and stops the server.

Importing roomchat changes nothing in python-engineio; building a server
applies roomchat's adjustments. The ASGI app's lifespan is the server's
start-up and shutdown (any ASGI server can run it; uvicorn is only the
runner), and ``drain`` disconnects clients before connections close.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

from roomchat import Chat, hookimpl
from roomchat.app import ChatServer
from roomchat.config import Config, parse_config
from roomchat.core.delivery import Delivery, Transport
from roomchat.transport.socketio import SocketServer


def test_importing_roomchat_patches_nothing_and_building_a_server_applies_the_engine_settings() -> None:
    script = (
        "import roomchat, roomchat.app, roomchat.serve, roomchat.transport.engine as engine\n"
        "from engineio import async_socket, payload\n"
        "print(async_socket.AsyncSocket.poll is engine._bounded_poll, payload.Payload.max_decode_packets)\n"
        "from roomchat.app import ChatServer\nfrom roomchat.config import Config\nChatServer(Config())\n"
        "print(async_socket.AsyncSocket.poll is engine._bounded_poll, payload.Payload.max_decode_packets)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split("\n")[:2] == ["False 16", "True 1000"]


def test_the_socket_server_is_the_cores_transport() -> None:
    chat = ChatServer(Config())
    transport: Transport = chat.sio  # the Protocol the core emits through
    assert isinstance(transport, SocketServer) and isinstance(chat.delivery, Delivery)
    assert chat.node is None  # no cluster: section, no cluster loops


def test_a_cluster_server_gets_its_loops_from_the_composition_root() -> None:
    from roomchat.cluster.node import ClusterNode
    from roomchat.cluster.state import RedisBackend

    chat = ChatServer(parse_config({"cluster": {"redis_url": "redis://127.0.0.1:1/0"}}))
    assert isinstance(chat.state, RedisBackend) and isinstance(chat.node, ClusterNode)
    assert chat.node.rooms is chat.joins and chat.node.transport is chat.sio


class Lifecycle:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def roomchat_startup(self, chat: Chat) -> None:
        self.calls.append("startup")

    @hookimpl
    def roomchat_shutdown(self, chat: Chat) -> None:
        self.calls.append("shutdown")


async def run_lifespan(app: Any) -> list[str]:
    """Drive an ASGI app's lifespan as a server does: startup, then shutdown; the messages it answers."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    answers: list[str] = []

    async def receive() -> dict[str, str]:
        return await inbox.get()

    async def send(message: dict[str, str]) -> None:
        answers.append(message["type"])

    await inbox.put({"type": "lifespan.startup"})
    await inbox.put({"type": "lifespan.shutdown"})
    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    return answers


def stored(tmp_path: Any) -> Config:
    """A config whose storage is an SQLite file in the test's folder (never the working directory's)."""
    return parse_config({"storage": {"url": f"sqlite:///{tmp_path / 'roomchat.sqlite3'}"}})


def test_the_asgi_lifespan_starts_and_stops_the_server(tmp_path: Any) -> None:
    plugin = Lifecycle()
    chat = ChatServer(stored(tmp_path), extra_plugins={"life": plugin})
    answers = asyncio.run(run_lifespan(chat.asgi_app()))
    assert answers == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert plugin.calls == ["startup", "shutdown"]


def test_a_failed_start_up_fails_the_lifespan_and_is_logged(caplog: Any, tmp_path: Any) -> None:
    chat = ChatServer(stored(tmp_path))

    async def broken() -> None:
        raise OSError("the state backend is unreachable")

    chat.state.start = broken  # type: ignore[method-assign]
    answers = asyncio.run(run_lifespan(chat.asgi_app()))
    assert answers == ["lifespan.startup.failed"]
    assert any(r.getMessage() == "start-up failed" and "unreachable" in str(r.exc_info[1]) for r in caplog.records
               if r.exc_info)
