"""Delivery: giving each ``message`` event its id and time, keeping it in history, and putting it on the wire.

Socket.IO rooms carry the addressing: every connection enters the room's
channel and its user's channel, so a message to a user reaches all of that
user's connections, on every server when a Redis manager is configured.

``Transport`` is what the core needs of the wire; the transport adapter
(roomchat/transport/socketio.py, python-socketio's server with roomchat's
adjustments) implements it. Every ``message`` event of the server leaves
through ``Delivery.send``, which hands it to the ``Outbox``:

- one server (``LocalOutbox``): the message takes the next id of the history's
  sequence, is recorded (history, issue 13) and is fanned out to this server's
  connections, with no await in between, so ids go out in the order they were
  given and every id a reader can see handed out is already recorded;
- a cluster (roomchat/cluster/messages.py): one Redis script gives the id from
  the cluster's counter, keeps the message in its room's tail and publishes it;
  every server's message feed fans it out here (``Delivery.fan_out``), in the
  order of ids.

A connection that joined with ``history`` or ``since`` is *held* until its
``history`` event is out (core/catchup.py): the messages addressed to it, and
the room's presence events (``announce``), are kept aside (``hold``), and
``release`` sends those the history did not hold, in order, before it lets
live events through. So ``history`` comes right after ``initial-response``,
and history and live messages meet with no gap and no duplicate
(docs/storage.md, "Reading history").
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .. import protocol
from ..clock import Clock
from ..logs import event
from ..protocol import Message
from ..storage.history import History
from ..storage.ids import format_id, parse_id
from ..users import ROOM_ID

__all__ = ["Delivery", "LocalOutbox", "Outbox", "Transport", "room_channel", "user_channel"]

log = logging.getLogger("roomchat.messages")

MAX_HELD = 10_000
"""Messages kept aside for one joining connection at most; past it the connection is closed at release (it rejoins)."""


class Transport(Protocol):
    """What the core needs of the wire (the transport adapter implements it)."""

    async def emit(self, event: str, data: Any = None, to: str | None = None, skip_sid: Any = None,
                   ignore_queue: bool = False) -> None:
        """Send ``event`` to a connection or channel ``to``, but not to ``skip_sid`` (a sid or a list of them).

        ``ignore_queue``: to this server's connections only, even in a cluster.
        """
        ...

    async def enter_room(self, sid: str, room: str) -> None:
        """Put connection ``sid`` in channel ``room``."""
        ...

    async def disconnect(self, sid: str) -> None:
        """Close connection ``sid`` with a normal Socket.IO disconnect (on whichever server holds it)."""
        ...

    def is_connected(self, sid: str) -> bool:
        """Whether connection ``sid`` is still connected to this server."""
        ...

    def wants_ack(self) -> bool:
        """Whether the emit being handled now came with an ack callback."""
        ...


class Outbox(Protocol):
    """How a message gets its id, its place in history, and to every server's connections."""

    async def post(self, room: str, data: dict[str, Any], target: int | None, skip: list[str],
                   keep: bool) -> dict[str, Any]:
        """Give ``data`` its id, record it if ``keep`` (the room keeps history), and deliver it; ``data`` with its id.

        ``target``: the addressed user of a direct message (None: the room);
        ``skip``: connections that must not get it (a broadcast's sender's).
        Raises ``Refusal("unavailable")`` when it could not go out (a cluster's Redis is away).
        """
        ...

    async def fresh_id(self) -> str:
        """An id that no message will carry, in the sequence's order (a consumed message's ack)."""
        ...

    async def settled(self, through: int) -> None:
        """Return once every message with an id up to ``through`` reached this server's connections."""
        ...


def room_channel(room: str) -> str:
    """The Socket.IO room of a chat room (prefixed, so no name can pose as a user channel)."""
    return "r:" + room


def user_channel(room: str, user_id: int) -> str:
    """The Socket.IO room of one user's connections in one chat room."""
    return f"u:{user_id}:{room}"


@dataclass(eq=False)
class Hold:
    """A joining connection's events kept aside until its ``history`` is out, in arrival order.

    Each is ``(id, event, payload)``: a message's id, or None for a presence
    event (never in a history, so always sent).
    """

    user_id: int
    held: list[tuple[int | None, str, dict[str, Any]]] = field(default_factory=list)
    overflowed: bool = False

    def keep(self, seq: int | None, event_name: str, payload: dict[str, Any]) -> None:
        """Keep one event aside (up to ``MAX_HELD``; past it the hold has overflowed)."""
        if len(self.held) < MAX_HELD:
            self.held.append((seq, event_name, payload))
        else:
            self.overflowed = True


class Delivery:
    """Builds ``message`` payloads (with the server clock's time), hands them to the outbox, and fans them out."""

    def __init__(self, transport: Transport, clock: Clock) -> None:
        self._transport = transport
        self._clock = clock
        self.outbox: Outbox | None = None  # attached by the composition root
        self.room_keeps: Callable[[str], bool] = lambda room: True  # whether a room keeps history (for chat.send)
        # A reference unique across servers and restarts: a per-process prefix and a counter.
        self._prefix = os.urandom(4).hex()
        self._counter = itertools.count(1)
        self._holds: dict[str, dict[str, Hold]] = {}  # room -> sid -> its hold

    def attach(self, outbox: Outbox, room_keeps: Callable[[str], bool]) -> None:
        """Give delivery its outbox (built with the storage) and how to tell whether a room keeps history."""
        self.outbox = outbox
        self.room_keeps = room_keeps

    def new_ref(self) -> str:
        """A fresh reference for a message on its way (``ctx.ref``): unique across servers and restarts, not an id."""
        return f"{self._prefix}-{next(self._counter):x}"

    def data(self, sender_id: int, message: Message, to: int | None = None) -> dict[str, Any]:
        """The ``data`` of a ``message`` event, without its id yet: from, message, the server's time (ms).

        ``to`` is the addressed user of a direct message: its data carries ``"to"``, so a recipient
        (a bot, say) can tell a message to it from one to the whole room, which has no ``"to"``.
        """
        data: dict[str, Any] = {
            "from": sender_id,
            "message": {"type": message.type, "value": message.value},
            "id": "",
            "time": int(self._clock.now() * 1000),
        }
        if to is not None:
            data["to"] = to
        return data

    def send(self, room: str, data: dict[str, Any], target: int | None = None, skip: list[str] | None = None,
             keep: bool | None = None) -> Awaitable[dict[str, Any]]:
        """Deliver prepared ``data`` (to user ``target``, or the room but ``skip``); await it for ``data`` with its id.

        ``keep``: whether the room keeps history (asked of the room's config when not given).
        (The outbox's own awaitable, not a coroutine of its own: one frame less per message.)
        """
        assert self.outbox is not None, "the server has not attached its outbox"
        if keep is None:
            keep = self.room_keeps(room)
        return self.outbox.post(room, data, target, skip or [], keep)

    async def consumed_id(self) -> str:
        """The id a consumed message's ack carries: in the sequence, never a message's."""
        assert self.outbox is not None, "the server has not attached its outbox"
        return await self.outbox.fresh_id()

    def fan_out(self, room: str, data: dict[str, Any], target: int | None, skip: list[str]) -> Awaitable[None]:
        """Put a message with its id on this server's connections: the room's, or user ``target``'s (await it).

        Held connections (joins waiting for their history) get it kept aside instead.
        """
        payload = protocol.payload("New message", data)
        holds = self._holds.get(room)
        if holds:
            skip = self._keep_aside(holds, parse_id(data["id"]) or 0, protocol.MESSAGE, payload, target, skip)
        channel = room_channel(room) if target is None else user_channel(room, target)
        return self._transport.emit(protocol.MESSAGE, payload, to=channel, skip_sid=skip, ignore_queue=True)

    async def announce(self, room: str, event_name: str, payload: dict[str, Any], skip: list[str],
                       ignore_queue: bool = False) -> None:
        """A presence event (``user-connected``, ``user-disconnected``) to the room's connections but ``skip``.

        Held connections get it after their ``history``, in its place among
        their held messages. ``ignore_queue``: this server's connections only.
        """
        holds = self._holds.get(room)
        if holds:
            skip = self._keep_aside(holds, None, event_name, payload, None, skip)
        await self._transport.emit(event_name, payload, to=room_channel(room), skip_sid=skip,
                                   ignore_queue=ignore_queue)

    @staticmethod
    def _keep_aside(holds: dict[str, Hold], seq: int | None, event_name: str, payload: dict[str, Any],
                    target: int | None, skip: list[str]) -> list[str]:
        held: list[str] = []
        for sid, hold in holds.items():
            if (target is None or hold.user_id == target) and sid not in skip:
                held.append(sid)
                hold.keep(seq, event_name, payload)
        return [*skip, *held] if held else skip

    # -- joins with history ---------------------------------------------------------------

    def hold(self, room: str, sid: str, user_id: int) -> None:
        """Keep the messages addressed to connection ``sid`` (of user ``user_id``) aside until ``release``.

        Call it before the connection enters its channels.
        """
        self._holds.setdefault(room, {})[sid] = Hold(user_id)

    async def release(self, room: str, sid: str, through: int) -> None:
        """Send ``sid`` what was kept aside (messages: those with an id above ``through``), in order; end its hold.

        Messages that arrive meanwhile are kept aside too and sent in the next
        round; the hold ends only once none is waiting, with no await between
        that check and its end. A hold that overflowed closes the connection
        instead (it missed messages: it rejoins with ``since``).
        """
        holds = self._holds.get(room)
        hold = holds.get(sid) if holds else None
        if hold is None:
            return
        while hold.held and not hold.overflowed:
            waiting, hold.held = hold.held, []
            for seq, event_name, payload in waiting:
                if seq is None or seq > through:
                    await self._transport.emit(event_name, payload, to=sid)
        self.drop(room, sid)
        if hold.overflowed:
            event(log, "catch_up_overflow", logging.WARNING, room=room, sid=sid, held=MAX_HELD)
            await self._transport.disconnect(sid)

    def drop(self, room: str, sid: str) -> None:
        """End ``sid``'s hold without sending anything (it left)."""
        holds = self._holds.get(room)
        if holds is not None and holds.pop(sid, None) is not None and not holds:
            del self._holds[room]

    # -- a plugin's chat.send -------------------------------------------------------------

    async def from_room(self, room: str, type: str, value: Any, to: int | None = None) -> dict[str, Any]:
        """A plugin's ``chat.send``: a message from the room (ID 0) to the room, or to one user of it."""
        return await self.send(room, self.data(ROOM_ID, Message(type, value), to=to), to)


class LocalOutbox:
    """One server's outbox: the history's next id, recorded, and fanned out here, with no await in between."""

    def __init__(self, history: History, delivery: Delivery) -> None:
        self.history = history
        self.delivery = delivery

    async def post(self, room: str, data: dict[str, Any], target: int | None, skip: list[str],
                   keep: bool) -> dict[str, Any]:
        """Give ``data`` its id, record it (when ``keep``), fan it out; see ``Outbox.post``."""
        history = self.history
        seq = history.assign()
        data["id"] = format_id(seq)
        if keep:
            message = data["message"]
            history.record(room, seq, data["from"], target, message["type"], message["value"], data["time"])
        await self.delivery.fan_out(room, data, target, skip)
        return data

    async def fresh_id(self) -> str:
        """The next id of the sequence, which no message will carry."""
        return format_id(self.history.assign())

    async def settled(self, through: int) -> None:
        """Nothing to wait for: on one server a message is fanned out as its id is given."""
