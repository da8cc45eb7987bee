"""Fixtures of the integration tests; the helpers they use are in chatkit.py.

One server serves a whole test module (``chat_server``); each test gets fresh
room names (``room``) and a ``join`` factory whose clients are closed, and whose
connections the server has released, when the test ends.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatkit import SAM_TOKEN_ENV, TRANSPORTS, Joiner, base_config, start_server

from roomchat.testing import RoomchatProcess


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    """One ``roomchat serve`` process (base_config) for the whole test module."""
    server = start_server(base_config(), tmp_path_factory.mktemp("server"))
    yield server
    server.stop()


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Each test that uses this runs over WebSocket, long-polling, and polling upgraded to WebSocket."""
    return request.param


_room_numbers = itertools.count(1)


@pytest.fixture
def room(request: pytest.FixtureRequest) -> str:
    """A room name no other test uses (created on first join, open to every way in)."""
    return f"t{next(_room_numbers)}-{request.node.name[:40]}"


@pytest.fixture
def join(chat_server: RoomchatProcess, request: pytest.FixtureRequest) -> Iterator[Joiner]:
    """``join(room, name=..., token=..., auth=..., query=...)`` -> a ChatClient that got initial-response.

    Uses the test's ``transport`` when it asks for one, else WebSocket.
    """
    transport = request.getfixturevalue("transport") if "transport" in request.fixturenames else "websocket"
    joiner = Joiner(chat_server, transport)
    yield joiner
    joiner.close_all()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root directory."""
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment for CLI runs, without the secrets other tests may have set."""
    return {k: v for k, v in os.environ.items() if k not in ("ROOMCHAT_JWT_SECRET", SAM_TOKEN_ENV)}
