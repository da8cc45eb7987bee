"""The wire's JSON codec (roomchat/transport/codec.py): orjson, with every accept/refuse decision the standard library's.

Through a real server (in this process, so a plugin can be handed over) and
real clients over each transport; the codec's own answers are compared with
the standard library's on the edge cases, where orjson alone would differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chatkit import TRANSPORTS, sync
from engineio import json as engineio_json

from roomchat import MessageContext, MessageType, hookimpl
from roomchat.testing import ChatClient, RoomchatThread
from roomchat.transport.codec import OrjsonCodec


class Poison:
    """Registers ``poison``, whose handler puts ``float(value)`` (say NaN) into the delivered value."""

    async def handle(self, ctx: MessageContext) -> None:
        ctx.value = {"number": float(ctx.value)}

    @hookimpl
    def roomchat_register_message_types(self, register: Any) -> None:
        register(MessageType("poison", str, handlers=[self.handle]))


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatThread]:
    config = {"server": {"create_rooms": True, "new_room": {"admit": ["guests"], "rate_limit": None}}}
    with RoomchatThread(config, plugins={"poison": Poison()}) as running:
        yield running


@pytest.fixture(params=TRANSPORTS)
def pair(request: pytest.FixtureRequest, server: RoomchatThread) -> Iterator[tuple[ChatClient, ChatClient]]:
    room = f"codec-{request.node.name}"
    ann = ChatClient(server.url, room=room, name="Ann", transport=request.param)
    bob = ChatClient(server.url, room=room, name="Bob", transport=request.param)
    yield ann, bob
    ann.close()
    bob.close()


@pytest.mark.parametrize("number", ["nan", "inf", "-inf"])
def test_a_plugin_that_puts_nan_in_a_value_gets_plugin_error(pair: tuple[ChatClient, ChatClient],
                                                             number: str) -> None:
    """orjson would write NaN as null; JavaScript cannot read NaN: the message is refused, never changed."""
    ann, bob = pair
    ack = ann.broadcast("poison", number)
    assert ack["data"]["code"] == "plugin_error"
    assert ann.broadcast("poison", "1.5")["msg"] == "Message sent"
    sync(ann, bob)
    assert [m["message"]["value"] for m in bob.messages() if m["message"]["type"] == "poison"] == [{"number": 1.5}]


def test_big_integers_and_non_ascii_arrive_exactly(pair: tuple[ChatClient, ChatClient]) -> None:
    """orjson reads integers past 64 bits as floats: they arrive as the exact integers that were sent."""
    ann, bob = pair
    value = {"big": 12345678901234567890123, "max": 10**99 - 1, "neg": -(2**64), "u64": 2**64 - 1,
             "text": "naïve café ✓ 🥔", "float": 1e16, "small": 5e-324}
    assert ann.broadcast("x-exact", value)["msg"] == "Message sent"
    got = bob.wait_message(lambda m: m["message"]["type"] == "x-exact")["message"]["value"]
    assert got == value
    assert type(got["big"]) is int and type(got["max"]) is int


def test_a_100_digit_integer_is_still_refused(pair: tuple[ChatClient, ChatClient]) -> None:
    ann, bob = pair
    assert ann.broadcast("x-exact", 10**100)["data"]["code"] == "invalid_message"
    sync(ann, bob)
    assert not [m for m in bob.messages() if m["message"]["type"] == "x-exact"]


EDGE_TEXTS = ["NaN", "[Infinity]", "-Infinity", "1e400", "[-1e400]", '"\\ud800"', '{"k\\udfff": 1}',
              "123456789012345678901", "[18446744073709551616]", "-9223372036854775809", "9223372036854775807",
              '"12345678901234567890 in a string"', "[1,]", "{'a': 1}", "", "  [1]  ", '"\\u0000"', "1E+2", "-0",
              "0.1", "1" * 100, "-" + "1" * 99, "1" * 101, "[" * 2000 + "]" * 2000, '{"a":1,"a":2}', '"é"', "tru", "[1] x"]


@pytest.mark.parametrize("text", EDGE_TEXTS, ids=range(len(EDGE_TEXTS)))
def test_loads_answers_as_before(text: str) -> None:
    """Same value (same types) or the same kind of refusal as python-engineio's own ``json``, for text and bytes."""
    for given in (text, text.encode("utf-8", "surrogatepass")):
        try:
            expected: Any = ("ok", engineio_json.loads(given))
        except (ValueError, RecursionError) as exc:
            expected = ("refused", type(exc).__name__)
        try:
            got: Any = ("ok", OrjsonCodec.loads(given))
        except (ValueError, RecursionError) as exc:
            got = ("refused", type(exc).__name__)
        assert got == expected
        if got[0] == "ok":
            assert repr(got[1]) == repr(expected[1])  # 1 stays int, 1.0 stays float, nan stays nan


@pytest.mark.parametrize("value", [float("nan"), [float("inf")], {"a": {"b": -float("inf")}}])
def test_dumps_refuses_nan_and_infinity(value: Any) -> None:
    with pytest.raises(ValueError):
        OrjsonCodec.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize("value", [2**70, {1: "int key"}, "lone \ud800", [b"bytes"], {"n": None}, None,
                                   {"s": "null"}, [1.5, "é"]])
def test_dumps_agrees_with_the_standard_library(value: Any) -> None:
    """Where orjson cannot encode, the standard library encodes or refuses; either way the same JSON value."""
    try:
        expected = json.loads(json.dumps(value, separators=(",", ":")))
    except TypeError:
        with pytest.raises(TypeError):
            OrjsonCodec.dumps(value, separators=(",", ":"))
        return
    assert json.loads(OrjsonCodec.dumps(value, separators=(",", ":"))) == expected
    assert json.loads(OrjsonCodec.dumpb(value)) == expected
