"""roomchat/users.py: a user's wire form is made once, and nobody who changes a copy changes the user."""

from __future__ import annotations

import dataclasses
import pickle

from roomchat import protocol
from roomchat.users import Role, User


def test_the_wire_form_is_the_protocols_and_each_copy_is_its_own() -> None:
    ann = User(7, Role.STUDENT, "Ann")
    wire = ann.as_wire()
    assert wire == {"ID": 7, "role": "STUDENT", "name": "Ann"}
    wire["name"] = "Mallory"  # a plugin that edits a payload it was given
    assert ann.as_wire()["name"] == "Ann"
    assert protocol.user_connected(ann)["data"] == {"ID": 7, "role": "STUDENT", "name": "Ann"}


def test_a_changed_or_copied_user_has_its_own_wire_form() -> None:
    ann = User(7, Role.STUDENT, "Ann", bot=False)
    renamed = dataclasses.replace(ann, name="Anna", role=Role.TEACHER)
    assert renamed.as_wire() == {"ID": 7, "role": "TEACHER", "name": "Anna"}
    assert pickle.loads(pickle.dumps(ann)).as_wire() == ann.as_wire()
    assert ann == User(7, Role.STUDENT, "Ann") and hash(ann) == hash(User(7, Role.STUDENT, "Ann"))
    assert "_wire" not in repr(ann)


def test_a_joins_list_shows_every_member_in_order() -> None:
    members = [User(i, Role.STUDENT, f"Guest {i}") for i in range(1, 4)]
    assert protocol.initial_response(members) == {
        "msg": "Connected users",
        "data": [{"ID": i, "role": "STUDENT", "name": f"Guest {i}"} for i in range(1, 4)]}
