"""Hostile clients at the transport (issue 9): raw Socket.IO and Engine.IO frames against a real server.

A client event may never reach a handler python-socketio keeps for its own
lifecycle: ``42["disconnect"]`` used to announce the sender as gone while it
kept listening, and ``42["connect", ...]`` added guests who never left.
Frames python-socketio or python-engineio cannot read (JSON nested 10,000
deep, a binary header with no attachments, an empty WebSocket frame) are
refused or dropped with one log line, and the connection goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
import websocket
from chatkit import STU, TESS, Joiner, names, sync, token_of, wait_for
from rawio import RawClient

from roomchat.testing import ChatClient, RoomchatProcess
from roomchat.transport.engine import MAX_JSON_DEPTH, MAX_POST_PACKETS

RAW_TRANSPORTS = ["websocket", "polling"]
RESERVED = ["connect", "disconnect", "connect_error", "disconnecting"]
TEXT = {"type": "text", "value": "still here"}


@pytest.fixture(params=RAW_TRANSPORTS)
def raw_transport(request: pytest.FixtureRequest) -> str:
    """Each raw attack runs over a WebSocket and over long-polling."""
    return request.param


@pytest.fixture
def raw(chat_server: RoomchatProcess, join: Joiner, raw_transport: str) -> Iterator[Callable[[], RawClient]]:
    """``raw()`` opens a RawClient on the test's transport; all are closed before ``join``'s clients."""
    opened: list[RawClient] = []

    def open_one() -> RawClient:
        client = RawClient(chat_server.url, raw_transport)  # type: ignore[arg-type]
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        client.close()


def refused(payload: dict[str, object]) -> str:
    """The code of a refusal (an ack or an error-response)."""
    data = payload["data"]
    assert isinstance(data, dict)
    return str(data["code"])


def user_names(users: list[dict[str, object]]) -> list[object]:
    """The names in a user list."""
    return [u["name"] for u in users]


# -- reserved event names (critical) ------------------------------------------------------------


@pytest.mark.parametrize("name", RESERVED)
def test_a_reserved_event_name_is_refused_with_and_without_an_ack(room: str, join: Joiner, raw: Callable[[], RawClient],
                                                                  name: str) -> None:
    watcher = join(room, name="Watcher")
    mallory = raw()
    mallory.join(room, name="Mallory")
    mallory.send(f"42{json.dumps([name])}")
    assert mallory.wait_event("error-response")["data"] == {"code": "invalid_message", "event": name}
    ack = mallory.call(name, {}, {"room": room, "name": "g"})
    assert refused(ack) == "invalid_message" and name in ack["msg"]
    mallory.call("message", None)  # a round trip: everything above has been handled
    sync(watcher)
    assert names(watcher.events).count("user-connected") == 1  # Mallory's own join only
    assert "user-disconnected" not in names(watcher.events)


def test_a_client_disconnect_event_does_not_make_an_invisible_listener(room: str, join: Joiner,
                                                                       raw: Callable[[], RawClient]) -> None:
    watcher = join(room, name="Watcher")
    mallory = raw()
    mallory.join(room, name="Mallory")
    watcher.wait_for("user-connected")
    mallory.send('42["disconnect"]')
    mallory.send('42["disconnect","client namespace disconnect"]')
    assert refused(mallory.wait_event("error-response", count=2)) == "invalid_message"
    sync(watcher)
    assert "user-disconnected" not in names(watcher.events)  # nobody was told Mallory left
    newcomer = join(room, name="Newcomer")
    assert user_names(newcomer.users) == ["Watcher", "Mallory", "Newcomer"]  # and the lists still show her
    assert mallory.wait_event("user-connected")["data"]["name"] == "Newcomer"
    assert watcher.broadcast("text", "hello")["msg"] == "Message sent"
    assert mallory.wait_event("message")["data"]["message"]["value"] == "hello"
    assert mallory.call("broadcast-message", TEXT)["msg"] == "Message sent"


def test_a_student_with_a_token_cannot_leave_invisibly_either(room: str, join: Joiner,
                                                              raw: Callable[[], RawClient]) -> None:
    teacher = join(room, token=token_of(TESS))
    student = raw()
    student.join(room, token=token_of(STU))
    teacher.wait_for("user-connected")
    student.send('42["disconnect"]')
    assert refused(student.wait_event("error-response")) == "invalid_message"
    sync(teacher)
    assert "user-disconnected" not in names(teacher.events)
    assert [u["ID"] for u in join(room, name="Newcomer").users][:2] == [TESS, STU]


def test_a_client_connect_event_adds_no_guest_and_no_second_room(room: str, join: Joiner,
                                                                 raw: Callable[[], RawClient]) -> None:
    other = f"{room}-other"
    watcher = join(room, name="Watcher")
    mallory = raw()
    mallory.join(room, name="Mallory")
    for i in range(20):
        mallory.send(f'42["connect",{{}},{{"room":"{room}","name":"g{i}"}}]')
    mallory.send(f'42["connect",{{"REMOTE_ADDR":"10.6.6.6"}},{{"room":"{other}","name":"g"}}]')
    assert refused(mallory.wait_event("error-response", count=21)) == "invalid_message"
    sync(watcher)
    assert names(watcher.events).count("user-connected") == 1  # Mallory only: no guest g0..g19
    assert user_names(join(room, name="Newcomer").users) == ["Watcher", "Mallory", "Newcomer"]
    elsewhere = join(other, name="Elsewhere")
    assert user_names(elsewhere.users) == ["Elsewhere"]  # Mallory did not enter a second room
    assert elsewhere.broadcast("text", "not for Mallory")["msg"] == "Message sent"
    mallory.call("message", None)
    assert [m["data"]["message"]["value"] for m in mallory.of("message")] == []


def test_a_second_connect_packet_adds_no_guest(room: str, join: Joiner, raw: Callable[[], RawClient]) -> None:
    watcher = join(room, name="Watcher")
    mallory = raw()
    mallory.join(room, name="Mallory")
    for i in range(5):
        mallory.send(f'40{{"room":"{room}","name":"again{i}"}}')
    mallory.call("message", None)
    sync(watcher)
    assert names(watcher.events).count("user-connected") == 1
    assert user_names(join(room, name="Newcomer").users) == ["Watcher", "Mallory", "Newcomer"]


def test_only_the_lifecycle_events_are_registered_with_python_socketio() -> None:
    """The audit, kept: client events go through SocketServer.client_event, never sio.on."""
    from roomchat.app import ChatServer
    from roomchat.config import Config

    chat = ChatServer(Config())
    assert set(chat.sio.handlers["/"]) == {"connect", "disconnect"}
    assert set(chat.sio.client_events) == {"message", "broadcast-message", "get-history", "*"}
    with pytest.raises(ValueError, match="client_event"):
        chat.sio.on("get-history", lambda *a: None)


# -- unreadable frames (low) ------------------------------------------------------------------


def _still_works(sender: RawClient, receiver: ChatClient) -> None:
    """A valid emit after the attack is delivered and acked."""
    assert sender.call("broadcast-message", TEXT)["msg"] == "Message sent"
    assert receiver.wait_message()["message"]["value"] == "still here"


def test_json_nested_up_to_the_limit_is_delivered(room: str, join: Joiner, raw: Callable[[], RawClient]) -> None:
    bob = join(room, name="Bob")
    mallory = raw()
    mallory.join(room, name="Mallory")
    deepest = MAX_JSON_DEPTH - 2  # inside the emit's array and the message object
    nested = "[" * deepest + "]" * deepest
    assert mallory.send_with_ack(f'["broadcast-message",{{"type":"x-deep","value":{nested}}}]')["msg"] \
        == "Message sent"
    assert json.dumps(bob.wait_message()["message"]["value"], separators=(",", ":")) == nested
    one_more = "[" + nested + "]"
    ack = mallory.send_with_ack(f'["broadcast-message",{{"type":"x-deep","value":{one_more}}}]')
    assert refused(ack) == "invalid_message" and str(MAX_JSON_DEPTH) in ack["msg"]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 1_000, 10_000, 100_000])
def test_json_nested_deep_with_an_ack_is_answered(room: str, join: Joiner, raw: Callable[[], RawClient],
                                                  chat_server: RoomchatProcess, depth: int) -> None:
    bob = join(room, name="Bob")
    mallory = raw()
    mallory.join(room, name="Mallory")
    nested = "[" * depth + "]" * depth
    assert refused(mallory.send_with_ack(f'["broadcast-message",{{"type":"text","value":{nested}}}]')) \
        == "invalid_message"
    assert refused(mallory.send_with_ack(f'["message",{nested},1]')) == "invalid_message"
    mallory.send(f'42["broadcast-message",{nested}]')
    assert mallory.wait_event("error-response")["data"] == {"code": "invalid_message", "event": "broadcast-message"}
    _still_works(mallory, bob)
    assert "RecursionError" not in chat_server.log()


def test_json_nested_deep_at_the_engineio_level_is_dropped(room: str, join: Joiner, raw: Callable[[], RawClient],
                                                           chat_server: RoomchatProcess) -> None:
    bob = join(room, name="Bob")
    mallory = raw()
    mallory.join(room, name="Mallory")
    before = chat_server.log().count("event=bad_frame")
    mallory.send("4" + "[" * 10_000)
    wait_for(lambda: chat_server.log().count("event=bad_frame") > before, "a bad_frame line")
    _still_works(mallory, bob)
    assert "Traceback" not in chat_server.log()


@pytest.mark.parametrize("header", ["46", "45", "451-", '451-["broadcast-message",{"_placeholder":true,"num":0}]',
                                    '45["broadcast-message",{"type":"text","value":1}]', "46-", "461-[]"])
def test_a_binary_header_without_attachments_does_not_break_later_emits(
        room: str, join: Joiner, raw: Callable[[], RawClient], chat_server: RoomchatProcess, header: str) -> None:
    bob = join(room, name="Bob")
    mallory = raw()
    mallory.join(room, name="Mallory")
    mallory.send(header)
    _still_works(mallory, bob)
    assert mallory.call("message", TEXT, bob.id)["msg"] == "Message sent"
    assert "Traceback" not in chat_server.log()


def test_a_binary_emit_with_an_ack_is_refused_at_once(room: str, join: Joiner, raw: Callable[[], RawClient]) -> None:
    bob = join(room, name="Bob")
    mallory = raw()
    mallory.join(room, name="Mallory")
    mallory.send('451-7["broadcast-message",{"type":"text","value":{"_placeholder":true,"num":0}}]')
    assert refused(mallory.wait_ack(7)) == "invalid_message"  # answered without waiting for the attachment
    mallory.send(b"\x00\x01 the attachment, late")
    _still_works(mallory, bob)
    mallory.call("message", None)
    sync(bob)
    assert [m["message"]["value"] for m in bob.messages()] == ["still here"]  # the binary emit reached nobody


def test_an_empty_websocket_frame_is_ignored(room: str, join: Joiner, chat_server: RoomchatProcess) -> None:
    bob = join(room, name="Bob")
    with RawClient(chat_server.url, "websocket") as mallory:
        mallory.join(room, name="Mallory")
        before = chat_server.log().count("event=bad_frame")
        for frame in ["", "x", "٣", "b!!not-base64"]:
            mallory.send_ws_frame(frame)
        mallory.send_ws_frame(b"", websocket.ABNF.OPCODE_BINARY)  # an empty binary frame: no Socket.IO packet
        wait_for(lambda: chat_server.log().count("event=bad_frame") >= before + 4, "bad_frame lines")
        _still_works(mallory, bob)
        assert mallory.closed is None
    assert "Traceback" not in chat_server.log()


def test_unreadable_packets_in_a_polling_post_are_dropped_alone(room: str, join: Joiner,
                                                                chat_server: RoomchatProcess) -> None:
    bob = join(room, name="Bob")
    with RawClient(chat_server.url, "polling") as mallory:
        mallory.join(room, name="Mallory")
        junk = ["", "x", "4" + "[" * 10_000, '42["broadcast-message",{"type":"text","value":"still here"}]']
        reply = mallory.post("\x1e".join(junk).encode())
        assert reply.status_code == 200
        assert bob.wait_message()["message"]["value"] == "still here"  # the good packet of the POST went through
        assert mallory.call("message", None)["data"]["code"] == "invalid_message"
    assert "Traceback" not in chat_server.log()


@pytest.mark.parametrize("body", ["flood", "too long"])
def test_an_oversized_polling_post_closes_only_that_connection(room: str, join: Joiner, chat_server: RoomchatProcess,
                                                               body: str) -> None:
    """Past 1000 packets or the frame limit, a POST is refused (400) at once and only its sender is closed."""
    bob = join(room, name="Bob")
    with RawClient(chat_server.url, "polling", timeout=10) as mallory:  # no GET pending: nothing collects its queue
        mallory.join(room, name="Mallory")
        bob.wait_for("user-connected")
        packets = ['42["message",null]'] * (MAX_POST_PACKETS + 1) if body == "flood" else ["4" + "x" * 1_000_001]
        assert mallory.post("\x1e".join(packets).encode()).status_code == 400
        assert bob.wait_for("user-disconnected")["data"]["name"] == "Mallory"
        assert mallory.post(b'42["message",null]').status_code == 400  # that connection is gone
    assert bob.broadcast("text", "still here")["msg"] == "Message sent"
