import my_potato
import pytest


@pytest.fixture
def roomchat_plugins():
    return {"my_potato": my_potato}


@pytest.fixture
def roomchat_settings():
    return {"my_potato": {"max_weight_grams": 300}}


def test_the_room_gets_fries_and_the_sender_thanks(roomchat_room):
    ann, bob = roomchat_room.join("Ann"), roomchat_room.join("Bob")
    ack = ann.broadcast("potato", {"variety": "King Edward", "weight_grams": 180})
    assert ack.ok
    assert bob.receive(type="potato").value == {"variety": "King Edward", "weight_grams": 180, "fries": 22}
    thanks = ann.receive(type="text")
    assert thanks.from_room and "22 fries" in thanks.value


def test_a_heavy_potato_is_refused(roomchat_room):
    ann, bob = roomchat_room.join("Ann"), roomchat_room.join("Bob")
    ack = ann.broadcast("potato", {"variety": "Giant", "weight_grams": 400})
    assert ack.code == "validation_failed"
    assert [e["loc"] for e in ack.errors] == [["weight_grams"]]
    bob.sync()                        # everything sent to Bob so far has arrived...
    assert bob.messages(type="potato") == []   # ...and no potato was among it
