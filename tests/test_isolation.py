"""A failing plugin hurts only the message it failed on.

A handler or check that raises refuses that message with plugin_error and
logs a traceback; one that hangs is cut off by server.handler_timeout with
plugin_error; a failing delivered or lifecycle hook is logged and the
message still goes out. Every time, the server, the sender's connection and
every other message go on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from roomchat import MessageContext, MessageType, hookimpl
from roomchat.testing import ChatClient

TIMEOUT = 0.5  # server.handler_timeout for these tests: short, so a hang ends soon


class Fragile:
    """Fails on purpose: 'boom' raises, 'hang' never finishes; anything else is fine."""

    def __init__(self) -> None:
        self.hanging = threading.Event()
        self.cancelled = threading.Event()

    async def handle(self, ctx: MessageContext) -> None:
        if ctx.value == "boom":
            raise RuntimeError("the fragile plugin broke")
        if ctx.value == "hang":
            self.hanging.set()
            try:
                await asyncio.Event().wait()  # nobody ever sets it
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        ctx.value = ctx.value.upper()

    @hookimpl
    def roomchat_register_message_types(self, register):
        register(MessageType("fragile", str, handlers=[self.handle]))


class FragileHooks:
    """All-types and lifecycle hooks that fail when told to."""

    def __init__(self, fail: set[str]) -> None:
        self.fail = fail
        self.delivered: list[str] = []

    def _maybe_fail(self, hook: str) -> None:
        if hook in self.fail:
            raise RuntimeError(f"{hook} broke")

    @hookimpl
    def roomchat_check_message(self, ctx: MessageContext) -> None:
        if ctx.value == "check-boom":
            raise ValueError("the check broke")

    @hookimpl
    async def roomchat_message_delivered(self, ctx: MessageContext, data: dict[str, Any]) -> None:
        if ctx.value == "delivered-boom":
            raise RuntimeError("delivered broke")
        if ctx.value == "delivered-hang":
            await asyncio.Event().wait()
        self.delivered.append(ctx.value)

    @hookimpl
    def roomchat_startup(self, chat) -> None:
        self._maybe_fail("startup")

    @hookimpl
    async def roomchat_user_joined(self, chat, room, user) -> None:
        if "joined-hang" in self.fail:
            await asyncio.Event().wait()
        self._maybe_fail("joined")

    @hookimpl
    def roomchat_user_left(self, chat, room, user) -> None:
        self._maybe_fail("left")

    @hookimpl
    def roomchat_shutdown(self, chat) -> None:
        self._maybe_fail("shutdown")


class Witness:
    """A second, healthy plugin: it must keep seeing everything."""

    def __init__(self) -> None:
        self.joined: list[int] = []
        self.delivered: list[Any] = []
        self.started = False

    @hookimpl(tryfirst=True)
    def roomchat_startup(self, chat) -> None:
        self.started = True

    @hookimpl(trylast=True)
    def roomchat_user_joined(self, chat, room, user) -> None:
        self.joined.append(user.id)

    @hookimpl(trylast=True)
    def roomchat_message_delivered(self, ctx: MessageContext, data: dict[str, Any]) -> None:
        self.delivered.append(ctx.value)


@pytest.fixture
def fragile() -> Fragile:
    return Fragile()


@pytest.fixture
def room(roomchat_start, fragile):
    return roomchat_start(plugins={"fragile": fragile}, config={"server": {"handler_timeout": TIMEOUT}})


def _tracebacks(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info and text in str(r.exc_info[1])]


def test_a_raising_handler_refuses_only_that_message(room, caplog) -> None:
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("fragile", "boom")
    assert ack.code == "plugin_error" and ack.msg
    assert _tracebacks(caplog, "the fragile plugin broke"), "the traceback is logged"
    assert ann.broadcast("fragile", "fine").ok  # the same sender, the same connection
    assert bob.broadcast("text", "still here").ok
    assert bob.receive(type="fragile").value == "FINE" and ann.receive(type="text").value == "still here"
    bob.sync()
    assert [m.value for m in bob.messages(type="fragile")] == ["FINE"]


def test_a_refusal_without_an_ack_callback_is_an_error_response(room) -> None:
    ann = room.join("Ann")
    ann.client.emit("broadcast-message", {"type": "fragile", "value": "boom"})
    error = ann.client.wait_for("error-response")
    assert error["data"] == {"code": "plugin_error", "event": "broadcast-message"}
    assert ann.client.connected


def test_a_hanging_handler_is_cut_off_and_others_go_on(room, fragile, caplog) -> None:
    ann, bob, cy = room.join("Ann"), room.join("Bob"), room.join("Cy")
    result: dict[str, Any] = {}
    hung = threading.Thread(target=lambda: result.update(ack=ann.broadcast("fragile", "hang")))
    hung.start()
    assert fragile.hanging.wait(5)
    assert bob.send(cy, "fragile", "meanwhile").ok  # another user's message goes through
    assert cy.receive(type="fragile").value == "MEANWHILE"
    hung.join(10)
    assert result["ack"].code == "plugin_error"
    assert fragile.cancelled.is_set(), "the handler was cancelled, not left running"
    assert any(getattr(r, "fields", {}).get("step") == "fragile" for r in caplog.records
               if r.getMessage() == "plugin_timeout")
    assert ann.broadcast("fragile", "after").ok
    assert cy.receive(type="fragile", sender=ann).value == "AFTER"


def test_failing_check_and_delivered_hooks_are_isolated(roomchat_start, caplog) -> None:
    hooks, witness = FragileHooks(set()), Witness()
    room = roomchat_start(plugins={"hooks": hooks, "witness": witness},
                          config={"server": {"handler_timeout": TIMEOUT}})
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.broadcast("text", "check-boom").code == "plugin_error"
    assert _tracebacks(caplog, "the check broke")
    for value in ("delivered-boom", "delivered-hang"):
        ack = ann.broadcast("text", value)
        assert ack.ok, "too late to refuse: the message is out"
        assert bob.receive(type="text", count=1 + ("hang" in value)).value == value
    assert _tracebacks(caplog, "delivered broke")
    assert any(r.getMessage() == "plugin_timeout" for r in caplog.records)
    assert witness.delivered == ["delivered-boom", "delivered-hang"]  # the healthy plugin still saw them
    assert ann.broadcast("text", "plain").ok
    assert hooks.delivered == ["plain"]


def test_failing_lifecycle_hooks_are_isolated(roomchat_start, caplog) -> None:
    hooks, witness = FragileHooks({"startup", "joined", "left", "shutdown"}), Witness()
    room = roomchat_start(plugins={"hooks": hooks, "witness": witness},
                          config={"server": {"handler_timeout": TIMEOUT}})
    assert witness.started, "the server started despite a failing startup hook"
    ann, bob = room.join("Ann"), room.join("Bob")
    room.wait_until(lambda: witness.joined == [ann.id, bob.id], "the healthy plugin saw both joins")
    bob.leave()
    ann.client.wait_for("user-disconnected")
    assert ann.broadcast("text", "alone").ok
    room.close()
    failed = {getattr(r, "fields", {}).get("hook") for r in caplog.records if r.getMessage() == "plugin_failed"}
    assert {"roomchat_startup", "roomchat_user_joined", "roomchat_user_left", "roomchat_shutdown"} <= failed


def test_a_hanging_join_hook_does_not_stop_the_room(roomchat_start, caplog) -> None:
    hooks, witness = FragileHooks({"joined-hang"}), Witness()
    room = roomchat_start(plugins={"hooks": hooks, "witness": witness},
                          config={"server": {"handler_timeout": TIMEOUT}})
    ann, bob = room.join("Ann"), room.join("Bob")
    assert ann.send(bob, "text", "hi").ok
    assert bob.receive(type="text").value == "hi"
    with ChatClient(room.url, room="test", name="Cy") as cy:
        assert cy.users[-1]["name"] == "Cy"
        room.wait_until(lambda: len(witness.joined) == 3, "every join hook was cut off")
        assert cy.connected
    timeouts = [r for r in caplog.records if r.getMessage() == "plugin_timeout"]
    assert [r.fields["hook"] for r in timeouts] == ["roomchat_user_joined"] * 3
