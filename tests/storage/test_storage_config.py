"""The ``storage`` section and rooms' ``history`` key, through the config loader: defaults, the forms a
person writes, and errors that name the key and what was expected.
"""

from __future__ import annotations

import pytest

from roomchat.config import parse_config
from roomchat.errors import ConfigError
from roomchat.storage.config import DEFAULT_URL, parse_duration


def test_defaults() -> None:
    config = parse_config({"rooms": {"lobby": {}}})
    assert config.storage.url == DEFAULT_URL
    history = config.rooms["lobby"].history
    assert (history.keep, history.max_age, history.kept) == (1000, 30 * 86400, history)
    assert config.server.new_room.history.kept is not None


@pytest.mark.parametrize("written", ["off", False, {"off": True}])
def test_history_off(written: object) -> None:
    assert parse_config({"rooms": {"lobby": {"history": written}}}).rooms["lobby"].history.kept is None


@pytest.mark.parametrize(("written", "seconds"), [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("12h", 43200.0),
                                                  ("30d", 2592000.0), ("2w", 1209600.0), ("1.5h", 5400.0)])
def test_durations(written: object, seconds: float) -> None:
    assert parse_duration(written) == seconds
    history = parse_config({"rooms": {"r": {"history": {"max_age": written, "keep": None}}}}).rooms["r"].history
    assert (history.max_age, history.keep) == (seconds, None)


@pytest.mark.parametrize(("data", "line"), [
    ({"rooms": {"r": {"history": "maybe"}}}, "rooms.r.history: expected off, on, or {keep: 1000, max_age: 30d}"),
    ({"rooms": {"r": {"history": {"keep": 0}}}}, "rooms.r.history.keep: Input should be greater than 0"),
    ({"rooms": {"r": {"history": {"max_age": "soon"}}}}, "rooms.r.history.max_age: expected a duration"),
    ({"rooms": {"r": {"history": {"max_age": -1}}}}, "rooms.r.history.max_age: a duration must be more than 0"),
    ({"rooms": {"r": {"history": {"kept": 3}}}}, "rooms.r.history.kept: unknown key"),
    ({"storage": {"url": "mysql://db/x"}}, "storage.url: must start with sqlite:/// or postgresql://"),
    ({"storage": {"url": "sqlite://"}}, "storage.url: an SQLite URL needs a file"),
    ({"storage": {"batch_window": 0}}, "storage.batch_window: Input should be greater than 0"),
    ({"storage": {"history_max": 100000}}, "storage.history_max: Input should be less than or equal to 10000"),
])
def test_errors_name_the_key(data: dict, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "chat.yaml")
    assert any(problem.startswith(line) for problem in caught.value.problems), caught.value.problems
