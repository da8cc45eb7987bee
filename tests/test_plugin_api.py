"""The plugin-facing API (roomchat.Chat, roomchat.Store) and how the server calls hooks, through real servers.

Every member of ``Chat`` and ``Store`` is used here on a running server;
``roomchat_check_join`` refuses joins in the rooms that run its plugin;
every hook goes through pluggy (a ``wrapper=True`` implementation and
``pm.trace`` see each plugin's call); a plugin class gets one instance per
server; a room's plugin choice applies to joins and leaves too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import socketio
from pydantic import BaseModel, ConfigDict

from roomchat import Chat, ConfigError, MessageContext, MessageType, Refusal, Role, User, hookimpl
from roomchat.clock import FakeClock
from roomchat.testing import ChatClient, JoinRefused, RoomchatThread

TESS = {"ID": 5, "name": "Tess", "role": "TEACHER", "token": "tess-token-1234"}
POLLY = {"kind": "echo", "ID": 900, "name": "Polly", "rooms": ["lab"]}


class ProbeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str = "hello"


class Probe:
    """A plugin class: records what it is given, refuses joins of users named 'Nope', types a model value."""

    made: ClassVar[list[Probe]] = []

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.joined: list[tuple[str, int]] = []
        self.left: list[tuple[str, int]] = []
        self.seen: list[Any] = []
        Probe.made.append(self)

    @hookimpl
    def roomchat_settings_model(self) -> type[BaseModel]:
        return ProbeSettings

    @hookimpl
    def roomchat_register_message_types(self, register: Any) -> None:
        register(MessageType("probe-order", Order, handlers=[self.handle]))

    def handle(self, ctx: MessageContext) -> None:
        self.seen.append((type(ctx.value).__name__, ctx.value.dish, ctx.wire_value, ctx.message_type.name,
                          ctx.chat is self.chat, ctx.settings.greeting))
        ctx.value = ctx.value.model_copy(update={"dish": ctx.value.dish + "!"})

    @hookimpl
    def roomchat_check_join(self, chat: Chat, room: str, user: User) -> None:
        if user.name == "Nope":
            raise Refusal("forbidden", "Not you", reason="named Nope")

    @hookimpl
    def roomchat_user_joined(self, chat: Chat, room: str, user: User) -> None:
        self.joined.append((room, user.id))

    @hookimpl
    def roomchat_user_left(self, chat: Chat, room: str, user: User) -> None:
        self.left.append((room, user.id))


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dish: str
    count: int = 1


CONFIG = {
    "users": [TESS],
    "bots": [POLLY],
    "rooms": {"lab": {"admit": ["guests", "users"], "rate_limit": None,
                      "plugins": {"settings": {"probe": {"greeting": "hi, lab"}}}},
              "quiet": {"admit": ["guests", "users"], "plugins": {"disabled": ["probe"]}}},
}


@pytest.fixture
def server() -> Iterator[RoomchatThread]:
    Probe.made.clear()
    with RoomchatThread(CONFIG, plugins={"probe": Probe}, clock=FakeClock()) as running:
        yield running


def probe(server: RoomchatThread) -> Probe:
    assert len(Probe.made) == 1
    return Probe.made[0]


# -- the plugin class ------------------------------------------------------------------------


def test_a_plugin_class_gets_one_instance_per_server_with_its_own_chat(server: RoomchatThread) -> None:
    plugin = probe(server)
    assert plugin.chat.plugin == "probe" and plugin.chat is server.chat.plugins.view("probe")
    with RoomchatThread(CONFIG, plugins={"probe": Probe}) as other:
        assert len(Probe.made) == 2 and Probe.made[1].chat is other.chat.plugins.view("probe")
        assert Probe.made[1].chat is not plugin.chat


def test_ctx_value_is_the_validated_model_and_wire_value_its_json(server: RoomchatThread) -> None:
    with ChatClient(server.url, room="lab", name="Ann") as ann, ChatClient(server.url, room="lab", name="Bob") as bob:
        assert ann.broadcast("probe-order", {"dish": "tea"})["msg"] == "Message sent"
        assert bob.wait_message()["message"]["value"] == {"dish": "tea!", "count": 1}
    assert probe(server).seen == [("Order", "tea", {"dish": "tea", "count": 1}, "probe-order", True, "hi, lab")]


# -- roomchat_check_join and the room's plugin choice -------------------------------------------


def test_check_join_refuses_with_the_plugins_code_and_details(server: RoomchatThread) -> None:
    with pytest.raises(JoinRefused) as refused:
        ChatClient(server.url, room="lab", name="Nope")
    assert refused.value.code == "forbidden" and refused.value.message == "Not you"
    assert refused.value.data == {"code": "forbidden", "reason": "named Nope"}
    with ChatClient(server.url, room="quiet", name="Nope") as nope:  # a room that does not run the plugin
        assert nope.connected


def test_join_and_leave_hooks_run_only_in_rooms_that_run_the_plugin(server: RoomchatThread) -> None:
    plugin = probe(server)
    with ChatClient(server.url, room="quiet", name="Qui") as qui, ChatClient(server.url, room="lab", name="Lab") as lab:
        server.call(_until(lambda: ("lab", lab.id) in plugin.joined))
        quiet_id = qui.id
    server.call(_until(lambda: ("lab", lab.id) in plugin.left))
    assert all(room == "lab" for room, _ in plugin.joined + plugin.left) and quiet_id not in dict(plugin.joined).values()


class Broken:
    def __init__(self, hang: bool) -> None:
        self.hang = hang

    @hookimpl
    async def roomchat_check_join(self, room: str, user: User) -> None:
        if self.hang:
            await asyncio.Event().wait()
        raise RuntimeError("the ban list is unreachable")


@pytest.mark.parametrize("hang", [False, True], ids=["raises", "hangs"])
def test_a_check_join_that_cannot_run_lets_nobody_in(hang: bool, caplog: pytest.LogCaptureFixture) -> None:
    config = {"server": {"handler_timeout": 0.3}, "rooms": {"lab": {"admit": ["guests"]}}}
    with RoomchatThread(config, plugins={"broken": Broken(hang)}) as server, caplog.at_level(logging.INFO):
        with pytest.raises(JoinRefused) as refused:
            ChatClient(server.url, room="lab", name="Ann")
        assert refused.value.code == "unavailable"
    failed = [r for r in caplog.records if r.getMessage() == "plugin_failed"]
    assert [(r.fields["plugin"], r.fields["hook"]) for r in failed] == [("broken", "roomchat_check_join")]


# -- through pluggy: wrappers and tracing ------------------------------------------------------


class Watcher:
    """A wrapper around every plugin's roomchat_check_message and roomchat_user_joined."""

    def __init__(self) -> None:
        self.wrapped: list[tuple[str, str]] = []

    @hookimpl(wrapper=True)
    def roomchat_check_message(self, ctx: MessageContext) -> Any:
        self.wrapped.append(("check", ctx.chat.plugin))
        return (yield)

    @hookimpl(wrapper=True)
    def roomchat_user_joined(self, chat: Chat, room: str, user: User) -> Any:
        self.wrapped.append(("joined", chat.plugin))
        return (yield)


class Checker:
    def __init__(self) -> None:
        self.checked = 0

    @hookimpl
    async def roomchat_check_message(self, ctx: MessageContext) -> None:
        self.checked += 1

    @hookimpl
    def roomchat_user_joined(self, room: str, user: User) -> None:
        pass


def test_a_wrapper_sees_each_plugins_call_and_tracing_sees_every_call() -> None:
    watcher, checker = Watcher(), Checker()
    config = {"rooms": {"lab": {"admit": ["guests"]}}}
    with RoomchatThread(config, plugins={"watcher": watcher, "checker": checker}) as server:
        traced: list[str] = []
        pm = server.chat.plugins.pm
        pm.trace.root.setwriter(traced.append)
        undo = pm.enable_tracing()
        try:
            with ChatClient(server.url, room="lab", name="Ann") as ann:
                assert ann.broadcast("text", "hello")["msg"] == "Message sent"
                server.call(_until(lambda: ("joined", "checker") in watcher.wrapped))
        finally:
            undo()
    checks = [plugin for what, plugin in watcher.wrapped if what == "check"]
    assert sorted(checks) == ["checker", "moderation", "moderator"]  # each plugin's call, wrapped
    assert checker.checked == 1
    assert any("roomchat_check_message" in line for line in traced)
    assert any("roomchat_user_joined" in line for line in traced)


# -- the Chat and Store members, on a running server -------------------------------------------


def test_every_chat_member_works_on_a_running_server(server: RoomchatThread) -> None:
    chat: Chat = probe(server).chat
    assert chat.clock is server.clock and chat.log.name == "roomchat.plugins.probe"
    assert chat.bot_ids == frozenset({900})
    assert chat.settings("lab").greeting == "hi, lab" and chat.settings("quiet").greeting == "hello"
    assert chat.room("lab").admit == ["guests", "users"]
    with pytest.raises(Refusal) as missing:
        chat.room("nowhere")
    assert missing.value.code == "room_not_found"
    with ChatClient(server.url, room="lab", token=TESS["token"]) as tess, \
            ChatClient(server.url, room="lab", name="Ann") as ann:
        members = server.call(chat.members("lab"))
        assert [m.name for m in members] == ["Polly", "Tess", "Ann"] and members[1].role is Role.TEACHER
        assert server.call(chat.member("lab", ann.id)).name == "Ann"
        assert server.call(chat.member("lab", 123)) is None
        data = server.call(chat.send("lab", "notice", {"n": 1}))
        assert data["from"] == 0 and "to" not in data
        assert ann.wait_message(lambda d: d["message"]["type"] == "notice")["id"] == data["id"]
        sent = server.call(chat.send("lab", "notice", Order(dish="pie"), to=ann.id))
        assert sent["to"] == ann.id and sent["message"]["value"] == {"dish": "pie", "count": 1}
        ann.wait_message(lambda d: d.get("to") == ann.id)
        tess.call("message", None)
        assert [m["id"] for m in tess.messages()] == [data["id"]]  # the one to Ann went to Ann only
        assert server.call(chat.disconnect("lab", ann.id)) == 1
        assert ann.wait_for("disconnect") == socketio.Client.reason.SERVER_DISCONNECT
        assert server.call(chat.disconnect("lab", ann.id)) == 0


def test_every_store_member_works_in_its_own_namespace(server: RoomchatThread) -> None:
    store = probe(server).chat.store
    other = server.chat.plugins.view("poll").store
    assert store.shared is False
    server.call(store.set("k", {"a": [1, 2]}))
    assert server.call(store.get("k")) == {"a": [1, 2]} and server.call(other.get("k")) is None
    assert server.call(server.chat.state.kv.get("probe:k")) == {"a": [1, 2]}
    assert server.call(store.get_many(["k", "none"])) == [{"a": [1, 2]}, None]
    assert server.call(store.delete("k")) is True and server.call(store.delete("k")) is False
    assert server.call(store.hash_set("h", "x", 1)) is True
    assert server.call(store.hash_set("h", "x", 2, only_if_new=True)) is False
    assert server.call(store.hash_set("h", "y", 3, ttl=5)) is True
    assert server.call(store.hash_get_all("h")) == {"x": 1, "y": 3}
    assert server.call(store.incr("n")) == 1 and server.call(store.incr("n", 41)) == 42


# -- plugins written for the old API ------------------------------------------------------------


def test_a_hook_that_still_takes_the_server_is_a_clear_start_up_error() -> None:
    class Old:
        @hookimpl
        def roomchat_startup(self, server: Any) -> None:
            pass

    with pytest.raises(ConfigError) as caught:
        RoomchatThread({}, plugins={"old": Old()}).start()
    text = str(caught.value)
    assert "plugin old" in text and "'server'" in text and "hooks get `chat`" in text


async def _until(condition: Any, timeout: float = 5.0) -> None:
    """Wait on the server's loop until ``condition()`` holds (what the server does after a reply)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
