"""Fixtures of the integration tests; the helpers they use are in chatkit.py.

One server serves a whole test module (``chat_server``); each test gets fresh
room names (``room``) and a ``join`` factory whose clients are closed, and whose
connections the server has released, when the test ends.

Every test has a data folder of its own (``data_dir``, autouse): ``$ROOMCHAT_DATA_DIR``
is ``tmp_path/data``, so a server on a config that sets no ``storage.url`` (the
shipped config/roomchat.yaml among them) keeps its database there, never in
config/data/ where other tests and xdist workers would share it; a server the
test restarts on the same config finds its data again. A test that checks the
real default unsets the variable (``monkeypatch.delenv``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatkit import SAM_TOKEN_ENV, TRANSPORTS, Joiner, base_config, start_server

from roomchat.storage.config import DATA_DIR_ENV
from roomchat.testing import RoomchatProcess


@pytest.fixture(scope="session", autouse=True)
def _no_data_dir_outside_tests() -> Iterator[None]:
    """Servers of module-scoped fixtures keep their data beside their config, even if the shell sets the variable."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(DATA_DIR_ENV, raising=False)
        yield


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's data folder, ``tmp_path/data``: ``$ROOMCHAT_DATA_DIR`` for every server and command it starts."""
    folder = tmp_path / "data"
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    return folder


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
