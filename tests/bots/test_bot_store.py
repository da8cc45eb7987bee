"""The bot store (``self.store``) outlives restarts, through real servers and real bots, on SQLite and PostgreSQL.

A ``counter`` bot (a plugin file the config loads, or ``roomchat bot run
--plugin``) counts ``/count`` commands in its store and answers with the
count. In the server's process its store is the server's database, under
``bot:counter:<ID>``: the count goes on after the server restarts. Out of
process it is the database ``roomchat bot run`` opens (``--data DIR``, or the
config's ``storage.url``): the count goes on after the bot process is stopped
or killed, and a bot moved from ``run: external`` to ``run: server`` on the
same database keeps it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from chatkit import SERVER_ENV, STU, token_of
from historykit import config_with
from pgkit import pg_database, pg_url  # noqa: F401  (fixtures)

from roomchat.client.store import BotStore
from roomchat.storage.config import driver_url
from roomchat.storage.database import open_database
from roomchat.storage.kv import DatabaseKeyValue
from roomchat.testing import ChatClient, RoomchatProcess
from roomchat.testing.bots import BotProcess

COUNTER = 950
COUNTER_TOKEN = "counter-bot-token-for-tests"
ROOM = "counting"
PLUGIN = '''
"""A bot that counts /count commands in its store."""
from roomchat import hookimpl
from roomchat.bot import Bot, command


class Counter(Bot):
    kind = "counter"

    @command
    async def count(self, room, msg):
        """Count one more."""
        n = await self.store.incr("count")
        await self.store.hash_set("last", str(msg.from_id), {"n": n, "room": room.name})
        await msg.reply(f"count {n}")

    @command
    async def where(self, room, msg):
        """Say where the store is."""
        await msg.reply(f"{self.store.namespace} durable={self.store.durable}")


@hookimpl
def roomchat_register_bots(register):
    register(Counter)
'''


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    """None: the default SQLite file beside the config; else this test's (emptied) PostgreSQL database."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


def write_config(tmp: Path, storage_url: str | None, run: str) -> Path:
    import yaml

    config = config_with(storage_url)
    config["plugins"]["load"].append("counter.py")
    bot: dict[str, Any] = {"kind": "counter", "ID": COUNTER, "name": "Counter", "role": "STUDENT", "rooms": [ROOM]}
    if run == "external":
        bot.update(run="external", token=COUNTER_TOKEN)
    config["bots"] = [bot]
    (tmp / "counter.py").write_text(PLUGIN, encoding="utf-8")
    from chatkit import PROBE_PLUGIN

    (tmp / "probe_plugin.py").write_text(PROBE_PLUGIN, encoding="utf-8")
    path = tmp / "roomchat.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def count(url: str) -> str:
    """Send /count to the bot (once it is in the room) and return its answer."""
    with ChatClient(url, room=ROOM, token=token_of(STU), timeout=20) as stu:
        if COUNTER not in [u["ID"] for u in stu.users]:
            stu.wait_for("user-connected", lambda p: p["data"]["ID"] == COUNTER, timeout=20)
        assert stu.send(COUNTER, "text", "/count")["msg"] == "Message sent"
        return str(stu.wait_message(lambda d: d["from"] == COUNTER, timeout=20)["message"]["value"])


def stored(url: str, key: str, base: Path | None = None) -> Any:
    """What the database at storage URL ``url`` holds at ``key`` (read directly, not through any server)."""
    async def read() -> Any:
        db = await open_database(driver_url(url, base))
        try:
            return await DatabaseKeyValue(db).get(key)
        finally:
            await db.close()

    return asyncio.run(read())


def test_an_in_process_bot_keeps_its_store_across_server_restarts(tmp_path: Path, storage_url: str | None) -> None:
    path = write_config(tmp_path, storage_url, run="server")
    server = RoomchatProcess(path, env=SERVER_ENV).start()
    try:
        assert count(server.url) == "count 1"
        assert count(server.url) == "count 2"
        assert server.stop() in (0, -15)
        server = RoomchatProcess(path, port=server.port, env=SERVER_ENV).start()
        assert count(server.url) == "count 3"
        with ChatClient(server.url, room=ROOM, token=token_of(STU)) as stu:
            stu.send(COUNTER, "text", "/where")
            where = stu.wait_message(lambda d: d["from"] == COUNTER)["message"]["value"]
        assert where == f"bot:counter:{COUNTER} durable=True"
    finally:
        server.stop()
    url = storage_url or "sqlite:///data/roomchat.sqlite3"
    assert stored(url, f"bot:counter:{COUNTER}:count", tmp_path) == 3  # in the server's database, in its namespace


def test_an_external_bot_keeps_its_store_in_its_data_folder_across_its_restarts(tmp_path: Path) -> None:
    path = write_config(tmp_path, None, run="external")
    data = tmp_path / "bot-data"
    args = ["--plugin", str(tmp_path / "counter.py"), "--data", str(data)]
    with RoomchatProcess(path, env=SERVER_ENV) as server:
        bot = BotProcess("counter", server.url, COUNTER_TOKEN, [ROOM], args=args).start()
        try:
            assert count(server.url) == "count 1"
            assert bot.stop() == 0  # SIGTERM
            bot = BotProcess("counter", server.url, COUNTER_TOKEN, [ROOM], args=args).start()
            assert count(server.url) == "count 2"
            bot.kill()  # kill -9: what it answered was committed before the answer
            bot = BotProcess("counter", server.url, COUNTER_TOKEN, [ROOM], args=args).start()
            assert count(server.url) == "count 3", bot.log()
        finally:
            bot.stop()
    # No --config: the namespace is the kind's; the file is DIR/roomchat-bots.sqlite3, not the server's database.
    assert stored(f"sqlite:///{data / 'roomchat-bots.sqlite3'}", "bot:counter:count") == 3
    assert stored("sqlite:///data/roomchat.sqlite3", "bot:counter:count", tmp_path) is None


def test_an_external_bot_with_config_uses_the_servers_database_and_keeps_it_when_moved_into_the_server(
        tmp_path: Path, storage_url: str | None) -> None:
    path = write_config(tmp_path, storage_url, run="external")
    server = RoomchatProcess(path, env=SERVER_ENV).start()
    try:
        args = ["--config", str(path), "--plugin", str(tmp_path / "counter.py"), "--url", server.url]
        with BotProcess(None, None, None, args=args) as bot:
            assert count(server.url) == "count 1", bot.log()
            assert count(server.url) == "count 2"
        assert server.stop() in (0, -15)
        # The same bot, now run by the server: the same namespace of the same database.
        path = write_config(tmp_path, storage_url, run="server")
        server = RoomchatProcess(path, port=server.port, env=SERVER_ENV).start()
        assert count(server.url) == "count 3"
    finally:
        server.stop()


def test_the_bot_store_refuses_what_is_not_json_and_reads_back_what_json_gives() -> None:
    async def check() -> None:
        store = BotStore.in_memory("bot:test")
        with pytest.raises(TypeError, match="'k' is not JSON data"):
            await store.set("k", {1, 2})
        with pytest.raises(TypeError, match="not JSON data"):
            await store.set("k", float("nan"))
        with pytest.raises(ValueError, match="ttl"):
            await store.set("k", 1, ttl=-1)
        await store.set("k", {"t": (1, 2), 3: "x"})
        assert await store.get("k") == {"t": [1, 2], "3": "x"}
        assert await store.incr("n") == 1 and await store.incr("n", 4) == 5
        assert await store.hash_set("h", "a", [1]) and not await store.hash_set("h", "a", [2], only_if_new=True)
        assert await store.hash_get_all("h") == {"a": [1]}
        assert await store.get_many(["k", "missing"]) == [{"t": [1, 2], "3": "x"}, None]
        assert await store.delete("k") and not await store.delete("k")
        assert json.dumps(await store.hash_get_all("nothing")) == "{}"

    asyncio.run(check())
