"""The built-in message types as plugins: registered like any plugin, schemas published, settings checked."""

from __future__ import annotations

import json
import urllib.request

import pytest

from roomchat import ConfigError
from roomchat.app import ChatServer
from roomchat.config import parse_config
from roomchat.testing import ChatClient, RoomchatThread

TYPES_BY_PLUGIN = {
    "text": ["text"], "image": ["image"], "video": ["video"], "file": ["file"],
    "poll": ["poll", "vote", "poll-close", "poll-results"], "reaction": ["reaction"], "typing": ["typing"],
}


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.loads(reply.read())


def test_each_builtin_is_a_plugin_registering_its_types(server) -> None:
    info = server.chat.plugins.info
    for plugin, types in TYPES_BY_PLUGIN.items():
        assert info[plugin].origin == "built-in"
        assert info[plugin].types == types


def test_every_builtin_type_publishes_the_shapes_it_accepts(server) -> None:
    schemas = get_json(f"{server.url}/schema")
    for plugin, types in TYPES_BY_PLUGIN.items():
        for name in types:
            entry = schemas[name]
            assert entry["plugin"] == plugin and entry["description"]
    assert schemas["text"]["schema"]["type"] == "string"
    assert schemas["poll"]["schema"]["properties"]["options"]["maxItems"] == 10
    assert schemas["poll-results"]["schema"]["additionalProperties"] is False  # only the room sends it
    assert get_json(f"{server.url}/schema/vote")["schema"]["required"] == ["poll", "option"]
    # a bare value or an object whose unknown keys are kept (docs/plugins.md, "What the built-in types accept")
    bare = {"image": "string", "video": "string", "file": "string", "reaction": "string", "typing": ["boolean", "null"]}
    for name, kind in bare.items():
        short, full = schemas[name]["schema"]["anyOf"]
        assert short["type"] == kind and full["type"] == "object" and full["additionalProperties"] is True, name


@pytest.mark.parametrize(("settings", "key"), [
    ({"text": {"max_length": 0}}, "text.max_length"),
    ({"text": {"max_lenght": 10}}, "text.max_lenght"),
    ({"image": {"max_data_bytes": -1}}, "image.max_data_bytes"),
    ({"file": {"max_size": "big"}}, "file.max_size"),
    ({"poll": {"creators": ["JANITOR"]}}, "poll.creators"),
    ({"reaction": {"allowed": ["thumbs up"]}}, "reaction.allowed"),
    ({"typing": {"min_interval": -1}}, "typing.min_interval"),
])
def test_bad_settings_stop_the_server_naming_the_key(settings: dict, key: str) -> None:
    config = parse_config({"rooms": {"lobby": {"plugins": {"settings": settings}}}})
    with pytest.raises(ConfigError) as info:
        ChatServer(config, "test.yaml")
    assert f"rooms.lobby.plugins.settings.{key}" in str(info.value)


def test_server_wide_settings_apply_to_every_room_unless_it_sets_its_own() -> None:
    config = {
        "server": {"create_rooms": True, "new_room": {"admit": ["guests"], "rate_limit": None}},
        "rooms": {"roomy": {"admit": ["guests"], "rate_limit": None,
                            "plugins": {"settings": {"text": {"max_length": 8}}}}},
        "plugins": {"settings": {"text": {"max_length": 4}}, "disable": ["reaction"]},
    }
    with (RoomchatThread(config) as server,
          ChatClient(server.url, room="any", name="Ann") as ann,
          ChatClient(server.url, room="roomy", name="Bob") as bob):
        assert ann.broadcast("text", "four")["msg"] == "Message sent"
        assert ann.broadcast("text", "fives")["data"]["code"] == "validation_failed"
        assert bob.broadcast("text", "eight ch")["msg"] == "Message sent"
        assert bob.broadcast("text", "nine char")["data"]["code"] == "validation_failed"
        # a disabled built-in is simply not there: its type passes unchanged in an open room
        assert "reaction" not in server.chat.plugins.info
        assert ann.broadcast("reaction", "not a reaction")["data"]["message"]["value"] == "not a reaction"
