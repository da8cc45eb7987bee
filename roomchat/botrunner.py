"""Running bots: one Socket.IO connection per room, reconnection, supervision.

The same code runs a bot in both places:

- inside ``roomchat serve``: the server's ``BotHost`` (``roomchat/bothost.py``)
  reads the config's ``bots:`` and runs each bot with a ``BotRunner``, over
  loopback like any client;
- as a process of its own: ``roomchat bot run`` (``roomchat/botcli.py``),
  with the token of a user the server knows.

A ``RoomLink`` is one connection to one room. It feeds the room's events to
the bot one at a time, in order, from a queue (so a slow handler never stalls
the socket's heartbeat), and reconnects with backoff when the connection
drops. A ``BotRunner`` runs one bot in all its rooms and restarts it, as a
fresh instance, with backoff when it crashes (a failure outside a handler:
in ``on_start``, say). A handler that raises is only logged (``Bot._safely``).

Network backoff waits in real time; everything the bot itself schedules goes
through its clock (``Bot.clock``), which tests replace with a FakeClock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
import socketio

from . import protocol
from .bot import Bot, BotRoom
from .client.ack import Ack
from .client.wire import data_of
from .logs import event

log = logging.getLogger("roomchat.bots")

FATAL_CODES = frozenset({"unauthorized", "room_not_found", "room_required", "forbidden", "invalid_name"})
"""Refusals that retrying cannot fix: ``roomchat bot run`` stops on them at its first attempt."""


class BotRefused(Exception):
    """The server refused the bot's connection (``code`` is PROTOCOL.md's)."""

    def __init__(self, room: str, code: str | None, message: str) -> None:
        super().__init__(f"room {room!r}: {message} ({code or 'no code'})")
        self.room = room
        self.code = code
        self.message = message


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``initial``, doubling, up to ``maximum`` seconds.

    Why not tenacity (issue 11 asked): tenacity retries a call until it
    succeeds, and counts attempts within one such retry. The loops here have
    no success to stop at: a room link reconnects after every disconnect, a
    clean one included, for as long as the bot runs, and its delay starts
    again from ``initial`` once a connection got in (``reset`` after each
    join), while a bot's restart delay resets after a minute of running. With
    tenacity that is a retry on every outcome, a wait strategy holding this
    same counter outside the retry (to reset it), and the first-attempt fatal
    refusal as a stop predicate: its machinery around these fifteen lines,
    plus a dependency, for nothing these loops need.
    """

    initial: float = 0.5
    maximum: float = 30.0
    attempt: int = 0

    def next(self) -> float:
        """The next delay (and count one more attempt)."""
        delay = min(self.maximum, self.initial * 2 ** self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        """Start again from ``initial`` (after a success)."""
        self.attempt = 0


class RoomLink:
    """One bot's connection to one room: connects, feeds events to the bot, reconnects."""

    def __init__(self, room: BotRoom, url: str, token: str, *, fatal_refusals: bool = False,
                 backoff: Backoff | None = None, ack_timeout: float = 10.0) -> None:
        self.room = room
        self.url = url
        self.token = token
        self.fatal_refusals = fatal_refusals
        self.backoff = backoff or Backoff(initial=0.5, maximum=10.0)
        self.ack_timeout = ack_timeout
        self.joins = 0  # how many times the bot joined this room
        self.joined = asyncio.Event()
        self._client: socketio.AsyncClient | None = None
        self._closing = asyncio.Event()  # the bot left the room for good (BotRoom.leave)
        room._link = self  # so that BotRoom.leave() reaches this link even before the first join

    @property
    def connected(self) -> bool:
        """Whether the connection is up."""
        return self._client is not None and self._client.connected

    async def call(self, event_name: str, *args: Any) -> Ack:
        """Emit with an ack callback; a refusal, a timeout or a dropped connection is an Ack too."""
        client = self._client
        if client is None or not client.connected:
            return Ack.refusal("disconnected", "The bot is not connected to this room")
        try:
            reply = await client.call(event_name, args[0] if len(args) == 1 else args, timeout=self.ack_timeout)
        except socketio.exceptions.TimeoutError:
            return Ack.refusal("timeout", "The server did not answer in time")
        except (socketio.exceptions.DisconnectedError, socketio.exceptions.BadNamespaceError):
            return Ack.refusal("disconnected", "The bot is not connected to this room")
        return Ack.of(reply)

    async def close(self) -> None:
        """Leave the room for good: disconnect, and do not connect again (``run`` returns)."""
        self._closing.set()
        client = self._client
        if client is not None and client.connected:
            await client.disconnect()

    async def run(self) -> None:
        """Stay in the room until cancelled or closed: connect, handle events, reconnect with backoff."""
        first = True
        while not self._closing.is_set() and not self.room.left:
            try:
                async with aiohttp.ClientSession() as http:
                    await self._visit(http)
            except BotRefused as refused:
                if first and self.fatal_refusals and refused.code in FATAL_CODES:
                    raise
                event(log, "bot_refused", logging.WARNING, room=self.room.name, code=refused.code or "",
                      reason=refused.message)
            except (socketio.exceptions.ConnectionError, OSError) as exc:
                event(log, "bot_unreachable", logging.WARNING, room=self.room.name, url=self.url, reason=str(exc))
            first = False
            if self._closing.is_set() or self.room.left:
                break
            delay = self.backoff.next()
            event(log, "bot_reconnect", room=self.room.name, bot=self.room.me.id, seconds=round(delay, 2))
            try:
                await asyncio.wait_for(self._closing.wait(), delay)
            except TimeoutError:
                pass
        event(log, "bot_left", room=self.room.name, bot=self.room.me.id)

    async def _visit(self, http: aiohttp.ClientSession) -> None:
        """One connection, from connect to disconnect, on an HTTP session of its own (``run`` closes it after).

        Never one session for several connections: python-engineio's
        AsyncClient closes the session it was given when the client object is
        garbage-collected (its ``__del__`` does not check that the session was
        not its own). A collection of the last connection's client after the
        next one was up closed that one too, from whichever thread the
        collector ran in, so the bot's event loop never noticed: the bot went
        deaf until the ping timeout (tests/test_bot_process.py).
        """
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        refusal: dict[str, Any] = {}
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        for name in (protocol.INITIAL_RESPONSE, protocol.USER_CONNECTED, protocol.USER_DISCONNECTED,
                     protocol.MESSAGE, protocol.ERROR_RESPONSE):
            client.on(name, _enqueue(queue, name))
        client.on("disconnect", lambda *reason: queue.put_nowait(("disconnect", reason[0] if reason else "")))

        def connect_error(data: Any = None) -> None:
            refusal.update(data if isinstance(data, dict) else {"message": str(data)})

        client.on("connect_error", connect_error)
        self._client = client
        try:
            try:
                await client.connect(self.url, auth={"room": self.room.name, "token": self.token},
                                     transports=["websocket"], wait_timeout=10)
            except socketio.exceptions.ConnectionError as exc:
                code = (refusal.get("data") or {}).get("code") if isinstance(refusal.get("data"), dict) else None
                if code:  # the server said no; anything else means it could not be reached
                    raise BotRefused(self.room.name, code, refusal.get("message", str(exc))) from None
                raise
            await self._handle_events(queue)
        finally:
            self._client = None
            self.joined.clear()
            await self.room._left()
            if client.connected:
                await client.disconnect()

    async def _handle_events(self, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        task = asyncio.current_task()
        while True:
            if task is not None and task.cancelling():
                # A cancellation that a handler's await lost: on Python 3.11, asyncio.wait_for (python-socketio's
                # call() uses it) returns normally when its future completes as the cancellation arrives
                # (CPython gh-86296), and the bot would wait here for ever, holding up the server's shutdown.
                raise asyncio.CancelledError
            name, payload = await queue.get()
            if name == "disconnect":
                event(log, "bot_disconnected", room=self.room.name, bot=self.room.me.id, reason=str(payload))
                return
            data = data_of(payload)
            if name == protocol.INITIAL_RESPONSE:
                await self.room._joined(self, data)
                self.joins += 1
                self.backoff.reset()
                self.joined.set()
                event(log, "bot_joined", room=self.room.name, bot=self.room.me.id)
            elif not self.room.joined:
                continue  # nothing reaches a connection before its initial-response; be safe anyway
            elif name == protocol.MESSAGE:
                await self.room._message(data)
            elif name == protocol.USER_CONNECTED:
                await self.room._user_joined(data)
            elif name == protocol.USER_DISCONNECTED:
                await self.room._user_left(data)
            elif name == protocol.ERROR_RESPONSE:
                event(log, "bot_emit_refused", logging.WARNING, room=self.room.name, data=str(data))


def _enqueue(queue: asyncio.Queue[tuple[str, Any]], name: str) -> Callable[..., None]:
    def handler(*args: Any) -> None:
        queue.put_nowait((name, args[0] if args else None))
    return handler


class BotRunner:
    """Runs one bot in its rooms until cancelled; a crashed bot restarts, fresh, with backoff.

    ``make_bot`` builds a new instance (a restart starts from a clean state).
    ``fatal_refusals``: stop (raise BotRefused) when the very first connection
    to a room is refused for a reason retrying cannot fix (a bad token, say).
    """

    def __init__(self, make_bot: Callable[[], Bot], url: str, token: str, rooms: Iterable[str], *,
                 label: str = "bot", fatal_refusals: bool = False, restart: Backoff | None = None) -> None:
        self.make_bot = make_bot
        self.url = url
        self.token = token
        self.rooms = list(rooms)
        self.label = label
        self.fatal_refusals = fatal_refusals
        self.restart = restart or Backoff(initial=1.0, maximum=60.0)
        self.bot: Bot | None = None
        self.links: dict[str, RoomLink] = {}
        self.starts = 0
        self.crashes = 0
        self.changed = asyncio.Event()  # set whenever a link was replaced (a restart)

    async def run(self) -> None:
        """Run, restarting after crashes, until cancelled, a fatal refusal, or the bot left every room."""
        while True:
            started = time.monotonic()
            try:
                await self._run_once()
                event(log, "bot_done", bot=self.label)
                return  # every room link ended by itself: the bot left them all
            except (asyncio.CancelledError, BotRefused):
                raise
            except Exception:
                self.crashes += 1
                event(log, "bot_crashed", logging.ERROR, bot=self.label, crashes=self.crashes)
                log.exception("bot %s crashed; restarting it", self.label)
            if time.monotonic() - started > 60:
                self.restart.reset()
            delay = self.restart.next()
            event(log, "bot_restart", bot=self.label, seconds=round(delay, 2))
            await asyncio.sleep(delay)

    async def _run_once(self) -> None:
        bot = self.make_bot()
        self.bot = bot
        self.starts += 1
        self.links = {}
        try:
            await bot.on_start()
            links = [RoomLink(bot.room(name), self.url, self.token, fatal_refusals=self.fatal_refusals)
                     for name in self.rooms]
            self.links = {link.room.name: link for link in links}
            self.changed.set()
            tasks = [asyncio.create_task(link.run(), name=f"{self.label}:{link.room.name}") for link in links]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    task.result()  # a link ends by raising, or when the bot left its room
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            bot._stop_timers()
            await bot._safely("on_stop", bot.on_stop)

    async def wait_joined(self, timeout: float = 10.0) -> None:
        """Wait until the bot is in every one of its rooms."""
        async def joined() -> None:
            while len(self.links) < len(self.rooms):
                self.changed.clear()
                await self.changed.wait()
            await asyncio.gather(*(link.joined.wait() for link in self.links.values()))

        await asyncio.wait_for(joined(), timeout)


def loopback_url(host: str, port: int) -> str:
    """The URL a bot in the server's process uses to reach the server bound at ``host:port``."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

