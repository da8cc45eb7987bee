"""The greeter and echo bots, configured in YAML and running inside a real server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from roomchat_bots.echo import Echo

from roomchat.app import ChatServer
from roomchat.config import parse_config
from roomchat.errors import ConfigError
from roomchat.testing import ChatClient, RoomchatThread, write_config
from roomchat.testing.bots import BotThread

GREETER, PRIVATE, ECHO, OUTSIDER = 61, 62, 63, 64
OUTSIDER_TOKEN = "outsider-bot-token"


def config(**extra: Any) -> dict[str, Any]:
    return {
        "rooms": {"lobby": {"admit": ["users", "guests"], "rate_limit": None},
                  "quiet": {"admit": ["users", "guests"], "rate_limit": None}},
        "bots": [
            {"kind": "greeter", "ID": GREETER, "name": "Greeter", "rooms": ["lobby"]},
            {"kind": "greeter", "ID": PRIVATE, "name": "Usher", "rooms": ["quiet"],
             "settings": {"message": "Hello {name} (#{id}), welcome to {room}", "private": True}},
            {"kind": "echo", "ID": ECHO, "name": "Echo", "rooms": ["lobby", "quiet"], "settings": {"prefix": "> "}},
            {"kind": "echo", "ID": OUTSIDER, "name": "Outsider", "rooms": ["lobby"], "run": "external",
             "token": OUTSIDER_TOKEN},
        ],
        **extra,
    }


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatThread]:
    with RoomchatThread(config()) as srv:
        yield srv


def from_bot(client: ChatClient, bot: int) -> list[Any]:
    return [m["message"]["value"] for m in client.messages() if m["from"] == bot]


def test_greeter_welcomes_people_but_not_bots(server: RoomchatThread) -> None:
    with ChatClient(server.url, room="lobby", name="Ann") as ann:
        assert {GREETER, ECHO} <= {u["ID"] for u in ann.users}
        assert ann.wait_message(lambda d: d["from"] == GREETER)["message"] == \
            {"type": "text", "value": "Welcome to lobby, Ann!"}
        with BotThread(Echo, server.url, OUTSIDER_TOKEN, ["lobby"]):  # an external bot, declared in the config
            ann.wait_for("user-connected", lambda p: p["data"]["ID"] == OUTSIDER)
            with ChatClient(server.url, room="lobby", name="Bob"):
                # The greeter handles joins in order: a greeting for the bot would come before Bob's.
                ann.wait_message(lambda d: d["from"] == GREETER, count=2)
                assert from_bot(ann, GREETER) == ["Welcome to lobby, Ann!", "Welcome to lobby, Bob!"]


def test_private_greeting_from_a_template(server: RoomchatThread) -> None:
    with ChatClient(server.url, room="quiet", name="Ann") as ann:
        assert ann.wait_message(lambda d: d["from"] == PRIVATE)["message"]["value"] == \
            f"Hello Ann (#{ann.id}), welcome to quiet"
        with ChatClient(server.url, room="quiet", name="Bob") as bob:
            greeting = bob.wait_message(lambda d: d["from"] == PRIVATE)
            assert greeting["to"] == bob.id
            ann.call("message", None)  # a round trip behind anything sent to Ann
            assert from_bot(ann, PRIVATE) == [f"Hello Ann (#{ann.id}), welcome to quiet"]


def test_echo_answers_direct_messages_only(server: RoomchatThread) -> None:
    with ChatClient(server.url, room="lobby", name="Cy") as cy:
        cy.broadcast("text", "anyone?")
        cy.send(ECHO, "text", "ping")
        cy.send(ECHO, "location", {"lat": 1.5, "lon": 2})
        cy.wait_message(lambda d: d["from"] == ECHO, count=2)
        assert from_bot(cy, ECHO) == ["> ping", {"lat": 1.5, "lon": 2}]  # nothing for the broadcast, before
        assert [m["message"]["type"] for m in cy.messages() if m["from"] == ECHO] == ["text", "location"]


def test_greeter_settings_are_checked_at_start_up(tmp_path: Any) -> None:
    bad = config()
    bad["bots"][0]["settings"] = {"message": "Hi {nmae}"}
    with pytest.raises(ConfigError) as error:
        ChatServer(parse_config(bad), "roomchat.yaml")
    assert "bots.0.settings.message" in str(error.value) and "{name}" in str(error.value)

    path = write_config(bad, tmp_path)
    result = subprocess.run([sys.executable, "-m", "roomchat", "check", str(path)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert "bots.0.settings.message" in result.stderr
