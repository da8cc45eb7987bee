"""The bot SDK's commands, replies, acks, timers and leaving, against a real server.

A "clerk" bot declares commands of every shape (typed positional and
keyword-only arguments, the rest of a line, aliases, staff and role checks,
a command message type); real clients (a teacher, an admin, students) talk to
it through a RoomchatThread. Timers run on the bot's FakeClock.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field, PositiveInt

from roomchat.bot import Ack, Bot, BotRoom, BotSettings, Command, CommandRefused, Incoming, Role, User, command
from roomchat.client import SENT, Commands, Invocation, Timers, read_command
from roomchat.clock import FakeClock
from roomchat.errors import ConfigError
from roomchat.testing import ChatClient, RoomchatThread
from roomchat.testing.bots import BotThread, bot_token, user_token, wait_until

CLERK = 95
_rooms = itertools.count(1)


class Clerk(Bot):
    """A bot with one command of each shape; it records what reached it in ``room.state``."""

    kind = "clerk"
    command_type = "clerk"
    command_key = "do"
    command_prefixes = ("/", "clerk,")
    default_command = "help"
    room_commands = True
    command_help = "Clerk commands:"
    stopped = False

    @command(aliases=("plus",))
    async def add(self, room: BotRoom, msg: Incoming, a: int, b: int = 0) -> None:
        """Add two numbers."""
        await msg.reply(str(a + b))

    @command(staff_only=True)
    async def shout(self, room: BotRoom, msg: Incoming, text: str) -> None:
        """Say it to everyone, loudly."""
        ack = await room.broadcast("text", text.upper())
        room.state["shout_ack"] = ack

    @command(roles=["ADMIN"])
    async def wipe(self, room: BotRoom, msg: Incoming) -> None:
        """Wipe the board."""
        await msg.reply("wiped")

    @command
    async def ping(self, room: BotRoom, msg: Incoming, *, loud: bool = False) -> None:
        """Answer pong."""
        await msg.reply("PONG" if loud else "pong")

    @command(help="tell the room")
    async def announce(self, room: BotRoom, msg: Incoming, mode: Literal["now", "later"], *,
                       seconds: Annotated[PositiveInt, Field(title="S", description="how long to wait")] = 10) -> None:
        if mode == "now":
            await msg.reply("announced", in_room=True)
        else:
            room.call_later(seconds, lambda: msg.reply("announced later", in_room=True), group="announce")
            await msg.reply(f"in {seconds}s")

    @command("cancel-all")
    async def cancel_all(self, room: BotRoom, msg: Incoming) -> None:
        """Cancel the announcements."""
        await msg.reply(f"cancelled {room.timers.cancel('announce')}, {room.timers.pending()} left")

    @command
    async def strict(self, room: BotRoom, msg: Incoming) -> None:
        """Refuses, with a code of its own."""
        raise CommandRefused("not_today", "Not today.")

    @command
    async def bye(self, room: BotRoom, msg: Incoming) -> None:
        """Leave the room for good."""
        room.call_later(60, lambda: room.broadcast("text", "never"))
        await msg.reply("bye")
        await room.leave()

    @command
    async def help(self, room: BotRoom, msg: Incoming) -> None:
        """The commands you may use."""
        await msg.reply(self.help_text(msg.sender))

    async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
        room.state.setdefault("direct", []).append((msg.from_id, msg.type, msg.value, msg.to, msg.direct))

    async def on_command_refused(self, room: BotRoom, msg: Incoming, refusal: CommandRefused) -> None:
        room.state.setdefault("refused", []).append(
            (refusal.code, refusal.name, refusal.detail, refusal.command.name if refusal.command else None))
        await super().on_command_refused(room, msg, refusal)

    async def run_command(self, room: BotRoom, msg: Incoming, command: Command, arguments: Mapping[str, Any]) -> None:
        room.state.setdefault("ran", []).append((command.name, dict(arguments)))
        await super().run_command(room, msg, command, arguments)

    async def on_leave(self, room: BotRoom) -> None:
        room.state["on_leave"] = room.left

    async def on_stop(self) -> None:
        self.stopped = True


class Loud(Clerk):
    """The same commands; every reply goes to the room."""

    kind = "loud-clerk"
    reply_in_room = True


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatThread]:
    config = {"server": {"create_rooms": True, "new_room": {"admit": ["users", "guests"], "rate_limit": None}}}
    with RoomchatThread(config) as srv:
        yield srv


def room_name() -> str:
    return f"clerk-{next(_rooms)}"


def said(client: ChatClient, text: str, count: int = 1) -> Any:
    """Send the clerk a direct text and return the value of its ``count``-th answer to this client since."""
    before = len([m for m in client.messages() if m["from"] == CLERK])
    client.send(CLERK, "text", text)
    return client.wait_message(lambda d: d["from"] == CLERK, count=before + count)["message"]["value"]


def test_commands_with_typed_arguments_aliases_and_checks(server: RoomchatThread) -> None:
    room = room_name()
    tess = ChatClient(server.url, room=room, token=user_token(server, 11, "Tess", "TEACHER"))
    with BotThread(Clerk, server.url, bot_token(server, CLERK, "Clerk"), [room]) as bot, tess, \
            ChatClient(server.url, room=room, token=user_token(server, 12, "Ada", "ADMIN")) as ada, \
            ChatClient(server.url, room=room, name="Ann") as ann:
        assert said(ann, "/add 2 3") == "5"
        assert said(ann, "/PLUS 4") == "4"                                     # an alias, any case
        assert said(ann, "/add b=1 a=2") == "3"                                # by name
        assert said(ann, "/add two") == "add: a: Input should be a valid integer, unable to parse string as an " \
                                          "integer. Usage: add <a> [b]"
        assert said(ann, "/add 1 2 3") == "add: '3': too many arguments. Usage: add <a> [b]"
        assert said(ann, "/add") == "add: a: Field required. Usage: add <a> [b]"
        assert said(ann, "/nosuch").startswith("'nosuch' is not a command; the commands: add, shout, wipe, ping")
        assert said(ann, "/shout hi there") == "Only teachers and admins may use shout"
        assert said(tess, "/wipe") == "Only ADMIN may use wipe"
        assert said(ada, "/wipe") == "wiped"
        assert said(ann, "/ping") == "pong" and said(ann, "/ping loud=yes") == "PONG"
        assert said(ann, "Clerk, ping") == "pong"                             # another prefix
        assert said(ann, "/").startswith("Clerk commands:")                   # a prefix alone: default_command
        assert said(ann, "/strict") == "Not today."

        assert tess.send(CLERK, "text", "/shout hi there")["msg"] == SENT     # the rest of the line, one argument
        shouted = ann.wait_message(lambda d: d["from"] == CLERK and d["message"]["value"] == "HI THERE")
        assert "to" not in shouted                                             # a broadcast
        shout_ack = wait_until(lambda: bot.room().state.get("shout_ack"), "the shout's ack")
        assert isinstance(shout_ack, Ack) and shout_ack.ok and shout_ack.code is None
        assert shout_ack.value == "HI THERE" and shout_ack.msg == SENT and shout_ack.data["from"] == CLERK

        ann.send(CLERK, "clerk", {"do": "add", "a": 1, "b": 2})               # the command message type
        assert ann.wait_message(lambda d: d["from"] == CLERK and d["message"]["value"] == "3")
        ann.send(CLERK, "clerk", "ping")
        assert ann.wait_message(lambda d: d["from"] == CLERK and d["message"]["value"] == "pong", count=2)
        ann.send(CLERK, "clerk", 5)
        assert ann.wait_message(lambda d: d["from"] == CLERK and "send a command's name" in str(d["message"]["value"]))

        ann.send(CLERK, "text", "hello there")                                  # no prefix: not a command
        ann.send(CLERK, "sticker", {"id": 3})
        direct = wait_until(lambda: len(bot.room().state.get("direct", [])) >= 2 and bot.room().state["direct"],
                            "the two plain messages")
        assert direct == [(ann.id, "text", "hello there", CLERK, True), (ann.id, "sticker", {"id": 3}, CLERK, True)]

        state = bot.room().state
        assert ("add", {"a": 2, "b": 3}) in state["ran"] and ("ping", {"loud": True}) in state["ran"]
        assert ("forbidden", "shout", "Only teachers and admins may use shout", "shout") in state["refused"]
        assert ("unknown_command", "nosuch", "'nosuch' is not a command", None) in state["refused"]
        assert ("bad_arguments", "add", "'3': too many arguments", "add") in state["refused"]
        assert ("not_today", "", "Not today.", None) in state["refused"]


def test_the_generated_help_lists_what_each_user_may_use(server: RoomchatThread) -> None:
    room = room_name()
    with BotThread(Clerk, server.url, bot_token(server, CLERK, "Clerk"), [room]), \
            ChatClient(server.url, room=room, token=user_token(server, 13, "Tom", "TEACHER")) as tom, \
            ChatClient(server.url, room=room, name="Ann") as ann:
        student = said(ann, "/help").splitlines()
        assert student[0] == "Clerk commands:"
        assert "/add <a> [b] (or plus): Add two numbers" in student
        assert "/ping [loud=true|false]: Answer pong" in student
        assert "/announce now|later [seconds=<S>]: tell the room" in student
        assert not [line for line in student if line.startswith(("/shout", "/wipe"))]
        teacher = said(tom, "/help").splitlines()
        assert "/shout <text>: Say it to everyone, loudly" in teacher and not any(x.startswith("/wipe") for x in teacher)
    table = Clerk.command_table()
    assert isinstance(table, Commands) and table.get("plus") is table.get("add") and "PLUS" in table
    seconds = next(a for a in table.get("announce").arguments if a.name == "seconds")  # type: ignore[union-attr]
    assert (seconds.metavar, seconds.description, seconds.positional, seconds.required) == (
        "S", "how long to wait", False, False)
    assert [c.name for c in table][:4] == ["add", "shout", "wipe", "ping"] and len(table) == 9


def test_reply_answers_the_sender_or_the_room(server: RoomchatThread) -> None:
    room = room_name()
    with BotThread(Loud, server.url, bot_token(server, CLERK, "Clerk"), [room]) as bot, \
            ChatClient(server.url, room=room, name="Ann") as ann, ChatClient(server.url, room=room, name="Bob") as bob:
        ann.send(CLERK, "text", "/add 1 1")                          # reply_in_room: the whole room hears it
        assert bob.wait_message(lambda d: d["from"] == CLERK)["message"]["value"] == "2"
        ann.broadcast("text", "/add 2 2")                            # room_commands: read from a broadcast too
        assert bob.wait_message(lambda d: d["from"] == CLERK, count=2)["message"]["value"] == "4"
        assert bot.room().reply_in_room is True
    with BotThread(Clerk, server.url, bot_token(server, CLERK, "Clerk"), [room]), \
            ChatClient(server.url, room=room, name="Cy") as cy, ChatClient(server.url, room=room, name="Di") as di:
        cy.broadcast("text", "/add 3 3")                             # a room command, answered to its sender only
        answer = cy.wait_message(lambda d: d["from"] == CLERK)
        assert answer["message"]["value"] == "6" and answer["to"] == cy.id
        cy.send(CLERK, "text", "/announce now")                      # reply(in_room=True)
        assert di.wait_message(lambda d: d["from"] == CLERK)["message"]["value"] == "announced"


def test_timers_by_group_and_leaving_for_good(server: RoomchatThread) -> None:
    room = room_name()
    with BotThread(Clerk, server.url, bot_token(server, CLERK, "Clerk"), [room]) as bot, \
            ChatClient(server.url, room=room, name="Ann") as ann:
        assert said(ann, "/announce later seconds=30") == "in 30s"
        assert said(ann, "/announce later") == "in 10s"
        timers = bot.room().timers
        assert isinstance(timers, Timers) and timers.pending("announce") == 2 and timers.pending() == 2
        bot.advance(10)
        assert ann.wait_message(lambda d: d["message"]["value"] == "announced later")
        assert timers.pending("announce") == 1
        assert said(ann, "/cancel-all") == "cancelled 1, 0 left"
        bot.advance(60)
        ann.call("message", None)
        assert [m["message"]["value"] for m in ann.messages()].count("announced later") == 1

        assert said(ann, "/bye") == "bye"
        ann.wait_for("user-disconnected", lambda p: p["data"]["ID"] == CLERK)
        left = bot.room()
        wait_until(lambda: bot._task is not None and bot._task.done(), "the bot stopped after leaving its only room")
        assert left.left and not left.joined and not left.connected and left.state["on_leave"] is True
        assert left.timers.pending() == 0 and bot.runner.crashes == 0 and bot.joins() == 1
        assert isinstance(bot.bot, Clerk) and bot.bot.stopped                  # on_stop ran
        assert left.call_later(1, lambda: None).cancelled                  # a closed room schedules nothing
        bot.advance(120)
        ann.call("message", None)
        assert "never" not in [m["message"]["value"] for m in ann.messages()]


def test_acks_of_refusals_and_the_incoming_message(server: RoomchatThread) -> None:
    room = room_name()

    class Probe(Bot):
        kind = "probe"

        async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
            room.state["msg"] = msg

    with BotThread(Probe, server.url, bot_token(server, 96, "Probe"), [room]) as bot, \
            ChatClient(server.url, room=room, name="Ann") as ann:
        ann.send(96, "text", "hi")
        msg = wait_until(lambda: bot.room().state.get("msg"), "the message")
        assert (msg.from_id, msg.type, msg.value, msg.text, msg.to, msg.direct, msg.from_room) == (
            ann.id, "text", "hi", "hi", 96, True, False)
        assert msg.sender == User(ann.id, Role.STUDENT, "Ann") and msg.room is bot.room()
        assert isinstance(msg.id, str) and isinstance(msg.time, int) and msg.data["message"]["value"] == "hi"
        assert bot.room().bot is bot.bot and bot.room().lock is not None

        bad = bot.call(bot.room().broadcast("poll", {"nonsense": 1}))
        assert not bad.ok and bad.code == "validation_failed" and bad.errors and bad.value is None
        gone = bot.call(bot.room().send(123456, "text", "anyone?"))
        assert gone.code == "user_not_found" and gone.errors == []
    offline = asyncio.run(msg.reply("too late"))                       # the bot has stopped: not connected
    assert offline.code == "disconnected" and not offline.ok


def test_ack_and_incoming_read_whatever_arrives() -> None:
    assert Ack.of({"msg": SENT, "data": {"message": {"type": "text", "value": "x"}}}).value == "x"
    assert Ack.of("garbage").code == "invalid_ack" and Ack.of({"msg": "No", "data": 3}).code == "invalid_ack"
    refusal = Ack.refusal("timeout", "The server did not answer in time")
    assert (refusal.ok, refusal.code, refusal.msg, refusal.data) == (False, "timeout",
                                                                     "The server did not answer in time",
                                                                     {"code": "timeout"})
    from_room = Incoming(from_id=0, type="text", value=7)
    assert from_room.from_room and from_room.text == "" and not from_room.direct
    with pytest.raises(RuntimeError, match="reply"):
        asyncio.run(from_room.reply("x"))


def test_read_command_and_the_bots_table() -> None:
    clerk = Clerk()
    text = Incoming(from_id=3, type="text", value="  /add 1  'two words'", to=CLERK)
    assert clerk.read_command(text) == Invocation("add", ("1", "two words"))
    assert clerk.read_command(Incoming(from_id=3, type="text", value="add 1", to=CLERK)) is None
    assert read_command("text", "/quiz", command_type=None, key="action", prefixes=("/quiz",), default="status") == \
        Invocation("status")
    assert read_command("text", "/quizzes", command_type=None, key="action", prefixes=("/quiz",), default=None) is None
    assert read_command("text", "", command_type=None, key="k", prefixes=("",), default="help") is None
    with pytest.raises(CommandRefused) as refused:
        read_command("clerk", {"a": 1}, command_type="clerk", key="do", prefixes=(), default=None)
    assert refused.value.code == "bad_arguments" and refused.value.detail == "do: Field required"
    assert clerk.commands is Clerk.command_table()
    assert clerk.help_text().splitlines()[1:3] == ["/add <a> [b] (or plus): Add two numbers",
                                                   "/shout <text>: Say it to everyone, loudly"]


def test_settings_are_validated_naming_the_key_and_the_file() -> None:
    class Tuned(Bot):
        class Settings(BotSettings):
            seconds: float = 1.0

    assert Tuned.validate_settings({"seconds": "2"}).seconds == 2.0
    with pytest.raises(ConfigError) as bad:
        Tuned.validate_settings({"seconds": "soon"}, "bots.3.settings", "roomchat.yaml")
    assert bad.value.source == "roomchat.yaml" and "bots.3.settings.seconds" in str(bad.value)


def test_a_command_must_be_an_async_method_with_room_and_msg() -> None:
    with pytest.raises(TypeError, match="must be an async method"):
        command(lambda self, room, msg: None)

    class Bad(Bot):
        @command
        async def oops(self, room: BotRoom) -> None: ...

    with pytest.raises(TypeError, match=r"take \(self, room, msg, <arguments>\)"):
        Bad()

    class Twice(Bot):
        @command(aliases=("go",))
        async def run(self, room: BotRoom, msg: Incoming) -> None: ...

        @command
        async def go(self, room: BotRoom, msg: Incoming) -> None: ...

    with pytest.raises(TypeError, match="'go' is declared twice"):
        Twice.command_table()


def test_a_timer_cancelled_while_it_waits_for_the_room_does_not_run() -> None:
    async def scenario() -> list[str]:
        clock, lock, ran = FakeClock(), asyncio.Lock(), []
        timers = Timers(clock, lock=lock)
        timers.call_later(1, lambda: ran.append("first"))
        async with lock:                                  # a handler is running
            advancing = asyncio.create_task(clock.advance(1))
            await asyncio.sleep(0)                        # the timer fell due and waits for the lock
            assert timers.pending() == 1 and not ran
            assert timers.cancel() == 1                   # the handler cancels it
        await advancing
        timers.call_later(1, lambda: ran.append("second"), group="g")
        timers.close()
        timers.call_later(1, lambda: ran.append("third"))
        await clock.advance(5)
        assert timers.clock is clock and timers.label == "timer"
        return ran

    assert asyncio.run(scenario()) == []
