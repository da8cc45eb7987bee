"""The moderator's offence records outlive a restart of a real server, on SQLite and on PostgreSQL.

The moderator runs in the server's process (``bots:``) with the ladder warn,
mute 60 s, kick, ban (decay 1 h). A student's first offence is a warning; the
server restarts (SIGTERM, or kill -9 once the record is in the database); the
same student's next offence is offence 2: a mute, not a second first warning.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml
from pgkit import pg_database, pg_url  # noqa: F401  (fixtures)
from test_moderator_bot import GRACE, MODERATOR, SETTINGS, USERS, notice, refused, said, server_config

from roomchat.storage.config import driver_url
from roomchat.storage.database import open_database
from roomchat.storage.kv import DatabaseKeyValue
from roomchat.testing import ChatClient, RoomchatProcess
from roomchat.testing.bots import wait_until as kit_wait_until

ROOM = "words"


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    """None: the default SQLite file beside the config; else this test's (emptied) PostgreSQL database."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


wait_until = functools.partial(kit_wait_until, timeout=20.0)  # restarts and writes behind take longer than a handler


def filters_active(server: RoomchatProcess) -> int:
    """How many times the moderator has configured the filter of ROOM (this server process's log)."""
    return server.log().count(f"event=filter_active room={ROOM} ")


def offences(url: str) -> Any:
    """The moderator's offence records of ROOM as the database holds them (read directly)."""
    async def read() -> Any:
        db = await open_database(driver_url(url), migrate=False)
        try:
            return await DatabaseKeyValue(db).get(f"bot:moderator:{MODERATOR}:offences:{ROOM}")
        finally:
            await db.close()

    return asyncio.run(read())


@pytest.mark.parametrize("stop", ["sigterm", "kill"])
def test_a_student_warned_before_a_restart_is_muted_after_it(tmp_path: Path, storage_url: str | None,
                                                             stop: str) -> None:
    config = server_config({"role": "TEACHER", "settings": SETTINGS})
    if storage_url is not None:
        config["storage"] = {"url": storage_url}
    path = tmp_path / "roomchat.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    url = storage_url or f"sqlite:///{tmp_path / 'data' / 'roomchat.sqlite3'}"
    server = RoomchatProcess(path).start()
    try:
        wait_until(lambda: filters_active(server) == 1, "the moderator's filter in the room")
        with ChatClient(server.url, room=ROOM, token=USERS[GRACE][2]) as grace:
            assert refused(said(grace, "shit"), rule="words:profanity")
            warned = notice(grace, action="warn")
            assert warned["offence"] == 1 and warned["next"] == "mute 1m"
        stored = wait_until(lambda: offences(url), "the offence in the database")  # written behind, within 50 ms
        assert list(stored) == [str(GRACE)] and len(stored[str(GRACE)]) == 1
        if stop == "kill":
            server.kill()
            server.stop()
        else:
            assert server.stop() in (0, -15)
        server = RoomchatProcess(path, port=server.port).start()
        wait_until(lambda: filters_active(server) == 1, "the moderator back, its filter configured again")
        with ChatClient(server.url, room=ROOM, token=USERS[GRACE][2]) as grace:
            assert refused(said(grace, "shit"), rule="words:profanity")
            muted = notice(grace, action="mute")
            assert muted["offence"] == 2 and muted["seconds"] == 60  # the record came back from the database
        assert len(wait_until(lambda: len((offences(url) or {}).get(str(GRACE), [])) == 2 and offences(url),
                              "both offences in the database")[str(GRACE)]) == 2
    finally:
        server.stop()
