"""Bots out of process and in a real ``roomchat serve``: the same classes, connected like any user.

``roomchat bot run`` runs as a subprocess against a RoomchatProcess; the
server is restarted under it and it comes back; a bad token stops it with a
clear message. A BotThread (the test helper) drives a timer bot on a
FakeClock against the same real server process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from roomchat.bot import Bot, BotRoom, Incoming
from roomchat.testing import ChatClient, RoomchatProcess
from roomchat.testing.bots import BotProcess, BotThread

ROOM = "hall"
ECHO_TOKEN = "echo-bot-secret-token"
TIMER_TOKEN = "timer-bot-secret-token"
CONFIG: dict[str, Any] = {
    "rooms": {ROOM: {"admit": ["users", "guests"], "rate_limit": None}},
    "bots": [
        {"kind": "greeter", "ID": 71, "name": "Greeter", "rooms": [ROOM], "settings": {"message": "Hi {name}"}},
        {"kind": "echo", "ID": 72, "name": "Echo", "rooms": [ROOM], "run": "external", "token": ECHO_TOKEN},
        {"kind": "reminder", "ID": 73, "name": "Reminder", "rooms": [ROOM], "run": "external", "token": TIMER_TOKEN},
    ],
}


class Reminder(Bot):
    """``remind N`` in a direct message: answers ``reminder`` N seconds later (of the bot's clock)."""

    kind = "reminder"

    async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
        seconds = float(msg.text.split()[-1])
        room.call_later(seconds, lambda: room.send(msg.from_id, "text", "reminder"))
        await room.send(msg.from_id, "text", f"in {seconds:g}s")


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatProcess]:
    with RoomchatProcess(CONFIG) as srv:
        yield srv


def join_when_present(url: str, bot_id: int, name: str = "Ann") -> ChatClient:
    """Join; if the bot is not in the room yet, wait for its user-connected."""
    client = ChatClient(url, room=ROOM, name=name, timeout=20)
    if bot_id not in [u["ID"] for u in client.users]:
        client.wait_for("user-connected", lambda p: p["data"]["ID"] == bot_id)
    return client


def test_in_process_bot_is_an_ordinary_user_of_a_real_server(server: RoomchatProcess) -> None:
    with ChatClient(server.url, room=ROOM, name="Ann", timeout=20) as ann:
        if 71 not in [u["ID"] for u in ann.users]:
            ann.wait_for("user-connected", lambda p: p["data"]["ID"] == 71)
        else:
            assert {"ID": 71, "role": "STUDENT", "name": "Greeter"} in ann.users
        with ChatClient(server.url, room=ROOM, name="Bob") as bob:
            assert bob.wait_message(lambda d: d["from"] == 71)["message"] == {"type": "text", "value": "Hi Bob"}
            assert ann.wait_message(lambda d: d["from"] == 71 and d["message"]["value"] == "Hi Bob")


def test_bot_run_out_of_process_and_back_after_a_server_restart(server: RoomchatProcess) -> None:
    with BotProcess("echo", server.url, ECHO_TOKEN, [ROOM], settings={"prefix": "echo: "},
                    args=["--config", str(server.config_path)]) as bot:
        with join_when_present(server.url, 72) as ann:
            assert {"ID": 72, "role": "STUDENT", "name": "Echo"} in ann.users + [
                p["data"] for p in ann.received("user-connected")]
            ann.send(72, "text", "hello")
            assert ann.wait_message(lambda d: d["from"] == 72)["message"]["value"] == "echo: hello"
            ann.broadcast("text", "to everyone")  # not echoed: only direct messages are
            assert ann.send(72, "sticker", {"id": 7})["msg"] == "Message sent"
            echoed = ann.wait_message(lambda d: d["from"] == 72, count=2)  # the broadcast got no echo before it
            assert echoed["message"] == {"type": "sticker", "value": {"id": 7}}

        server.stop()
        server.start()
        with join_when_present(server.url, 72) as ann:
            ann.send(72, "text", "again")
            assert ann.wait_message(lambda d: d["from"] == 72)["message"]["value"] == "echo: again"
        assert bot.proc is not None and bot.proc.poll() is None
    assert bot.proc.returncode == 0, bot.log()
    assert "bot_reconnect" in bot.log()


def test_bot_run_stops_on_a_bad_token(server: RoomchatProcess) -> None:
    bot = BotProcess("echo", server.url, "not-a-valid-token", [ROOM]).start()
    assert bot.wait() == 2
    bot.stop()
    assert "unauthorized" in bot.log() and "--token" in bot.log()


def test_bot_run_refuses_bad_settings_naming_the_key(server: RoomchatProcess) -> None:
    bot = BotProcess("echo", server.url, ECHO_TOKEN, [ROOM], settings={"prefx": ">"}).start()
    assert bot.wait() == 2
    bot.stop()
    assert "settings.prefx: unknown setting" in bot.log()


def test_bot_thread_with_a_fake_clock_against_a_server_process(server: RoomchatProcess) -> None:
    with BotThread(Reminder, server.url, TIMER_TOKEN, [ROOM], bot_ids=[71, 72]) as bot, \
            join_when_present(server.url, 73) as ann:
        ann.send(73, "text", "remind 300")
        assert ann.wait_message(lambda d: d["from"] == 73)["message"]["value"] == "in 300s"
        bot.advance(299)
        ann.call("message", None)  # a round trip: anything already sent has arrived
        assert [m["message"]["value"] for m in ann.messages() if m["from"] == 73] == ["in 300s"]
        bot.advance(1)
        assert ann.wait_message(lambda d: d["from"] == 73, count=2)["message"]["value"] == "reminder"
        assert bot.room().users[71].bot and not bot.room().users[ann.id].bot
