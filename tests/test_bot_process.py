"""Bots out of process and in a real ``roomchat serve``: the same classes, connected like any user.

``roomchat bot run`` runs as a subprocess against a RoomchatProcess; the
server is restarted under it and it comes back; a bad token stops it with a
clear message. A BotThread (the test helper) drives a timer bot on a
FakeClock against the same real server process.
"""

from __future__ import annotations

import gc
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clikit import roomchat, write_yaml
from roomchat_bots.echo import Echo

from roomchat.bot import Bot, BotRoom, Incoming
from roomchat.testing import ChatClient, RoomchatProcess, free_port
from roomchat.testing.bots import BotProcess, BotThread, wait_until

ROOM = "hall"
ECHO_TOKEN = "echo-bot-secret-token"
TIMER_TOKEN = "timer-bot-secret-token"
CONFIG: dict[str, Any] = {
    "rooms": {ROOM: {"admit": ["users", "guests"], "rate_limit": None}},
    "bots": [
        {"kind": "greeter", "ID": 71, "name": "Greeter", "rooms": [ROOM], "settings": {"message": "Hi {name}"}},
        {"kind": "echo", "ID": 72, "name": "Echo", "rooms": [ROOM], "run": "external", "token": ECHO_TOKEN},
        {"kind": "reminder", "ID": 73, "name": "Reminder", "rooms": [ROOM], "run": "external", "token": TIMER_TOKEN},
    ],
}


class Reminder(Bot):
    """``remind N`` in a direct message: answers ``reminder`` N seconds later (of the bot's clock)."""

    kind = "reminder"

    async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
        seconds = float(msg.text.split()[-1])
        room.call_later(seconds, lambda: room.send(msg.from_id, "text", "reminder"))
        await room.send(msg.from_id, "text", f"in {seconds:g}s")


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatProcess]:
    with RoomchatProcess(CONFIG) as srv:
        yield srv


def join_when_present(url: str, bot_id: int, name: str = "Ann") -> ChatClient:
    """Join; if the bot is not in the room yet, wait for its user-connected."""
    client = ChatClient(url, room=ROOM, name=name, timeout=20)
    if bot_id not in [u["ID"] for u in client.users]:
        client.wait_for("user-connected", lambda p: p["data"]["ID"] == bot_id)
    return client


def test_in_process_bot_is_an_ordinary_user_of_a_real_server(server: RoomchatProcess) -> None:
    with ChatClient(server.url, room=ROOM, name="Ann", timeout=20) as ann:
        if 71 not in [u["ID"] for u in ann.users]:
            ann.wait_for("user-connected", lambda p: p["data"]["ID"] == 71)
        else:
            assert {"ID": 71, "role": "STUDENT", "name": "Greeter"} in ann.users
        with ChatClient(server.url, room=ROOM, name="Bob") as bob:
            assert bob.wait_message(lambda d: d["from"] == 71)["message"] == {"type": "text", "value": "Hi Bob"}
            assert ann.wait_message(lambda d: d["from"] == 71 and d["message"]["value"] == "Hi Bob")


def test_bot_run_out_of_process_and_back_after_a_server_restart(server: RoomchatProcess) -> None:
    with BotProcess("echo", server.url, ECHO_TOKEN, [ROOM], settings={"prefix": "echo: "},
                    args=["--config", str(server.config_path)]) as bot:
        with join_when_present(server.url, 72) as ann:
            assert {"ID": 72, "role": "STUDENT", "name": "Echo"} in ann.users + [
                p["data"] for p in ann.received("user-connected")]
            ann.send(72, "text", "hello")
            assert ann.wait_message(lambda d: d["from"] == 72)["message"]["value"] == "echo: hello"
            ann.broadcast("text", "to everyone")  # not echoed: only direct messages are
            assert ann.send(72, "sticker", {"id": 7})["msg"] == "Message sent"
            echoed = ann.wait_message(lambda d: d["from"] == 72, count=2)  # the broadcast got no echo before it
            assert echoed["message"] == {"type": "sticker", "value": {"id": 7}}

        server.stop()
        server.start()
        with join_when_present(server.url, 72) as ann:
            ann.send(72, "text", "again")
            assert ann.wait_message(lambda d: d["from"] == 72)["message"]["value"] == "echo: again"
        assert bot.proc is not None and bot.proc.poll() is None
    assert bot.proc.returncode == 0, bot.log()
    assert "bot_reconnect" in bot.log()


def test_bot_run_stops_on_a_bad_token(server: RoomchatProcess) -> None:
    bot = BotProcess("echo", server.url, "not-a-valid-token", [ROOM]).start()
    assert bot.wait() == 2
    bot.stop()
    assert "unauthorized" in bot.log() and "--token" in bot.log()


def test_bot_run_refuses_bad_settings_naming_the_key(server: RoomchatProcess) -> None:
    bot = BotProcess("echo", server.url, ECHO_TOKEN, [ROOM], settings={"prefx": ">"}).start()
    assert bot.wait() == 2
    bot.stop()
    assert "settings.prefx: unknown setting" in bot.log()


def test_bot_thread_with_a_fake_clock_against_a_server_process(server: RoomchatProcess) -> None:
    with BotThread(Reminder, server.url, TIMER_TOKEN, [ROOM], bot_ids=[71, 72]) as bot, \
            join_when_present(server.url, 73) as ann:
        ann.send(73, "text", "remind 300")
        assert ann.wait_message(lambda d: d["from"] == 73)["message"]["value"] == "in 300s"
        bot.advance(299)
        ann.call("message", None)  # a round trip: anything already sent has arrived
        assert [m["message"]["value"] for m in ann.messages() if m["from"] == 73] == ["in 300s"]
        bot.advance(1)
        assert ann.wait_message(lambda d: d["from"] == 73, count=2)["message"]["value"] == "reminder"
        assert bot.room().users[71].bot and not bot.room().users[ann.id].bot


def test_a_bot_stays_connected_when_its_last_connections_client_is_garbage_collected() -> None:
    """python-engineio's AsyncClient closes the aiohttp session it was given when it is collected, whether or
    not the session was its own. The bot runner used one session for every connection, so collecting the
    clients of the connections before a server restart (in whatever thread the collector ran) closed the live
    one behind the bot's event loop: the bot stayed in the room, deaf, until the ping timeout (a flaky
    moderator test, 1 run in 40 under load)."""
    gc.disable()  # the collection happens below, in this thread, as a collection may in any thread
    try:
        first = RoomchatProcess(CONFIG).start()
        with BotThread(Echo, first.url, ECHO_TOKEN, [ROOM], bot_ids=[71, 73]) as bot:
            joins = bot.joins()
            first.stop()
            with RoomchatProcess(first.config_path, port=first.port) as second:
                wait_until(lambda: bot.joins() > joins, "the bot came back", timeout=30)
                gc.collect()
                with join_when_present(second.url, 72) as ann:
                    assert ann.send(72, "text", "still there?")["msg"] == "Message sent"
                    echoed = ann.wait_message(lambda d: d["from"] == 72, timeout=10)
                    assert echoed["message"]["value"] == "still there?"
    finally:
        gc.enable()


# -- roomchat bot run --config: the entry under bots: is the bot's whole description ---------

PARROT = '''
from roomchat import hookimpl
from roomchat.bot import Bot, BotSettings


class Parrot(Bot):
    kind = "parrot"

    class Settings(BotSettings):
        word: str = "squawk"

    async def on_direct_message(self, room, msg):
        await room.send(msg.from_id, "text", self.settings.word)


@hookimpl
def roomchat_register_bots(register):
    register(Parrot)
'''
PARROT_TOKEN = "parrot-bot-secret-token"


def entry_config(tmp_path: Path, port: int, **parrot: Any) -> Path:
    """A server config with an external parrot (its plugin under plugins.load), another external bot whose
    token variable is not set, and a user whose token variable is not set either."""
    (tmp_path / "parrot.py").write_text(PARROT)
    return write_yaml(tmp_path / "roomchat.yaml", {
        "server": {"port": port},
        "plugins": {"load": ["parrot.py"]},
        "users": [{"ID": 1, "name": "Tess", "role": "TEACHER", "token": {"env": "TEST_UNSET_USER_TOKEN"}}],
        "rooms": {ROOM: {"admit": ["users", "guests"], "rate_limit": None}},
        "bots": [
            {"kind": "echo", "ID": 81, "name": "Other", "rooms": [ROOM], "run": "external",
             "token": {"env": "TEST_UNSET_OTHER_TOKEN"}},
            {"kind": "parrot", "ID": 82, "name": "Parrot", "rooms": [ROOM], "run": "external",
             "token": {"env": "TEST_PARROT_TOKEN"}, **parrot},
        ],
    })


def parrot_says(url: str) -> str:
    with join_when_present(url, 82) as ann:
        ann.send(82, "text", "hello")
        return ann.wait_message(lambda d: d["from"] == 82)["message"]["value"]


@pytest.fixture
def parrot_server(tmp_path: Path) -> Iterator[tuple[RoomchatProcess, Path]]:
    port = free_port()
    path = entry_config(tmp_path, port, settings={"word": "pieces of eight"})
    env = {"TEST_PARROT_TOKEN": PARROT_TOKEN, "TEST_UNSET_OTHER_TOKEN": "other-bot-token-value",
           "TEST_UNSET_USER_TOKEN": "user-token-value"}
    with RoomchatProcess(path, port=port, env=env) as srv:
        yield srv, path


def test_bot_run_takes_kind_rooms_settings_token_and_url_from_its_entry(parrot_server) -> None:
    server, path = parrot_server
    env = {"TEST_PARROT_TOKEN": PARROT_TOKEN}  # only this bot's variable: not the other bot's, not the user's
    with BotProcess(None, None, None, args=["--config", str(path), "--id", "82"], env=env) as bot:
        assert parrot_says(server.url) == "pieces of eight", bot.log()


def test_bot_run_with_token_needs_no_other_secret_and_finds_its_entry_by_the_token(parrot_server) -> None:
    server, path = parrot_server
    with BotProcess("parrot", None, PARROT_TOKEN, args=["--config", str(path)]) as bot:
        assert parrot_says(server.url) == "pieces of eight", bot.log()


def test_the_same_plugin_file_by_plugin_and_by_plugins_load_is_one_plugin(parrot_server) -> None:
    server, path = parrot_server
    args = ["--config", str(path), "--plugin", str(path.parent / "parrot.py")]
    with BotProcess("parrot", None, PARROT_TOKEN, args=args) as bot:
        assert parrot_says(server.url) == "pieces of eight", bot.log()


def test_bot_run_settings_file_replaces_the_entry_settings(parrot_server) -> None:
    server, path = parrot_server
    with BotProcess("parrot", None, PARROT_TOKEN, settings={"word": "polly"}, args=["--config", str(path)]) as bot:
        assert parrot_says(server.url) == "polly", bot.log()


def test_check_validates_an_external_bots_settings(tmp_path: Path) -> None:
    path = entry_config(tmp_path, 8000, settings={"wrod": "typo"})
    env = {"TEST_PARROT_TOKEN": "x" * 10, "TEST_UNSET_OTHER_TOKEN": "y" * 10, "TEST_UNSET_USER_TOKEN": "z" * 10}
    done = roomchat("check", str(path), env=env)
    assert done.returncode == 2 and "bots.1.settings.wrod: unknown setting" in done.stderr, done.stderr


def test_bot_run_refuses_the_entrys_bad_settings_naming_the_key(tmp_path: Path) -> None:
    path = entry_config(tmp_path, free_port(), settings={"wrod": "typo"})
    done = roomchat("bot", "run", "--config", str(path), "--id", "82", env={"TEST_PARROT_TOKEN": PARROT_TOKEN})
    assert done.returncode == 2
    assert re.search(rf"^{re.escape(str(path))}: invalid configuration\n{re.escape(str(path))}:\d+: "
                     r"bots\.1\.settings\.wrod: unknown setting", done.stderr, re.MULTILINE), done.stderr
    assert f"run `roomchat check {path}`" in done.stderr, "roomchat check validates this entry too"


@pytest.mark.parametrize(("args", "env", "expected"), [
    (["--id", "82"], {}, "bots.1.token: environment variable TEST_PARROT_TOKEN is not set"),
    (["--id", "99"], {}, "no bot under bots: has ID 99 (IDs: 81, 82)"),
    ([], {}, "several run: external bots (IDs 81, 82); choose one with --id"),
    (["echo", "--id", "82"], {}, "KIND is 'echo', but bots.1 (ID 82)"),
])
def test_bot_run_says_what_is_missing_in_one_line(tmp_path: Path, args, env, expected) -> None:
    path = entry_config(tmp_path, free_port())
    done = roomchat("bot", "run", "--config", str(path), *args, env={"TEST_PARROT_TOKEN": "", **env})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert expected in done.stderr, done.stderr


def test_the_docs_example_names_one_variable_for_the_token() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "bots.md").read_text(encoding="utf-8")
    section = text[text.index("**As a process of its own.**"):text.index("**Either way**")]
    code = "\n".join(re.findall(r"```\w*\n(.*?)```", section, re.DOTALL))
    declared = set(re.findall(r"\{env: (\w+)\}", code))
    used = set(re.findall(r"\$(\w+)", code)) | set(re.findall(r"export (\w+)=", code))
    assert declared and used == declared, (declared, used)


def test_bot_run_plugin_files_are_relative_to_the_current_folder(tmp_path: Path) -> None:
    here = tmp_path / "bots"
    here.mkdir()
    (here / "parrot.py").write_text(PARROT)
    config = write_yaml(tmp_path / "roomchat.yaml", {"rooms": {ROOM: {"admit": ["users"]}}})
    done = roomchat("bot", "run", "nokind", "--config", str(config), "--plugin", "parrot.py", "--token", "t" * 10,
                    cwd=here)
    assert done.returncode == 2
    assert "no bot of kind 'nokind' is installed (installed: echo, greeter, moderator, parrot, quiz)" in done.stderr


def test_the_built_in_bots_are_every_built_in_plugin_that_registers_bots() -> None:
    from roomchat.botcli import BUILTIN_BOTS, BotKinds
    from roomchat.builtins import BUILTIN_PLUGINS
    from roomchat.loading import import_object

    registering = {name for name, spec in BUILTIN_PLUGINS.items()
                   if hasattr(import_object(spec), "roomchat_register_bots")}
    assert registering == {name for name, spec in BUILTIN_PLUGINS.items() if spec.startswith(BUILTIN_BOTS)}
    kinds = BotKinds()
    kinds.add_builtins()
    assert sorted(kinds.bots) == ["echo", "greeter", "moderator", "quiz"]
    disabled = BotKinds(disabled=["quiz"])
    disabled.add_builtins()
    assert "quiz" not in disabled.bots


SERVER_SIDE = ("roomchat_plugins", "roomchat.plugins", "roomchat.server", "roomchat.core", "roomchat.app")


def test_bot_run_finds_bots_without_the_servers_plugin_host(tmp_path: Path) -> None:
    """`roomchat bot run` reads the modules that register bots, and builds no plugin host: the server's
    modules and the built-in message-type plugins are never imported (they were, through PluginHost)."""
    (tmp_path / "parrot.py").write_text(PARROT)
    config = write_yaml(tmp_path / "roomchat.yaml", {
        "plugins": {"load": ["parrot.py"], "settings": {"text": {"no_such_setting": 1}}},  # the server's to check
        "rooms": {ROOM: {"admit": ["users"]}}})
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "roomchat", "bot", "run", "nokind", "--config",
                           str(config), "--url", "http://127.0.0.1:9", "--token", "t" * 10, "--room", ROOM],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "no bot of kind 'nokind' is installed (installed: echo, greeter, moderator, parrot, quiz)" in done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert {"roomchat.botcli", "roomchat_bots.quiz.bot", "roomchat_bots.moderator.bot"} <= imported
    assert not sorted(m for m in imported if m.startswith(SERVER_SIDE))


LEAVER = '''
from roomchat import hookimpl
from roomchat.bot import Bot, command


class Leaver(Bot):
    kind = "leaver"

    @command
    async def bye(self, room, msg):
        """Leave for good."""
        await msg.reply("bye")
        await room.leave()


@hookimpl
def roomchat_register_bots(register):
    register(Leaver)
'''


def test_a_bot_that_leaves_all_its_rooms_ends_its_process(server: RoomchatProcess, tmp_path: Path) -> None:
    (tmp_path / "leaver.py").write_text(LEAVER)
    bot = BotProcess("leaver", server.url, ECHO_TOKEN, [ROOM], args=["--plugin", str(tmp_path / "leaver.py")]).start()
    try:
        with join_when_present(server.url, 72) as ann:
            ann.send(72, "text", "/bye")
            assert ann.wait_message(lambda d: d["from"] == 72)["message"]["value"] == "bye"
            ann.wait_for("user-disconnected", lambda p: p["data"]["ID"] == 72)
            assert bot.wait() == 0, bot.log()
    finally:
        bot.stop()
    assert "bot_left" in bot.log() and "bot_done" in bot.log()
