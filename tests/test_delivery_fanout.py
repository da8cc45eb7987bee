"""Delivery's fan-out (roomchat.transport.fanout.FanoutManager) through a real server and real clients.

Healthy connections get a packet straight into their send queue; a connection
whose pings have timed out goes the stock python-socketio way, which closes it.
Either way every other recipient gets the message once and the sender's ack is ok.
The server's packets are JSON only (roomchat.transport.socketio.JsonPacket).
"""

from __future__ import annotations

import time
from typing import Any

from roomchat import MessageContext, MessageType, hookimpl
from roomchat.transport.fanout import FanoutManager


def _eio_socket(room: Any, user: Any) -> Any:
    chat = room.chat
    eio_sid = chat.sio.manager.eio_sid_from_sid(user.client.sio.get_sid(), "/")
    return chat.sio.eio.sockets[eio_sid]


def test_the_server_fans_out_with_its_own_manager(roomchat_start) -> None:
    room = roomchat_start()
    assert isinstance(room.chat.sio.manager, FanoutManager)


def test_a_broadcast_reaches_each_connection_once(roomchat_start) -> None:
    room = roomchat_start()
    ann, bob, cat = room.join("Ann"), room.join("Bob"), room.join("Cat")
    for n in range(3):
        assert ann.broadcast("text", f"hello {n}").ok
    for user in (bob, cat):
        user.receive(type="text", count=3)
        user.sync()
        assert [m.value for m in user.messages(type="text")] == ["hello 0", "hello 1", "hello 2"]
    ann.sync()
    assert ann.messages(type="text") == []  # not to the sender


def test_a_recipient_whose_pings_timed_out_is_closed_and_the_others_still_get_the_message(roomchat_start) -> None:
    room = roomchat_start()
    ann, bob, cat = room.join("Ann"), room.join("Bob"), room.join("Cat")
    socket = _eio_socket(room, cat)

    async def miss_pings() -> None:  # as if Cat had not answered a ping for a long time
        socket.last_ping = time.time() - 10 * room.chat.sio.eio.ping_timeout

    room.server.call(miss_pings())
    assert ann.broadcast("text", "still there?").ok
    assert bob.receive(type="text").value == "still there?"
    gone = ann.client.wait_for("user-disconnected", lambda payload: payload["data"]["ID"] == cat.id)
    assert gone is not None
    assert socket.closed
    assert ann.broadcast("text", "after").ok  # the room goes on
    assert bob.receive(type="text", count=2).value == "after"


class Bytes:
    """A plugin that (wrongly) puts bytes in the value its type delivers."""

    @hookimpl
    def roomchat_register_message_types(self, register):
        register(MessageType("x-bytes", handlers=[self.to_bytes]))

    def to_bytes(self, ctx: MessageContext) -> None:
        ctx.value = b"\x00\x01"


def test_the_server_sends_json_only_so_bytes_from_a_plugin_refuse_that_message(roomchat_start) -> None:
    room = roomchat_start(plugins={"bytes": Bytes()})
    ann, bob = room.join("Ann"), room.join("Bob")
    ack = ann.broadcast("x-bytes", "anything")
    assert not ack.ok and ack.code == "plugin_error"
    assert ann.broadcast("text", "next").ok
    assert bob.receive(type="text").value == "next"
    assert bob.messages(type="x-bytes") == []
