"""The bot SDK against a real server: handlers, actions, timers, state, settings, isolation.

Bots run either inside the server (the config's ``bots:``) or in a BotThread
(connected like ``roomchat bot run``), with real python-socketio clients as
the other users. Time is a FakeClock: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from roomchat import hookimpl
from roomchat.app import ChatServer
from roomchat.bot import Bot, BotRoom, BotSettings, Incoming, User
from roomchat.clock import FakeClock
from roomchat.config import parse_config
from roomchat.errors import ConfigError
from roomchat.testing import ChatClient, RoomchatThread
from roomchat.testing.bots import BotThread, bot_token, user_token, wait_until

_rooms = itertools.count(1)


class Recorder(Bot):
    """Records every handler call in ``room.state["log"]`` and answers a few words."""

    kind = "recorder"

    class Settings(BotSettings):
        reply: str = "pong"
        seconds: float = 10.0

    def note(self, room: BotRoom, *entry: Any) -> None:
        room.state.setdefault("log", []).append(entry)

    async def on_join(self, room: BotRoom) -> None:
        self.note(room, "join", [u.name for u in room.users.values()], room.me.name)

    async def on_user_joined(self, room: BotRoom, user: User) -> None:
        self.note(room, "joined", user.name, user.role.value, user.bot)
        if not user.bot:
            await room.send(user.id, "text", f"hello {user.name}")

    async def on_user_left(self, room: BotRoom, user: User) -> None:
        self.note(room, "left", user.name)

    async def on_room_message(self, room: BotRoom, msg: Incoming) -> None:
        self.note(room, "room", msg.sender.name if msg.sender else None, msg.type, msg.value, msg.direct)
        room.state["count"] = room.state.get("count", 0) + 1
        if msg.value == "ping":
            ack = await room.broadcast("text", self.settings.reply)
            self.note(room, "ack", ack.ok, ack.code)
        elif msg.value == "later":
            room.state["timer"] = room.call_later(self.settings.seconds, lambda: room.broadcast("text", "timer fired"))
            await room.broadcast("text", "scheduled")
        elif msg.value == "cancel":
            room.state["timer"].cancel()
            await room.broadcast("text", "cancelled")
        elif msg.value == "boom":
            raise RuntimeError("a bug in a handler")
        elif msg.value == "bad timer":
            room.call_later(1, _explode)
            await room.broadcast("text", "bad timer set")
        elif msg.value == "count":
            await room.broadcast("count", room.state["count"])
        elif msg.value == "hang":
            await asyncio.Event().wait()  # never set: only the bot's handler_timeout ends this

    async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
        self.note(room, "direct", msg.sender.name if msg.sender else None, msg.type, msg.value, msg.direct)
        if msg.value == "teachers":
            await room.send(msg.from_id, "teachers", [u.name for u in room.teachers()])
        else:
            await room.send(msg.from_id, "text", f"you said {msg.value}")


def _explode() -> None:
    raise RuntimeError("a bug in a timer")


class Parrot(Bot):
    """Repeats every room message it hears, prefixed with its name: two of them would loop without ignore_bots."""

    kind = "parrot"

    class Settings(BotSettings):
        tag: str = "P"

    async def on_room_message(self, room: BotRoom, msg: Incoming) -> None:
        room.state.setdefault("heard", []).append((msg.from_id, msg.value))
        if msg.type == "text" and isinstance(msg.value, str):
            await room.broadcast("text", f"{self.settings.tag} heard {msg.value}")


class Listener(Parrot):
    """Hears bots too (``ignore_bots = False``) but never answers."""

    kind = "listener"
    ignore_bots = False

    async def on_room_message(self, room: BotRoom, msg: Incoming) -> None:
        room.state.setdefault("heard", []).append((msg.from_id, msg.value, msg.sender.bot if msg.sender else None))


class Fragile(Bot):
    """Crashes on its first start (outside any handler): the runner must restart it."""

    kind = "fragile"
    starts = 0

    async def on_start(self) -> None:
        type(self).starts += 1
        if type(self).starts == 1:
            raise RuntimeError("could not start")

    async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
        await room.send(msg.from_id, "text", "alive")


class Stubborn(Bot):
    """Loses the cancellation that stops it, as ``asyncio.wait_for`` can on Python 3.11 (CPython gh-86296)."""

    kind = "stubborn"

    async def on_room_message(self, room: BotRoom, msg: Incoming) -> None:
        room.state["waiting"] = True
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            room.state["lost a cancellation"] = True


class TestBots:
    """A plugin registering the test bots, handed to the server like any plugin."""

    @hookimpl
    def roomchat_register_bots(self, register: Any) -> None:
        for bot in (Recorder, Parrot, Listener, Fragile, Stubborn):
            register(bot)


def config(bots: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "server": {"create_rooms": True, "new_room": {"admit": ["users", "guests"], "rate_limit": None}},
        "bots": bots or [],
    }


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatThread]:
    with RoomchatThread(config(), plugins={"test-bots": TestBots()}) as srv:
        yield srv


def room_name() -> str:
    return f"sdk-{next(_rooms)}"


def sync(*clients: ChatClient) -> None:
    """A round trip behind everything the server already sent each client."""
    for client in clients:
        client.call("message", None)


def texts(client: ChatClient, sender: int) -> list[Any]:
    return [m["message"]["value"] for m in client.messages() if m["from"] == sender]


def test_handlers_see_joins_messages_and_leaves(server: RoomchatThread) -> None:
    room = room_name()
    tess = ChatClient(server.url, room=room, token=user_token(server, 10, "Tess", "TEACHER"))
    with BotThread(Recorder, server.url, bot_token(server, 90, "Robo"), [room]) as bot, tess:
        joined = tess.wait_for("user-connected")["data"]
        assert joined == {"ID": 90, "role": "STUDENT", "name": "Robo"}  # an ordinary user on the wire
        with ChatClient(server.url, room=room, name="Ann") as ann:
            assert [u["name"] for u in ann.users] == ["Tess", "Robo", "Ann"]
            assert ann.wait_message(lambda d: d["from"] == 90)["message"]["value"] == "hello Ann"

            assert ann.broadcast("text", "ping")["msg"] == "Message sent"
            pong = ann.wait_message(lambda d: d["from"] == 90 and d["message"]["value"] == "pong")
            assert "to" not in pong  # a broadcast
            tess.wait_message(lambda d: d["from"] == 90 and d["message"]["value"] == "pong")

            ann.send(90, "text", "teachers")
            answer = ann.wait_message(lambda d: d["from"] == 90 and isinstance(d["message"]["value"], list))
            assert answer["message"]["value"] == ["Tess"] and answer["to"] == ann.id
        log = bot.room().state["log"]
        wait_until(lambda: ("left", "Ann") in log, "on_user_left for Ann")
    assert log[0] == ("join", ["Tess", "Robo"], "Robo")
    assert ("joined", "Ann", "STUDENT", False) in log
    assert ("room", "Ann", "text", "ping", False) in log
    assert ("ack", True, None) in log
    assert ("direct", "Ann", "text", "teachers", True) in log


def test_state_is_per_room_and_sends_report_refusals(server: RoomchatThread) -> None:
    first, second = room_name(), room_name()
    with BotThread(Recorder, server.url, bot_token(server, 91, "Twin"), [first, second]) as bot, \
            ChatClient(server.url, room=first, name="Ann") as ann, ChatClient(server.url, room=second, name="Bob") as bob:
        for _ in range(3):
            ann.broadcast("text", "one")
        ann.broadcast("text", "count")
        bob.broadcast("text", "count")
        assert ann.wait_message(lambda d: d["from"] == 91 and d["message"]["value"] == 4)
        assert bob.wait_message(lambda d: d["from"] == 91 and d["message"]["value"] == 1)
        assert bot.room(first).state is not bot.room(second).state
        ack = bot.call(bot.room(first).send(123456, "text", "anyone?"))
        assert not ack.ok and ack.code == "user_not_found"


def test_timers_run_on_the_bots_clock(server: RoomchatThread) -> None:
    room = room_name()
    with BotThread(Recorder, server.url, bot_token(server, 92, "Timely"), [room], settings={"seconds": 20}) as bot, \
            ChatClient(server.url, room=room, name="Ann") as ann:
        ann.broadcast("text", "later")
        ann.wait_message(lambda d: d["message"]["value"] == "scheduled")
        bot.advance(19.5)
        sync(ann)
        assert "timer fired" not in texts(ann, 92)
        bot.advance(0.5)  # advance() returns once the callback ran (and its broadcast was acked)
        sync(ann)
        assert texts(ann, 92).count("timer fired") == 1

        ann.broadcast("text", "later")
        ann.wait_message(lambda d: d["message"]["value"] == "scheduled", count=2)
        ann.broadcast("text", "cancel")
        ann.wait_message(lambda d: d["message"]["value"] == "cancelled")
        bot.advance(60)
        sync(ann)
        assert texts(ann, 92).count("timer fired") == 1


def test_a_raising_handler_or_timer_is_isolated(server: RoomchatThread, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="roomchat.bots")
    room = room_name()
    with BotThread(Recorder, server.url, bot_token(server, 93, "Buggy"), [room]) as bot, \
            ChatClient(server.url, room=room, name="Ann") as ann, ChatClient(server.url, room=room, name="Bob") as bob:
        assert ann.broadcast("text", "boom")["msg"] == "Message sent"
        assert bob.wait_message(lambda d: d["message"]["value"] == "boom")["from"] == ann.id
        ann.broadcast("text", "bad timer")
        ann.wait_message(lambda d: d["message"]["value"] == "bad timer set")
        bot.advance(5)
        ann.broadcast("text", "ping")  # the bot is still there and answering
        assert bob.wait_message(lambda d: d["from"] == 93 and d["message"]["value"] == "pong")
        assert bot.runner.crashes == 0 and bot.joins() == 1
    failures = [r for r in caplog.records if r.getMessage() == "bot_handler_failed"]
    assert [r.fields["handler"] for r in failures] == ["on_room_message", f"timer in {room}"]  # type: ignore[attr-defined]
    assert any("a bug in a handler" in (r.exc_text or "") or (r.exc_info and "a bug in a handler" in str(r.exc_info[1]))
               for r in caplog.records)


def test_a_hanging_handler_is_cut_off_and_the_bot_goes_on(server: RoomchatThread,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="roomchat.bots")
    room = room_name()
    Recorder.handler_timeout = 0.5
    try:
        with BotThread(Recorder, server.url, bot_token(server, 94, "Stuck"), [room]) as bot, \
                ChatClient(server.url, room=room, name="Ann") as ann, \
                ChatClient(server.url, room=room, name="Bob") as bob:
            assert ann.broadcast("text", "hang")["msg"] == "Message sent"
            ann.broadcast("text", "ping")  # queued behind the stuck handler, handled once it is cut off
            assert bob.wait_message(lambda d: d["from"] == 94 and d["message"]["value"] == "pong")
            assert bot.runner.crashes == 0 and bot.joins() == 1
    finally:
        Recorder.handler_timeout = Bot.handler_timeout
    timeouts = [r for r in caplog.records if r.getMessage() == "bot_handler_timeout"]
    assert [(r.fields["handler"], r.fields["seconds"]) for r in timeouts] == [("on_room_message", 0.5)]  # type: ignore[attr-defined]


def test_bots_ignore_bots_so_they_cannot_loop() -> None:
    bots = [
        {"kind": "parrot", "ID": 81, "name": "Polly", "rooms": ["aviary"], "settings": {"tag": "A"}},
        {"kind": "parrot", "ID": 82, "name": "Paul", "rooms": ["aviary"], "settings": {"tag": "B"}},
        {"kind": "listener", "ID": 83, "name": "Ear", "rooms": ["aviary"]},
    ]
    with RoomchatThread(config(bots), plugins={"test-bots": TestBots()}) as srv, \
            ChatClient(srv.url, room="aviary", name="Ann") as ann:
        assert {u["ID"] for u in ann.users} >= {81, 82, 83}
        ann.broadcast("text", "hi")
        ann.broadcast("text", "marker")
        # Each bot handles its room's events in order: had a parrot answered the other, that
        # answer would reach Ann before its answer to "marker".
        ann.wait_message(lambda d: d["from"] == 81 and d["message"]["value"] == "A heard marker")
        ann.wait_message(lambda d: d["from"] == 82 and d["message"]["value"] == "B heard marker")
        assert texts(ann, 81) == ["A heard hi", "A heard marker"]
        assert texts(ann, 82) == ["B heard hi", "B heard marker"]
        polly = srv.chat.bots.runners[0].bot.rooms["aviary"]
        assert [who for who, _ in polly.state["heard"]] == [ann.id, ann.id]
        ear = srv.chat.bots.runners[2].bot.rooms["aviary"]
        heard = wait_until(lambda: len(ear.state.get("heard", [])) >= 6 and ear.state["heard"], "the listener heard all")
        assert (81, "A heard hi", True) in heard and (ann.id, "hi", False) in heard


def test_the_server_stops_although_a_bot_lost_the_cancellation_that_stops_it() -> None:
    """Shutdown cancels each bot's connection task; one whose handler lost the cancellation still ends.

    A handler's await can lose a cancellation (python-socketio's ``call`` uses
    ``asyncio.wait_for``, which on Python 3.11 returns normally when its future
    completes as the cancellation arrives): the bot went back to waiting for
    events, and the server's shutdown waited for it for ever (a rare hang of
    ``drain`` in the suite, 1 run in 100 of the parrot test under load).
    """
    bots = [{"kind": "stubborn", "ID": 84, "name": "Mule", "rooms": ["stable"]}]
    srv = RoomchatThread(config(bots), plugins={"test-bots": TestBots()}).start()
    try:
        with ChatClient(srv.url, room="stable", name="Ann") as ann:
            ann.broadcast("text", "hurry up")
            mule = srv.chat.bots.runners[0].bot.rooms["stable"]
            wait_until(lambda: mule.state.get("waiting"), "the bot waiting in its handler")
    finally:
        srv.stop()  # drain: at most 15 s, else TimeoutError
    assert mule.state.get("lost a cancellation")


def test_settings_are_validated_at_start_up() -> None:
    def build(bot: dict[str, Any]) -> None:
        ChatServer(parse_config(config([bot])), "test.yaml", extra_plugins={"test-bots": TestBots()})

    base = {"ID": 70, "name": "Rec", "rooms": ["r"]}
    with pytest.raises(ConfigError) as bad_type:
        build({**base, "kind": "recorder", "settings": {"seconds": "soon"}})
    assert "bots.0.settings.seconds" in str(bad_type.value) and "test.yaml" in str(bad_type.value)
    with pytest.raises(ConfigError) as unknown:
        build({**base, "kind": "recorder", "settings": {"secnds": 3}})
    assert "bots.0.settings.secnds: unknown setting" in str(unknown.value)
    with pytest.raises(ConfigError) as kind:
        build({**base, "kind": "nosuch"})
    assert "bots.0.kind: no bot of kind 'nosuch'" in str(kind.value) and "recorder" in str(kind.value)
    with pytest.raises(ConfigError) as role:
        ChatServer(parse_config({"rooms": {"staff": {"roles": ["TEACHER"]}},
                                 "bots": [{**base, "kind": "recorder", "rooms": ["staff"]}]}),
                   "test.yaml", extra_plugins={"test-bots": TestBots()})
    assert "bots.0.rooms.0" in str(role.value) and "STUDENT may not enter" in str(role.value)
    assert Recorder({"seconds": 3}).settings.seconds == 3.0
    with pytest.raises(ConfigError, match="settings.reply"):
        Recorder({"reply": ["not", "text"]})


def test_a_crashing_bot_is_restarted() -> None:
    bots = [{"kind": "fragile", "ID": 84, "name": "Fragile", "rooms": ["ward"]}]
    with RoomchatThread(config(bots), plugins={"test-bots": TestBots()}) as srv:  # start() waits for the bot
        runner = srv.chat.bots.runners[0]
        assert runner.crashes == 1 and runner.starts == 2
        with ChatClient(srv.url, room="ward", name="Ann") as ann:
            assert 84 in [u["ID"] for u in ann.users]
            ann.send(84, "text", "you ok?")
            assert ann.wait_message(lambda d: d["from"] == 84)["message"]["value"] == "alive"


def test_in_process_bots_use_the_servers_clock() -> None:
    clock = FakeClock()
    bots = [{"kind": "recorder", "ID": 85, "name": "Rec", "rooms": ["clocked"], "settings": {"seconds": 30}}]
    with RoomchatThread(config(bots), plugins={"test-bots": TestBots()}, clock=clock) as srv, \
            ChatClient(srv.url, room="clocked", name="Ann") as ann:
        assert srv.chat.bots.runners[0].bot.clock is clock
        ann.broadcast("text", "later")
        ann.wait_message(lambda d: d["message"]["value"] == "scheduled")
        srv.advance(29)
        sync(ann)
        assert "timer fired" not in texts(ann, 85)
        srv.advance(1)
        assert ann.wait_message(lambda d: d["message"]["value"] == "timer fired")["from"] == 85


def test_bots_are_not_rate_limited() -> None:
    cfg = {"rooms": {"strict": {"admit": ["users", "guests"], "rate_limit": {"messages": 2, "per_seconds": 60}}}}
    with RoomchatThread(cfg) as srv, BotThread(Recorder, srv.url, bot_token(srv, 94, "Busy"), ["strict"]) as bot, \
            ChatClient(srv.url, room="strict", name="Ann") as ann:
        acks = [bot.call(bot.room().send(ann.id, "text", f"answer {i}")) for i in range(6)]
        assert all(ack.ok for ack in acks), acks
        assert [ann.broadcast("text", "x")["msg"] == "Message sent" for _ in range(3)] == [True, True, False]
        assert ann.broadcast("text", "x")["data"]["code"] == "rate_limited"
