"""Clients that stop answering: helpers of the stale-client tests (``from stalekit import stale_client``).

A stale client joins a room like any other and then stops answering the
server's Engine.IO pings, as a laptop does when its lid closes: its socket
stays open, and the server finds it past its ping timeout only when it next
sends to it or when python-engineio's ping-timeout sweep comes by.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rawio import RawClient, Transport

from roomchat.testing import ChatClient

# Short heartbeats keep these tests fast: a stale client times out a second after its ping.
PING = {"ping_interval": 1, "ping_timeout": 1}


@dataclass
class Stale:
    """A joined client that no longer answers (``raw``), and its user ID."""

    raw: RawClient
    id: int


def stale_client(url: str, room: str, transport: Transport, name: str) -> Stale:
    """Join ``room`` as a guest named ``name``, then stop answering pings.

    Over WebSocket it sends one last packet after the server's ping has
    arrived (a message typed just before the lid closed): python-engineio's
    WebSocket reader drops a socket silent for ``ping_interval + ping_timeout``
    on its own, and that last packet restarts that clock, so the socket stays
    open past its ping timeout, as a real one does.
    """
    raw = RawClient(url, transport, answer_pings=False)
    users = raw.join(room, name=name)
    if transport == "websocket":
        raw.wait_until(lambda: "2" in raw.received, "the server's first ping")
        raw.emit("message", None)  # refused (invalid_message): the reply is never read
    return Stale(raw, users[-1]["ID"])


def gone(observer: ChatClient, user_ids: list[int]) -> Callable[[], bool]:
    """True once ``observer`` has heard ``user-disconnected`` for every one of ``user_ids``."""
    def check() -> bool:
        left = {p["data"]["ID"] for p in observer.received("user-disconnected")}
        return set(user_ids) <= left
    return check


def churn_until(urls: list[str], room: str, observers: list[ChatClient], done: Callable[[], bool], what: str,
                timeout: float = 30.0, prefix: str = "newcomer") -> int:
    """Newcomers join ``room`` and leave again, one after another, until ``done()``; how many came.

    They take turns at the servers of ``urls``.
    Each newcomer must get its ``initial-response`` and every observer must
    hear it join and leave: each wait is bounded, so a frozen room fails
    here instead of hanging. (Joins and leaves are also what emits to the
    room, and so what reaches a stale client past its ping timeout.)
    """
    deadline = time.monotonic() + timeout
    count = 0
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what} ({count} newcomers came and went)"
        try:
            newcomer = ChatClient(urls[count % len(urls)], room=room, name=f"{prefix} {count}", timeout=5)
        except TimeoutError as error:
            raise AssertionError(f"{prefix} {count} got no initial-response: the room is frozen ({error})") from None
        _heard(observers, "user-connected", newcomer.id, f"{prefix} {count} join")
        newcomer.close()
        _heard(observers, "user-disconnected", newcomer.id, f"{prefix} {count} leave")
        count += 1
    return count


def _heard(observers: list[ChatClient], event: str, user_id: int, what: str) -> None:
    for observer in observers:
        try:
            observer.wait_for(event, lambda p: p["data"]["ID"] == user_id, timeout=5)
        except TimeoutError:
            raise AssertionError(f"{observer.me['name']} never heard of {what}: the room is frozen") from None


# A test-only plugin: one message type holds the sender's room's lock (as a join or leave under way
# does) until another releases it, one blocks the event loop with synchronous work (as a catastrophic
# regular expression does). Written beside a test's config and loaded with plugins.load. No plugin can
# reach a room's lock (the plugin API has no such thing): this one finds the server's in the process.
HOLD_PLUGIN = '''
"""Test-only: hold a room's lock until released; block the event loop for a while."""
import asyncio
import gc
import time

from roomchat import MessageType, hookimpl
from roomchat.core.joining import RoomLocks

_released: dict = {}
_holders: set = set()


def _room_locks():
    return next(found for found in gc.get_objects() if isinstance(found, RoomLocks))  # the one server's


async def _hold(ctx):
    room, locks = ctx.room, _room_locks()
    released = _released[room] = asyncio.Event()
    held = asyncio.Event()

    async def holder():
        async with locks.hold(room):
            held.set()
            await released.wait()

    task = asyncio.ensure_future(holder())
    _holders.add(task)
    task.add_done_callback(_holders.discard)
    await held.wait()
    ctx.consume()


def _release(ctx):
    _released.pop(ctx.room).set()
    ctx.consume()


def _block(ctx):
    time.sleep(ctx.value)
    ctx.consume()


@hookimpl
def roomchat_register_message_types(register):
    register(MessageType("x-hold-room-lock", handlers=[_hold]))
    register(MessageType("x-release-room-lock", handlers=[_release]))
    register(MessageType("x-block-loop", value=float, handlers=[_block]))
'''


def write_hold_plugin(directory: Path) -> str:
    """Write HOLD_PLUGIN to ``directory``; the name to put in ``plugins.load``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hold_plugin.py").write_text(HOLD_PLUGIN, encoding="utf-8")
    return "hold_plugin.py"


def health(url: str) -> tuple[int, dict[str, Any]]:
    """``GET /healthz``: the status code and the body, 503 included."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_health(url: str, status: int, timeout: float = 20.0) -> dict[str, Any]:
    """Wait (bounded) until ``/healthz`` answers ``status``; its body."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = health(url)
        if code == status:
            return body
        assert time.monotonic() < deadline, f"/healthz kept answering {code} {body}, not {status}"
        time.sleep(0.1)
