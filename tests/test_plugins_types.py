"""Message types registered by plugins, through a real server and real clients.

roomchat_register_message_types and the per-type pipeline: validate
(validation_failed with field-level errors), transform, answer as the room
(ID 0) to the sender or to everyone, consume; roles and ways of sending;
dispatch only by the message's own type.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from roomchat import ConfigError, MessageContext, MessageType, Role, hookimpl
from roomchat.testing import RoomchatThread


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dish: Annotated[str, Field(min_length=1, max_length=20)]
    count: Annotated[int, Field(ge=1, le=9)] = 1


class Kitchen:
    """A plugin with one type per pipeline step, recording what its handlers saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def shout(self, ctx: MessageContext) -> None:
        order: Order = ctx.value  # the validated model: no second validation
        self.seen.append(("shout", ctx.wire_value))
        ctx.value = order.model_copy(update={"dish": order.dish.upper()})  # recipients get the new model

    async def answer(self, ctx: MessageContext) -> None:
        await asyncio.sleep(0)  # a coroutine handler is awaited
        await ctx.reply({"ready": ctx.value.dish}, type="order-ready")

    async def announce(self, ctx: MessageContext) -> None:
        await ctx.send_to_room({"served": ctx.value.dish, "to": ctx.sender.id}, type="served")
        ctx.consume()

    def never(self, ctx: MessageContext) -> None:
        self.seen.append(("never", ctx.wire_value))  # after consume(), nothing else runs

    def no_soup(self, ctx: MessageContext) -> None:
        if ctx.value.dish == "soup":
            ctx.invalid("soup is off the menu today", loc=("dish",))

    @hookimpl
    def roomchat_register_message_types(self, register):
        register(MessageType("order", Order, handlers=[self.no_soup, self.shout, self.answer],
                             description="Order a dish"))
        register(MessageType("serve", Order, handlers=[self.announce, self.never]))
        register(MessageType("staff-note", str, roles=[Role.TEACHER, Role.ADMIN], broadcast=False))
        register(MessageType("count", Annotated[int, Field(ge=0)]))


@pytest.fixture
def kitchen() -> Kitchen:
    return Kitchen()


@pytest.fixture
def room(roomchat_start, kitchen):
    return roomchat_start(plugins={"kitchen": kitchen})


def test_a_valid_value_is_delivered_normalised(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("order", {"dish": "tea"})
    assert ack.ok
    got = bob.receive(type="order")
    assert got.from_id == ann.id and got.sender is not None and got.sender.name == "Ann"
    # the model's default filled in, and the transform step upper-cased the dish
    assert got.value == {"dish": "TEA", "count": 1}
    assert ack.value == got.value


def test_an_invalid_value_is_refused_with_field_level_errors(room, kitchen) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("order", {"dish": "", "count": 12, "extra": True})
    assert ack.code == "validation_failed"
    by_field = {tuple(e["loc"]): e for e in ack.errors}
    assert set(by_field) == {("dish",), ("count",), ("extra",)}
    assert by_field[("count",)]["type"] == "less_than_equal"
    assert all(e["msg"] for e in ack.errors)
    bob.sync()
    assert bob.messages(type="order") == []
    assert kitchen.seen == []  # handlers never saw it


def test_a_handler_refuses_with_field_level_errors(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.send(bob, "order", {"dish": "soup"})
    assert ack.code == "validation_failed"
    assert ack.errors == [{"loc": ["dish"], "msg": "soup is off the menu today", "type": "value_error"}]
    bob.sync()
    assert bob.messages() == []


def test_a_handler_answers_the_sender_as_the_room(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.send(bob, "order", {"dish": "cake", "count": 2}).ok
    answer = ann.receive(type="order-ready")
    assert answer.from_room and answer.value == {"ready": "CAKE"}
    assert bob.receive(type="order").value == {"dish": "CAKE", "count": 2}
    bob.sync()
    assert bob.messages(type="order-ready") == []  # the answer went to the sender only


def test_a_consumed_message_reaches_nobody_and_the_room_answers_everyone(room, kitchen) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("serve", {"dish": "pie"})
    assert ack.ok
    for user in (ann, bob):
        served = user.receive(type="served")
        assert served.from_room and served.value == {"served": "pie", "to": ann.id}
    bob.sync()
    assert bob.messages(type="serve") == []
    assert ("never", {"dish": "pie", "count": 1}) not in kitchen.seen


def test_roles_and_ways_of_sending_are_enforced(room) -> None:
    student, teacher = room.join("Sam"), room.join("Tess", role="TEACHER")
    assert student.send(teacher, "staff-note", "hi").code == "forbidden"
    assert teacher.broadcast("staff-note", "hi").code == "forbidden"
    assert teacher.send(student, "staff-note", "see me").ok
    assert student.receive(type="staff-note").value == "see me"


def test_plain_types_validate_too(room) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("count", -1).code == "validation_failed"
    assert ann.broadcast("count", "7").ok  # lax mode: a numeric string is an int
    assert bob.receive(type="count").value == 7


def test_unknown_types_pass_in_open_rooms_and_are_refused_in_known_rooms(roomchat_start, kitchen) -> None:
    room = roomchat_start(plugins={"kitchen": kitchen},
                          config={"rooms": {"strict": {"admit": ["guests"], "message_types": "known"}}})
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("whatever", {"any": ["thing"]}).ok
    assert bob.receive(type="whatever").value == {"any": ["thing"]}
    from roomchat.testing import ChatClient

    with ChatClient(room.url, room="strict", name="Cy") as cy:
        assert cy.broadcast("whatever", 1)["data"]["code"] == "unknown_type"
        assert cy.broadcast("count", 1)["msg"] == "Message sent"


def test_a_type_disabled_in_a_room_is_not_handled_there(roomchat_start, kitchen) -> None:
    room = roomchat_start(plugins={"kitchen": kitchen}, config={"rooms": {
        "plain": {"admit": ["guests"], "plugins": {"enabled": []}},
        "closed": {"admit": ["guests"], "message_types": "known", "plugins": {"enabled": []}},
    }})
    from roomchat.testing import ChatClient

    with ChatClient(room.url, room="plain", name="Ann") as ann, ChatClient(room.url, room="plain", name="Bob") as bob:
        assert ann.broadcast("order", {"dish": "", "whatever": 1})["msg"] == "Message sent"
        assert bob.wait_message()["message"]["value"] == {"dish": "", "whatever": 1}
    with ChatClient(room.url, room="closed", name="Cy") as cy:
        assert cy.broadcast("order", {"dish": "tea"})["data"]["code"] == "unknown_type"
    assert kitchen.seen == []


def test_two_plugins_registering_one_type_stop_start_up_naming_both() -> None:
    class Other:
        @hookimpl
        def roomchat_register_message_types(self, register):
            register(MessageType("order", str))

    with pytest.raises(ConfigError) as caught:
        RoomchatThread({}, plugins={"kitchen": Kitchen(), "other": Other()}).start()
    assert "'order'" in str(caught.value) and "kitchen" in str(caught.value) and "other" in str(caught.value)


def test_registering_something_that_is_not_a_message_type_stops_start_up() -> None:
    class Wrong:
        @hookimpl
        def roomchat_register_message_types(self, register):
            register({"name": "order"})

    with pytest.raises(ConfigError, match="roomchat.MessageType"):
        RoomchatThread({}, plugins={"wrong": Wrong()}).start()


def test_a_plugin_name_taken_stops_start_up_saying_what_to_do(kitchen) -> None:
    with pytest.raises(ConfigError, match=r"a plugin called 'text' is already registered \(built-in\); give this one"):
        RoomchatThread({}, plugins={"text": kitchen}).start()
    with pytest.raises(ConfigError, match="already registered as 'kitchen'"):
        RoomchatThread({}, plugins={"kitchen": kitchen, "kitchen2": kitchen}).start()
