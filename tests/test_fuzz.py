"""Bad input against a running server: hypothesis-generated emits and joins, floods, huge frames.

Every emit gets an ack (or, without an ack callback, an ``error-response``) with the
code PROTOCOL.md names for it, reaches nobody when refused, and disconnects nobody.
The expected code comes from a small model of PROTOCOL.md's checks (``expected``).
Only a frame past the transport limit (1 MB) closes a connection: the sender's alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from chatkit import GUEST_ID_START, TESS, Joiner, base_config, start_server, sync, token_of
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import event as observe
from hypothesis import strategies as st

from roomchat.testing import ChatClient, JoinRefused, RoomchatProcess

pytestmark = pytest.mark.slow

EMIT_CODES = {"invalid_message", "invalid_target", "user_not_found", "unknown_type", "validation_failed",
              "forbidden", "muted", "rate_limited", "too_large", "plugin_error"}
JOIN_CODES = {"room_required", "room_not_found", "unauthorized", "forbidden", "room_full", "invalid_name", "banned"}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.filter_too_much])

# -- payloads -------------------------------------------------------------------------------

big_ints = st.integers(min_value=-(10**101), max_value=10**101) | st.sampled_from([10**100 - 1, 10**100, -(10**100)])
scalars = (st.none() | st.booleans() | st.integers() | big_ints | st.floats() | st.text(max_size=20)
           | st.binary(max_size=16) | st.sampled_from(["message", "text", "0", "1", "007", " 3", "3.0", "", "٣"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=10)
well_formed = st.fixed_dictionaries({"type": st.sampled_from(["x-fuzz", "x-fuzz-2"])},
                                    optional={"value": st.text(max_size=10) | st.integers(), "extra": values})
messages = st.one_of(values, st.fixed_dictionaries({"type": values}, optional={"value": values, "extra": values}),
                     well_formed, well_formed)
targets = st.one_of(values, st.integers(), st.from_regex(r"\A[0-9]{1,40}\Z"),
                    st.sampled_from([0, -1, 2**63, "0", "000", True, None, 1.0, "3.0", " 3", "3 ", ""]))


def _ints(value: Any) -> Iterator[int]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _ints(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _ints(item)


def _has_bytes(value: Any) -> bool:
    if isinstance(value, bytes):
        return True
    if isinstance(value, list):
        return any(map(_has_bytes, value))
    if isinstance(value, dict):
        return any(map(_has_bytes, value.values()))
    return False


def _json_ok(value: Any) -> bool:
    """Plain JSON: no binary, no NaN or Infinity."""
    if isinstance(value, bytes):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(map(_json_ok, value))
    if isinstance(value, dict):
        return all(map(_json_ok, value.values()))
    return True


def expected(event: str, args: list[Any], room_ids: set[int], known_types: set[str]) -> str | None:
    """The code PROTOCOL.md gives an emit of ``args`` (or "ok"), in a room of ``room_ids``.

    None when a plugin registers the type: its own validation decides (tests/test_plugins*).
    """
    if any(len(str(i)) > 100 for i in _ints(args)):
        return "invalid_message"  # the server reads integers of up to 100 characters: the emit cannot be read
    if _has_bytes(args):
        return "invalid_message"  # binary anywhere: refused at the packet, attachments are never awaited
    raw = args[0] if args else None
    if type(raw) is not dict or type(raw.get("type")) is not str or not raw["type"]:
        return "invalid_message"
    if not _json_ok(raw.get("value")):
        return "invalid_message"
    if raw["type"] in known_types:
        return None
    if event == "broadcast-message":
        return "ok"
    target = args[1] if len(args) > 1 else None
    if type(target) is int:
        user_id = target
    elif type(target) is str and target.isascii() and target.isdigit():
        user_id = int(target)
    else:
        return "invalid_target"
    return "ok" if user_id in room_ids else "user_not_found"


# -- the room -------------------------------------------------------------------------------


class Room:
    """Ann (the fuzzer), Bob and Cid in one room; Bob and Cid must never hear of Ann's junk."""

    def __init__(self, server: RoomchatProcess, transport: str, name: str) -> None:
        self.ann = ChatClient(server.url, room=name, name="Ann", transport=transport)
        self.bob = ChatClient(server.url, room=name, name="Bob", transport=transport)
        self.cid = ChatClient(server.url, room=name, token=token_of(TESS), transport="websocket")
        self.dee = ChatClient(server.url, room=name, name="Dee", transport=transport)  # gets the good messages
        sync(self.dee, self.cid, self.bob, self.ann)
        self.ids = {self.ann.id, self.bob.id, self.cid.id, self.dee.id}
        self.known_types = set(requests.get(f"{server.url}/schema", timeout=5).json())

    def all(self) -> list[ChatClient]:
        return [self.ann, self.bob, self.cid, self.dee]

    def emit(self, event: str, args: list[Any], with_ack: bool) -> Any:
        """Emit ``args`` exactly (zero args included); the ack, or the error-response's payload, or None."""
        if with_ack:
            return self.ann.sio.call(event, tuple(args), timeout=10)
        before = len(self.ann.received("error-response"))
        self.ann.sio.emit(event, tuple(args))
        sync(self.ann)  # its ack comes after any error-response of the emit before it
        after = self.ann.received("error-response")
        assert len(after) in (before, before + 1)
        return after[-1] if len(after) > before else None

    def assert_undisturbed(self) -> None:
        sync(self.ann, self.bob, self.cid, self.dee)
        for client in self.all():
            assert client.connected, client.events[-3:]
        assert self.bob.messages() == [] and self.cid.messages() == []
        assert self.bob.received("error-response") == [] and self.cid.received("error-response") == []

    def close(self) -> None:
        for client in self.all():
            client.close()


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    server = start_server(base_config(), tmp_path_factory.mktemp("fuzz"))
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["websocket", "polling"])
def fuzz_room(fuzz_server: RoomchatProcess, request: pytest.FixtureRequest) -> Iterator[Room]:
    room = Room(fuzz_server, request.param, f"fuzz-{request.param}")
    yield room
    room.close()


def check_refusal(answer: Any, event: str, code: str, with_ack: bool) -> None:
    assert answer is not None, f"no answer to {event}"
    assert set(answer) == {"msg", "data"} and isinstance(answer["msg"], str) and answer["msg"]
    assert answer["data"].get("code") == code, (code, answer)
    assert code in EMIT_CODES
    if not with_ack:
        assert answer["data"].get("event") == event


# -- hypothesis: junk emits -----------------------------------------------------------------------


@FUZZ
@given(message=messages, target=targets, extra=st.lists(values, max_size=2), arity=st.sampled_from([0, 1, 2, 2, 2, 3, 4]),
       with_ack=st.booleans())
def test_junk_direct_messages_are_refused_and_reach_nobody(fuzz_room: Room, message: Any, target: Any,
                                                             extra: list[Any], arity: int, with_ack: bool) -> None:
    args = ([message, target] + extra)[:arity]
    code = expected("message", args, fuzz_room.ids, fuzz_room.known_types)
    assume(code not in ("ok", None))
    observe(code)
    note(f"args={args!r} with_ack={with_ack}")
    check_refusal(fuzz_room.emit("message", args, with_ack), "message", code, with_ack)
    fuzz_room.assert_undisturbed()


@FUZZ
@given(message=messages, extra=st.lists(values, max_size=2), arity=st.integers(0, 3), with_ack=st.booleans())
def test_junk_broadcasts_are_refused_and_reach_nobody(fuzz_room: Room, message: Any, extra: list[Any], arity: int,
                                                      with_ack: bool) -> None:
    args = ([message] + extra)[:arity]
    code = expected("broadcast-message", args, fuzz_room.ids, fuzz_room.known_types)
    assume(code not in ("ok", None))
    observe(code)
    check_refusal(fuzz_room.emit("broadcast-message", args, with_ack), "broadcast-message", code, with_ack)
    fuzz_room.assert_undisturbed()


plain_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**99) + 1, max_value=10**100 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15)


@FUZZ
@given(value=plain_json, type_=st.text(min_size=1, max_size=20) | st.just("x-fuzz"), as_string=st.booleans())
def test_any_json_value_arrives_exactly_as_acked(fuzz_room: Room, value: Any, type_: str, as_string: bool) -> None:
    dee = fuzz_room.dee
    before = len(dee.messages())
    target = str(dee.id) if as_string else dee.id
    ack = fuzz_room.ann.call("message", {"type": type_, "value": value}, target)
    if ack["msg"] != "Message sent":  # a built-in plugin may own this type name and validate it
        assert ack["data"]["code"] in ("validation_failed", "forbidden"), ack
        return
    got = dee.wait_message(count=before + 1)
    assert got == ack["data"]
    assert json.dumps(got["message"], sort_keys=True) == json.dumps({"type": type_, "value": value}, sort_keys=True)


# -- hypothesis: junk joins ------------------------------------------------------------------------


auth_values = st.none() | st.booleans() | st.integers() | st.text(max_size=70) | st.lists(st.text(max_size=3), max_size=2)
auths = st.fixed_dictionaries({}, optional={"room": auth_values | st.sampled_from(["tokens", "staff", "pair", "r"]),
                                            "token": auth_values | st.sampled_from([token_of(TESS), "a.b.c"]),
                                            "name": auth_values, "role": st.sampled_from(["ADMIN", "TEACHER"])})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(auth=auths)
def test_any_join_is_admitted_or_refused_with_a_code(fuzz_server: RoomchatProcess, auth: dict[str, Any]) -> None:
    client = ChatClient(fuzz_server.url, auth=auth, connect=False)
    try:
        client.connect()
    except JoinRefused as refusal:
        assert refusal.code in JOIN_CODES, refusal.data
        assert refusal.data == {"code": refusal.code} and refusal.message
        return
    finally:
        client.close()
    me = client.me
    assert set(me) == {"ID", "role", "name"} and 1 <= len(me["name"]) <= 64
    if me["ID"] >= GUEST_ID_START:
        assert me["role"] == "STUDENT"
        assert auth.get("token") in (None, ""), "a credential given is never turned into a guest"
    else:
        assert auth.get("token") == token_of(TESS)


# -- floods and big frames --------------------------------------------------------------------------


@pytest.fixture(params=["websocket", "polling", "upgrade"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


def test_200_malformed_emits_then_a_normal_message(join: Joiner, room: str, transport: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    junk: list[tuple[Any, ...]] = [(None,), ({"type": ""},), ({"type": "x"}, True), ({"type": "x"}, 0), ([],),
                                   ({"type": 5},), ({"type": "x"}, "3.0"), ({"type": "x", "value": b"\x00"}, bob.id)]
    for i in range(200):
        args = junk[i % len(junk)]
        if i % 2:
            ann.sio.emit("message", args)
        else:
            assert ann.sio.call("message", args, timeout=10)["data"]["code"] in EMIT_CODES
    ann.wait_for("error-response", count=100, timeout=20)
    ack = ann.send(bob.id, "x-note", "after the junk")
    assert ack["msg"] == "Message sent"
    assert bob.wait_message() == ack["data"]
    sync(ann, bob)
    assert len(bob.messages()) == 1 and ann.connected and bob.connected
    assert all(p["data"]["code"] in EMIT_CODES for p in ann.received("error-response"))


def test_a_200_kb_message_is_too_large(join: Joiner, room: str, transport: str) -> None:
    ann, bob = join(room, name="Ann"), join(room, name="Bob")
    ack = ann.send(bob.id, "x-big", "z" * 200_000)
    assert ack["data"] == {"code": "too_large"}
    ann.emit("broadcast-message", {"type": "x-big", "value": ["z" * 1000] * 200})
    assert ann.wait_for("error-response")["data"] == {"code": "too_large", "event": "broadcast-message"}
    assert ann.broadcast("x-note", "small")["msg"] == "Message sent"
    assert bob.wait_message()["message"]["value"] == "small"


def test_a_2_mb_message_closes_only_the_senders_connection(join: Joiner, room: str, transport: str) -> None:
    ann = join(room, name="Ann")
    bob, cid = join(room, name="Bob", transport="websocket"), join(room, name="Cid", transport="polling")
    ann.emit("broadcast-message", {"type": "x-huge", "value": "h" * 2_000_000})
    ann.wait_for("disconnect", timeout=30)
    assert not ann.connected
    for left in (bob, cid):
        assert left.wait_for("user-disconnected", timeout=30)["data"]["ID"] == ann.id
    ack = bob.send(cid.id, "x-note", "still here")
    assert cid.wait_message() == ack["data"]
    sync(bob, cid)
    assert [m["message"]["type"] for m in bob.messages() + cid.messages()] == ["x-note"]
    assert bob.connected and cid.connected
    # The server is fine: the sender can come back.
    again = join(room, name="Ann again")
    assert [u["name"] for u in again.users] == ["Bob", "Cid", "Ann again"]
