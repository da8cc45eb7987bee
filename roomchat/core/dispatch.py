"""The path of a chat message: check it, dispatch it by type, deliver it.

For every ``message`` and ``broadcast-message`` emit, in this order:

1. shape (``invalid_message``), size (``too_large``), rate (``rate_limited``);
2. its type: unknown types pass in ``open`` rooms (``unknown_type`` in
   ``known`` rooms); a known type's sender's role is checked (``forbidden``)
   and its value validated (``validation_failed``), against the room's own
   limits too (a text's ``max_length``), so no plugin ever works on a value
   the room refuses;
3. the target of a direct message (``invalid_target``, ``user_not_found``);
4. the all-types hooks (``roomchat_check_message``: moderation, policy), then
   the type's own handlers (transform, answer, consume);
5. delivery (the message's id is given here, in the room's order: a handler
   that must name the message before it uses ``ctx.ref``), then
   ``roomchat_message_delivered``.

``get-history`` (with an ack) pages back through the room's history.

The type is looked up in a dict, so registering more types costs the others
nothing; a message whose type has no handlers in a room without all-types
hooks skips step 4 entirely.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
from collections.abc import Callable
from typing import Any

import orjson

from .. import protocol
from ..clock import run_within
from ..context import MessageContext, MessageState
from ..errors import Refusal
from ..logs import event
from ..protocol import Message
from ..state.base import StateBackend
from ..storage.history import History
from ..users import ROOM_ID
from .delivery import Delivery, Transport
from .plugin_host import Step, TypeEntry
from .sessions import Session, Sessions

log = logging.getLogger("roomchat.messages")
MAX_EVENT_NAME = 100  # of an unknown event's name, echoed back in its refusal
CHECK = "roomchat_check_message"
DELIVERED = "roomchat_message_delivered"


class Dispatcher:
    """The ``message``, ``broadcast-message`` and ``get-history`` handlers (and the refusal of any other event).

    The composition root routes the events here (``SocketServer.client_event``).
    """

    def __init__(self, handler_timeout: float, sessions: Sessions, state: StateBackend, delivery: Delivery,
                 transport: Transport, history: History) -> None:
        self.timeout = handler_timeout
        self.sessions = sessions
        self.presence = state.presence
        self.rate_limiter = state.rate_limiter
        self.delivery = delivery
        self.transport = transport
        self.history = history

    async def direct(self, sid: str, message: Any = None, user_id: Any = None, *_: Any) -> dict[str, Any] | None:
        """``message``: send to one user of the sender's room."""
        return await self._handle(sid, protocol.DIRECT, message, user_id, direct=True)

    async def broadcast(self, sid: str, message: Any = None, *_: Any) -> dict[str, Any] | None:
        """``broadcast-message``: send to every user of the room but the sender."""
        return await self._handle(sid, protocol.BROADCAST, message, None, direct=False)

    async def get_history(self, sid: str, request: Any = None, *_: Any) -> dict[str, Any] | None:
        """``get-history`` ``{"before"?, "limit"?}``: the messages just before ``before`` (or the latest), in the ack.

        Rate-limited like any emit; without an ack callback it is refused with ``invalid_message``.
        """
        session = await self._ready_session(sid)
        if session is None:
            return None
        try:
            if not self.transport.wants_ack():
                raise Refusal("invalid_message", "get-history answers in its ack: emit it with an ack callback")
            asked = protocol.parse_history_request(request)
            await self._rate_limit(session)
            if not session.keeps_history:
                return protocol.history_payload({"messages": [], "complete": False})
            page = await self.history.before(session.room, session.user.id, asked.before, asked.limit)
        except Refusal as refusal:
            return await self._refuse(session, protocol.GET_HISTORY, refusal)
        return protocol.history_payload(page.payload())

    async def other_event(self, event_name: Any, sid: str, *_: Any) -> dict[str, Any] | None:
        """Any other event: refused with ``invalid_message``, so an ack callback is answered, not left to time out."""
        session = await self._ready_session(sid)
        if session is None:
            return None
        shown = str(event_name)[:MAX_EVENT_NAME]  # a raw packet may name an event with a number
        refusal = Refusal("invalid_message",
                          f"There is no event {shown!r}: emit 'message', 'broadcast-message' or 'get-history'")
        return await self._refuse(session, shown, refusal)

    async def refuse(self, sid: str, event_name: str, refusal: Refusal) -> dict[str, Any] | None:
        """Refuse an emit no handler took (unreadable, binary): the ack's payload, or None after ``error-response``."""
        session = await self._ready_session(sid)
        if session is None:
            return None
        return await self._refuse(session, event_name[:MAX_EVENT_NAME], refusal)

    async def _ready_session(self, sid: str) -> Session | None:
        session = self.sessions.get(sid)
        if session is None:
            return None  # the connection is going away
        if not session.ready.is_set():
            await session.ready.wait()  # nothing is sent before initial-response
        return session

    async def _handle(self, sid: str, event_name: str, raw: Any, target: Any, direct: bool) -> dict[str, Any] | None:
        session = self.sessions.get(sid)
        if session is None:
            return None  # the connection is going away
        if not session.ready.is_set():  # _ready_session, without a coroutine per message once joined
            await session.ready.wait()
        try:
            data = await self._process(session, raw, target, direct)
        except Refusal as refusal:
            return await self._refuse(session, event_name, refusal)
        except Exception:
            log.exception("message handling failed")
            return await self._refuse(
                session, event_name, Refusal("plugin_error", "The server could not handle this message")
            )
        return protocol.payload(protocol.SENT, data)

    async def _refuse(self, session: Session, event_name: str, refusal: Refusal) -> dict[str, Any] | None:
        event(log, "refused", code=refusal.code, emit=event_name, room=session.room, user=session.user.id)
        if self.transport.wants_ack():
            return protocol.refused(refusal)
        await self.transport.emit(protocol.ERROR_RESPONSE, protocol.error_response(refusal, event_name), to=session.sid)
        return None

    async def _process(self, session: Session, raw: Any, target: Any, direct: bool) -> dict[str, Any]:
        message = protocol.parse_message(raw)
        room = session.room_config
        if _json_size(message) > room.max_message_bytes:
            raise Refusal("too_large", f"Messages in this room are at most {room.max_message_bytes} bytes as JSON")
        await self._rate_limit(session)
        pipeline = session.pipeline
        entry = pipeline.types.get(message.type)
        loaded = message.value
        if entry is None:
            if pipeline.known_only:
                raise Refusal("unknown_type", f"This room does not accept messages of type {message.type!r}")
        else:
            message_type = entry.message_type
            if message_type.roles is not None and session.user.role not in message_type.roles:
                raise Refusal("forbidden", f"{session.user.role.value.title()}s may not send {message.type!r} messages")
            if not (message_type.direct if direct else message_type.broadcast):
                how = "to one user" if direct else "to the whole room"
                raise Refusal("forbidden", f"{message.type!r} messages cannot be sent {how}")
            loaded = message_type.load(message.value, entry.settings)  # the room's own limits, before any plugin
        target_id = await self._target(session, target) if direct else None
        if (entry is None or not entry.message_type.handlers) and not pipeline.checks and not pipeline.delivered:
            if entry is not None:
                message.value = entry.message_type.dump(loaded)
            return await self._deliver(session, message, target_id)  # nothing to run: the fast path
        return await self._run_plugins(session, message, loaded, target_id, entry)

    async def _rate_limit(self, session: Session) -> None:
        limit = session.room_config.rate_limit
        # Configured bots are not rate limited: a quiz answering 30 students at once is not a flood.
        if limit is not None and not session.user.bot and not await self.rate_limiter.hit(
            session.rate_key, limit.messages, limit.per_seconds
        ):
            raise Refusal(
                "rate_limited", f"Slow down: at most {limit.messages} messages per {limit.per_seconds:g} seconds"
            )

    async def _target(self, session: Session, raw: Any) -> int:
        target_id = protocol.parse_target(raw)
        if target_id == ROOM_ID or await self.presence.member(session.room, target_id) is None:
            raise Refusal("user_not_found", f"User {target_id} is not in this room")
        return target_id

    async def _run_plugins(self, session: Session, message: Message, loaded: Any, target_id: int | None,
                           entry: TypeEntry | None) -> dict[str, Any]:
        state = MessageState(session.room, session.room_config, session.user, message.type, target_id,
                             entry.message_type if entry is not None else None, loaded, loaded,
                             make_ref=self.delivery.new_ref)  # a handle before delivery (a poll's id, say)
        for step in session.pipeline.checks:
            ctx = MessageContext(state, step.chat, step.settings)
            pending = self._start(step, ctx, CHECK)
            if pending:  # an async implementation's awaitable (a synchronous one that let it pass returns nothing)
                await self._finish(step, ctx, CHECK, pending)
        if entry is not None and entry.message_type.handlers:
            ctx = MessageContext(state, entry.chat, entry.settings)
            for handler in entry.message_type.handlers:
                await self._call(handler, ctx, message.type, entry.message_type.plugin)
                if state.consumed:
                    break
        message.value = state.wire_value()
        if state.consumed:  # its ack carries an id of the sequence that no message has (a gap in history)
            data = self.delivery.data(session.user.id, message, to=target_id)
            data["id"] = await self.delivery.consumed_id()
            return data
        data = await self._deliver(session, message, target_id)
        state.id = data["id"]
        if state.after:
            await self._after_delivery(state, data)
        for step in session.pipeline.delivered:
            ctx = MessageContext(state, step.chat, step.settings)
            try:
                # A copy: what recipients got (and history keeps) must not change after delivery.
                pending = self._start(step, ctx, DELIVERED, data=copy.deepcopy(data))
                if pending:
                    await self._finish(step, ctx, DELIVERED, pending)
            except Refusal:
                pass  # too late to refuse; the message is out
        return data

    async def _after_delivery(self, state: MessageState, data: dict[str, Any]) -> None:
        """The handlers' ``ctx.after_delivery`` callbacks: each within handler_timeout, a failure logged, never a refusal."""
        for callback in state.after or ():
            try:
                await run_within(self.timeout, callback, copy.deepcopy(data))
            except Exception:  # too late to refuse: the message is out
                log.exception("an after_delivery callback failed on a %s message", state.type)

    def _start(self, step: Step, ctx: MessageContext, hook: str, **more: Any) -> list[Any]:
        """Call one plugin's implementation of a message hook (through pluggy); what it returned, to await.

        No coroutine of ours per call: the common check (a synchronous one that
        lets the message pass) costs the call alone. A Refusal refuses the
        message; any other failure is ``plugin_error``, logged with the plugin's name.
        """
        try:
            results: list[Any] = step.call(ctx=ctx, **more)
        except Refusal:
            raise
        except Exception:
            log.exception("plugin %s failed in %s on a %s message", step.plugin, hook, ctx.type)
            raise Refusal("plugin_error", f"A plugin failed on this message ({hook})") from None
        return results

    async def _finish(self, step: Step, ctx: MessageContext, hook: str, results: list[Any]) -> None:
        """Await what an implementation returned, within handler_timeout; failures as in ``_start``."""
        try:
            for result in results:
                if inspect.isawaitable(result):
                    async with asyncio.timeout(self.timeout):
                        await result
        except Refusal:
            raise
        except TimeoutError:
            event(log, "plugin_timeout", logging.ERROR, plugin=step.plugin, step=hook, room=ctx.room)
            raise Refusal("plugin_error", f"A plugin took too long with this message ({hook})") from None
        except Exception:
            log.exception("plugin %s failed in %s on a %s message", step.plugin, hook, ctx.type)
            raise Refusal("plugin_error", f"A plugin failed on this message ({hook})") from None

    async def _call(self, fn: Callable[..., Any], ctx: MessageContext, what: str, plugin: str) -> None:
        """Run one handler of a type with a time limit; failures refuse only this message."""
        try:
            await run_within(self.timeout, fn, ctx)
        except Refusal:
            raise
        except TimeoutError:
            event(log, "plugin_timeout", logging.ERROR, plugin=plugin, handler=_name(fn), step=what, room=ctx.room)
            raise Refusal("plugin_error", f"A plugin took too long with this message ({what})") from None
        except Exception:
            log.exception("plugin %s failed: %s on a %s message", plugin, _name(fn), ctx.type)
            raise Refusal("plugin_error", f"A plugin failed on this message ({what})") from None

    async def _deliver(self, session: Session, message: Message, target_id: int | None) -> dict[str, Any]:
        delivery = self.delivery
        data = delivery.data(session.user.id, message, to=target_id)
        if target_id is not None:
            skip: list[str] = []
        else:
            sids = await self.presence.sids(session.room, session.user.id)
            skip = sids if len(sids) > 1 else [session.sid]
        return await delivery.send(session.room, data, target_id, skip, session.keeps_history)


# allow_nan=False: Python reads NaN and Infinity, which JavaScript recipients cannot parse.
# One encoder for every message: json.dumps with options builds a new one per call.
_WIRE_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _json_size(message: Message) -> int:
    wire = message.as_wire()
    try:
        # orjson measures the usual message 5-10x faster. It writes NaN and Infinity as null and refuses
        # what it cannot encode alike (lone surrogates, bytes, integers past 64 bits): the standard
        # library decides those, as it always did.
        fast = orjson.dumps(wire)
    except TypeError:
        fast = None
    if fast is not None and b"null" not in fast:
        return len(fast)
    try:
        text = _WIRE_JSON.encode(wire)
        # A lone surrogate ("\ud800" in the JSON) is valid JSON but not Unicode: it cannot go out as UTF-8.
        return len(text) if text.isascii() else len(text.encode())
    except (TypeError, ValueError):  # binary attachments decode to bytes; UnicodeEncodeError is a ValueError
        raise Refusal(
            "invalid_message",
            "A message must be JSON text (no binary attachments, NaN, Infinity or lone surrogate escapes)",
        ) from None


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
