"""The ``storage`` section and rooms' ``history`` key, through the config loader: defaults, the forms a
person writes, and errors that name the key and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roomchat.config import parse_config
from roomchat.errors import ConfigError
from roomchat.storage.config import DATA_DIR_ENV, DEFAULT_URL, driver_url, parse_duration


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


def bot_plan(*args: str) -> Any:
    from roomchat.botcli import make_plan
    from roomchat.cli import build_parser

    return make_plan(build_parser().parse_args(["bot", "run", "echo", "--url", "http://127.0.0.1:1", "--token", "t",
                                                "--room", "lobby", *args]))


def test_roomchat_data_dir_is_where_roomchat_bot_run_keeps_its_store(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "volume"))
    assert bot_plan().store_url == f"sqlite:///{tmp_path / 'volume' / 'roomchat-bots.sqlite3'}"
    assert bot_plan("--data", str(tmp_path / "given")).store_url == \
        f"sqlite:///{tmp_path / 'given' / 'roomchat-bots.sqlite3'}"
    config = tmp_path / "roomchat.yaml"  # with --config: the server's database, where roomchat serve keeps it
    config.write_text("rooms:\n  lobby:\n    admit: [guests]\n", encoding="utf-8")
    assert driver_url(bot_plan("--config", str(config)).store_url, tmp_path) == \
        f"sqlite+aiosqlite:///{tmp_path / 'volume' / 'roomchat.sqlite3'}"
    config.write_text("storage:\n  url: sqlite:///mine.sqlite3\nrooms:\n  lobby:\n    admit: [guests]\n",
                      encoding="utf-8")
    assert bot_plan("--config", str(config)).store_url == "sqlite:///mine.sqlite3"  # a url the config sets wins
    monkeypatch.delenv(DATA_DIR_ENV)
    monkeypatch.chdir(tmp_path)
    assert bot_plan().store_url == f"sqlite:///{tmp_path.resolve() / 'data' / 'roomchat-bots.sqlite3'}"
