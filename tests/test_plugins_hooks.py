"""The hooks beside message types, through a real server and real clients.

roomchat_check_message and roomchat_message_delivered (every message),
roomchat_settings_model, roomchat_startup / roomchat_shutdown,
roomchat_user_joined / roomchat_user_left, roomchat_resolve_room and
roomchat_register_bots.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from roomchat import Chat, ConfigError, MessageContext, MessageType, Refusal, RoomConfig, hookimpl
from roomchat.testing import ChatClient, JoinRefused, RoomchatThread


class CensorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: list[str] = ["darn"]
    mask: str = "****"


class Censor:
    """An all-types plugin: refuses muted users, redacts words, records every delivery."""

    def __init__(self) -> None:
        self.checked: list[tuple[str, Any, int | None, str]] = []
        self.delivered: list[tuple[str | None, dict[str, Any]]] = []
        self.order: list[str] = []

    @hookimpl
    def roomchat_settings_model(self):
        return CensorSettings

    @hookimpl
    async def roomchat_check_message(self, ctx: MessageContext) -> None:
        self.checked.append((ctx.type, ctx.value, ctx.target, ctx.sender.name))
        self.order.append("check")
        if ctx.sender.name == "Mute":
            ctx.refuse("muted", "You are muted here")
        if isinstance(ctx.value, str):
            for word in ctx.settings.words:
                ctx.value = ctx.value.replace(word, ctx.settings.mask)

    @hookimpl
    def roomchat_message_delivered(self, ctx: MessageContext, data: dict[str, Any]) -> None:
        self.delivered.append((ctx.id, data))

    @hookimpl
    def roomchat_register_message_types(self, register):
        def handler(ctx: MessageContext) -> None:
            self.order.append("handler")
            if ctx.value == "eat":
                ctx.consume()

        register(MessageType("note", str, handlers=[handler]))


@pytest.fixture
def censor() -> Censor:
    return Censor()


def test_check_message_sees_every_type_validated_before_the_handlers(roomchat_start, censor) -> None:
    room = roomchat_start(plugins={"censor": censor})
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.send(bob, "note", "hello").ok
    assert ann.broadcast("no-such-plugin", {"x": 1}).ok
    assert censor.checked == [("note", "hello", bob.id, "Ann"), ("no-such-plugin", {"x": 1}, None, "Ann")]
    assert censor.order == ["check", "handler", "check"]


def test_check_message_refuses_and_redacts(roomchat_start, censor) -> None:
    room = roomchat_start(plugins={"censor": censor})
    mute, ann, bob = room.join("Mute"), room.join("Ann"), room.join("Bob")
    ack = mute.broadcast("note", "let me speak")
    assert ack.code == "muted" and ack.msg == "You are muted here"
    assert ann.broadcast("note", "darn it").ok
    assert bob.receive(type="note").value == "**** it"
    bob.sync()
    assert [m.value for m in bob.messages()] == ["**** it"]
    assert censor.order == ["check", "check", "handler"]  # the muted message never reached the handler


def test_settings_come_from_the_model_with_per_room_overrides(roomchat_start, censor) -> None:
    room = roomchat_start(
        plugins={"censor": censor},
        settings={"censor": {"mask": "#"}},
        config={"plugins": {"settings": {"censor": {"words": ["heck"]}}},
                "rooms": {"other": {"admit": ["guests"]}}},
    )
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("note", "heck darn").ok
    assert bob.receive(type="note").value == "# darn"  # global words, this room's mask
    with ChatClient(room.url, room="other", name="Cy") as cy, ChatClient(room.url, room="other", name="Di") as di:
        assert cy.broadcast("note", "heck")["msg"] == "Message sent"
        assert di.wait_message()["message"]["value"] == "****"  # global words, default mask


@pytest.mark.parametrize(("config", "key"), [
    ({"rooms": {"test": {"plugins": {"settings": {"censor": {"mask": 5}}}}}},
     "rooms.test.plugins.settings.censor.mask"),
    ({"plugins": {"settings": {"censor": {"wrods": []}}}}, "plugins.settings.censor.wrods: unknown setting"),
    ({"plugins": {"settings": {"sensor": {}}}}, "plugins.settings.sensor: no plugin is called 'sensor'"),
    ({"rooms": {"test": {"plugins": {"enabled": ["censr"]}}}}, "rooms.test.plugins.enabled: no plugin is called"),
])
def test_bad_settings_stop_start_up_naming_the_key(censor, config, key) -> None:
    with pytest.raises(ConfigError) as caught:
        RoomchatThread(config, plugins={"censor": censor}).start()
    assert key in str(caught.value)


def test_delivered_sees_what_recipients_got_and_not_refused_or_consumed(roomchat_start, censor) -> None:
    room = roomchat_start(plugins={"censor": censor})
    ann, bob, mute = room.join("Ann"), room.join("Bob"), room.join("Mute")
    assert ann.send(bob, "note", "one").ok
    got = bob.receive(type="note")
    assert mute.broadcast("note", "refused").code == "muted"
    assert ann.broadcast("note", "eat").ok  # consumed by the note handler
    assert censor.delivered == [(got.id, got.data)]


def test_a_plugin_disabled_in_a_room_sees_nothing_there(roomchat_start, censor) -> None:
    room = roomchat_start(plugins={"censor": censor},
                          config={"rooms": {"quiet": {"admit": ["guests"], "plugins": {"enabled": ["default_rooms"]}}}})
    with ChatClient(room.url, room="quiet", name="Mute") as mute, ChatClient(room.url, room="quiet", name="B") as b:
        assert mute.broadcast("note", "darn")["msg"] == "Message sent"
        assert b.wait_message()["message"]["value"] == "darn"
    assert censor.checked == [] and censor.delivered == []


class Lifecycle:
    """Records lifecycle hooks, and greets and sees off users as the room."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    async def roomchat_startup(self, chat: Chat) -> None:
        self.calls.append(("startup", chat))

    @hookimpl
    def roomchat_shutdown(self, chat: Chat) -> None:
        self.calls.append(("shutdown", chat))

    @hookimpl
    async def roomchat_user_joined(self, chat: Chat, room: str, user) -> None:
        self.calls.append(("joined", (room, user.id, user.role.value)))
        await chat.send(room, "hello", {"welcome": user.name})

    @hookimpl
    async def roomchat_user_left(self, chat: Chat, room: str, user) -> None:
        self.calls.append(("left", (room, user.id)))
        await chat.send(room, "bye", {"left": user.name})


KIM = {"ID": 5, "name": "Kim", "role": "TEACHER", "token": "kim-token-1234"}


def test_startup_and_shutdown_are_called_with_the_plugins_own_chat(roomchat_start) -> None:
    plugin = Lifecycle()
    room = roomchat_start(plugins={"life": plugin})
    chat = plugin.calls[0][1]
    assert plugin.calls == [("startup", chat)] and chat.plugin == "life"
    room.join("Ann").broadcast("x", 1)
    room.close()
    assert plugin.calls[-1] == ("shutdown", chat)
    assert [name for name, _ in plugin.calls] == ["startup", "joined", "left", "shutdown"]


def test_user_joined_and_left_once_per_user_after_the_room_was_told(roomchat_start) -> None:
    plugin = Lifecycle()
    room = roomchat_start(plugins={"life": plugin}, config={"users": [KIM]})
    ann = room.join("Ann")
    kim1 = ChatClient(room.url, room="test", token=KIM["token"])
    hello = kim1.wait_message(lambda d: d["message"]["type"] == "hello")
    assert hello["from"] == 0 and hello["message"]["value"] == {"welcome": "Kim"}
    ann.receive(type="hello", count=2)
    names = [n for n, _ in ann.client.events if n in ("user-connected", "message")]
    assert names == ["message", "user-connected", "message"]  # Ann's own hello, then Kim joined, then Kim's hello
    kim2 = ChatClient(room.url, room="test", token=KIM["token"])  # a second tab: not a new join
    kim1.close()
    room.wait_until(lambda: room.chat.connection_count() == 2, "the server dropped Kim's first connection")
    kim2.call("message", None)
    assert [c for c in plugin.calls if c[0] in ("joined", "left")] == [
        ("joined", ("test", ann.id, "STUDENT")), ("joined", ("test", 5, "TEACHER"))]
    kim2.close()
    bye = ann.receive(type="bye")
    assert bye.from_room and bye.value == {"left": "Kim"}
    events = [n for n, d in ann.client.events if n == "user-disconnected" or (n == "message" and d["data"]["message"]["type"] == "bye")]
    assert events == ["user-disconnected", "message"]
    assert plugin.calls[-1] == ("left", ("test", 5))


class Rooms:
    """Serves rooms named db-* from 'elsewhere'; refuses rooms named banned-*."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    @hookimpl
    def roomchat_resolve_room(self, chat: Chat, name: str) -> RoomConfig | None:
        self.asked.append(name)
        if name.startswith("banned-"):
            raise Refusal("room_not_found", "That room was closed")
        if name.startswith("db-"):
            return RoomConfig(title=name, admit=["guests"], max_users=1)
        return None


def test_resolve_room_serves_rooms_first_and_falls_back_to_the_config(roomchat_start) -> None:
    plugin = Rooms()
    room = roomchat_start(plugins={"rooms": plugin})
    with ChatClient(room.url, room="db-maths", name="Ann") as ann:
        assert ann.me["name"] == "Ann"
        with pytest.raises(JoinRefused) as full:
            ChatClient(room.url, room="db-maths", name="Bob")
        assert full.value.code == "room_full"  # the plugin's RoomConfig is the one in force
    assert room.join("Cy").name == "Cy"  # "test" comes from the config file
    for name, code in [("banned-1", "room_not_found"), ("nowhere", "room_not_found")]:
        with pytest.raises(JoinRefused) as refused:
            ChatClient(room.url, room=name, name="Di")
        assert refused.value.code == code
    assert plugin.asked[:2] == ["db-maths", "db-maths"] and "test" in plugin.asked


def test_resolve_room_first_answer_wins() -> None:
    class Everything:
        @hookimpl(tryfirst=True)
        def roomchat_resolve_room(self, name: str) -> RoomConfig:
            return RoomConfig(admit=["guests"], title="everything")

    with RoomchatThread({}, plugins={"rooms": Rooms(), "all": Everything()}) as server:
        with ChatClient(server.url, room="banned-2", name="Ann") as ann:
            assert ann.me["name"] == "Ann"


def test_register_bots_registers_a_bot_kind_the_config_runs(roomchat_start) -> None:
    from roomchat.bot import Bot, BotRoom, Incoming

    class Parrot(Bot):
        kind = "test-parrot"

        async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
            await room.send(msg.from_id, "text", f"{msg.value}! {msg.value}!")

    class BotPlugin:
        @hookimpl
        def roomchat_register_bots(self, register):
            register(Parrot)

    bot = {"kind": "test-parrot", "ID": 77, "name": "Polly", "rooms": ["test"]}
    room = roomchat_start(plugins={"botplug": BotPlugin()}, config={"bots": [bot]})
    assert room.chat.plugins.bots["test-parrot"] is Parrot
    assert room.chat.plugins.info["botplug"].bots == ["test-parrot"]
    ann = room.join("Ann")
    room.wait_until(lambda: any(u["ID"] == 77 for u in ann.client.users)
                    or any(d["data"]["ID"] == 77 for d in ann.client.received("user-connected")), "Polly joined")
    assert ann.send(77, "text", "cracker").ok
    answer = ann.receive(type="text", sender=77)
    assert answer.value == "cracker! cracker!"
    with pytest.raises(ConfigError, match="'test-parrot' is registered twice"):
        RoomchatThread({}, plugins={"a": BotPlugin(), "b": BotPlugin()}).start()
