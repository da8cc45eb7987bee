"""A first end-to-end check: two guests in a room exchange a message."""

from roomchat.testing import ChatClient, RoomchatProcess


def test_two_guests_exchange_a_message() -> None:
    with RoomchatProcess({"server": {"create_rooms": True}}) as server:
        with ChatClient(server.url, room="r", name="Ann") as ann, ChatClient(server.url, room="r", name="Bob") as bob:
            assert [u["name"] for u in bob.users] == ["Ann", "Bob"]
            ack = ann.send(bob.id, "text", "hi")
            assert ack["msg"] == "Message sent"
            got = bob.wait_message()
            assert got["from"] == ann.id and got["message"] == {"type": "text", "value": "hi"}
