"""The private pieces of python-engineio, python-socketio, uvicorn and websockets the transport relies on.

roomchat/transport/pins.py lists them. An upgrade of one of these libraries
that changes a function roomchat copies or overrides fails here, naming the
roomchat code to review, and the pinned versions are the installed ones.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from importlib import metadata
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from roomchat.transport import pins


def resolve(target: str) -> Any:
    """The upstream object ``module:Qualified.name`` (as the library has it, before roomchat's adjustments)."""
    from roomchat.transport import engine

    if target in engine.REPLACED:
        return engine.REPLACED[target]
    module, _, qualified = target.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualified.split("."):
        found = getattr(found, part)
    return found


@pytest.mark.parametrize("distribution", sorted(pins.VERSIONS))
def test_the_installed_versions_are_the_pinned_ones(distribution: str) -> None:
    installed = metadata.version(distribution)
    assert installed.startswith(pins.VERSIONS[distribution]), (
        f"{distribution} {installed} is installed, roomchat's transport is built against "
        f"{pins.VERSIONS[distribution]}*: review roomchat/transport/pins.py before moving the pin")


@pytest.mark.parametrize("upstream", pins.UPSTREAM, ids=lambda u: u.target)
def test_the_upstream_code_roomchat_relies_on_is_unchanged(upstream: pins.Upstream) -> None:
    source = inspect.getsource(resolve(upstream.target))
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == upstream.sha256, (
        f"{upstream.target} changed upstream: review {upstream.ours} against the new source, "
        f"then record its hash ({digest}) in roomchat/transport/pins.py")


def test_the_attributes_roomchat_uses_exist_on_real_instances() -> None:
    from engineio import async_socket

    from roomchat.transport import engine
    from roomchat.transport.websocket import RoomchatWebSocketProtocol

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    config = uvicorn.Config(app, ws=RoomchatWebSocketProtocol)
    config.load()
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        proto = RoomchatWebSocketProtocol(config, ServerState(), {}, _loop=loop)
        proto.transport = object()  # type: ignore[assignment]  # set by connection_made in a server
        server = engine.EngineServer(async_mode="asgi")
        socket = async_socket.AsyncSocket(server, "sid")
    finally:
        loop.close()
    instances = {
        "uvicorn.protocols.websockets.websockets_sansio_impl:WebSocketsSansIOProtocol": proto,
        "websockets.server:ServerProtocol": proto.conn,
        "engineio.async_socket:AsyncSocket": socket,
    }
    for target, names in pins.ATTRIBUTES.items():
        missing = [name for name in names if not hasattr(instances[target], name)]
        assert not missing, f"{target} has no {missing}: review roomchat/transport/ (pins.py says where)"
