"""roomchat-dice's own tests, written with the fixtures that roomchat ships (roomchat_room, ...)."""

import pytest
from roomchat_dice import plugin


@pytest.fixture
def roomchat_plugins():
    return {"dice": plugin}


@pytest.fixture
def roomchat_settings():
    return {"dice": {"max_dice": 3}}


def test_the_room_answers_everyone_with_the_roll(roomchat_room):
    ann, bob = roomchat_room.join("Ann"), roomchat_room.join("Bob")
    assert ann.broadcast("dice", {"dice": "3d6"}).ok
    for user in (ann, bob):
        answer = user.receive(type="dice")
        assert answer.from_room
        assert answer.value["roller"] == ann.id and answer.value["dice"] == "3d6"
        assert len(answer.value["rolls"]) == 3 and all(1 <= r <= 6 for r in answer.value["rolls"])
        assert answer.value["total"] == sum(answer.value["rolls"])
    bob.sync()
    assert [m.from_id for m in bob.messages(type="dice")] == [0]  # the request itself was consumed


@pytest.mark.parametrize("dice", ["4d6", "1d1", "d6", "2x6", ""])
def test_bad_dice_are_refused_with_a_field_error(roomchat_room, dice):
    ann = roomchat_room.join("Ann")
    ack = ann.broadcast("dice", {"dice": dice})
    assert ack.code == "validation_failed"
    assert [e["loc"] for e in ack.errors] == [["dice"]]


def test_a_roll_cannot_be_whispered(roomchat_room):
    ann, bob = roomchat_room.join("Ann"), roomchat_room.join("Bob")
    assert ann.send(bob, "dice", {"dice": "1d6"}).code == "forbidden"


def test_settings_are_checked_at_start_up(roomchat_start):
    from roomchat import ConfigError

    with pytest.raises(ConfigError, match="max_dice"):
        roomchat_start(plugins={"dice": plugin}, settings={"dice": {"max_dice": 0}})
