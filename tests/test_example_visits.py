"""examples/visits, a third-party plugin on the public API only, through real servers.

It refuses joins (``roomchat_check_join``) and keeps state in its namespaced
store (``chat.store``), as the built-in moderation does: loaded from its file
by ``plugins.load`` in a ``roomchat serve`` process, and handed over as a
class to a server on a FakeClock.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from roomchat.clock import FakeClock
from roomchat.testing import ChatClient, JoinRefused, RoomchatProcess, RoomchatThread

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "visits" / "visits.py"
ROOMS = {
    "exam": {"admit": ["guests", "users"], "plugins": {"settings": {"visits": {"max_visits": 2, "per_seconds": 60}}}},
    "open": {"admit": ["guests"], "plugins": {"disabled": ["visits"]}},
}
TESS = {"ID": 5, "name": "Tess", "role": "TEACHER", "token": "tess-token-1234"}
KIM = {"ID": 7, "name": "Kim", "role": "STUDENT", "token": "kim-token-1234"}


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("visits_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_imports_nothing_but_the_public_api() -> None:
    tree = ast.parse(EXAMPLE.read_text(encoding="utf-8"))
    ours = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
            and node.module.startswith("roomchat")}
    assert ours == {"roomchat"}


def visit(url: str, room: str, **auth: str) -> ChatClient:
    """Join, wait for the greeting (the plugin counted the visit), leave."""
    with ChatClient(url, room=room, **auth) as client:
        greeting = client.wait_message(lambda d: d["from"] == 0 and d["message"]["type"] == "text")
        return greeting["message"]["value"]


def test_loaded_from_its_file_it_counts_greets_and_refuses(tmp_path: Path) -> None:
    config = {"plugins": {"load": [f"{EXAMPLE}:Visits"]}, "users": [KIM], "rooms": ROOMS}
    with RoomchatProcess(config) as server:
        assert visit(server.url, "exam", token=KIM["token"]) == "Welcome, Kim: visit 1 this 60 seconds"
        assert visit(server.url, "exam", token=KIM["token"]) == "Welcome, Kim: visit 2 this 60 seconds"
        with pytest.raises(JoinRefused) as refused:
            ChatClient(server.url, room="exam", token=KIM["token"])
        assert refused.value.code == "forbidden" and "come back in" in refused.value.message
        assert visit(server.url, "exam", name="Ann") == "Welcome, Ann: visit 1 this 60 seconds"  # another user


def test_a_user_who_used_up_the_visits_is_refused_until_the_window_passes() -> None:
    clock = FakeClock()
    config = {"users": [TESS, KIM], "rooms": ROOMS}
    with RoomchatThread(config, plugins={"visits": load_example().Visits}, clock=clock) as server:
        assert visit(server.url, "exam", token=KIM["token"]).endswith("visit 1 this 60 seconds")
        server.advance(10)
        assert visit(server.url, "exam", token=KIM["token"]).endswith("visit 2 this 60 seconds")
        with pytest.raises(JoinRefused) as refused:
            ChatClient(server.url, room="exam", token=KIM["token"])
        assert refused.value.code == "forbidden" and refused.value.data["retry_after"] == 50
        assert "come back in 50 seconds" in refused.value.message
        # its state is in its own namespace of the server's store
        store = server.chat.plugins.view("visits").store
        assert len(server.call(store.hash_get_all("exam:7"))) == 2
        assert len(server.call(server.chat.state.kv.hash_get_all("visits:exam:7"))) == 2
        # staff are never counted; a room that does not run the plugin refuses nobody
        for _ in range(3):
            with ChatClient(server.url, room="exam", token=TESS["token"]) as tess:
                tess.call("message", None)
        with ChatClient(server.url, room="open", name="Kim's friend") as friend:
            assert friend.connected
        server.advance(51)  # the first visit leaves the window
        assert visit(server.url, "exam", token=KIM["token"]).endswith("visit 2 this 60 seconds")
