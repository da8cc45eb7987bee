"""What a plugin sees of one message, and what it can do with it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import BaseModel

from .errors import Refusal
from .users import User

if TYPE_CHECKING:
    from .api import Chat
    from .config import RoomConfig
    from .messagetypes import MessageType


@dataclass(slots=True, eq=False)
class MessageState:
    """One message on its way through the pipeline, shared by every plugin's view of it (``MessageContext``).

    ``loaded`` is what its type validated (``MessageType.load``); ``value`` is
    the value now (handlers may replace it); ``message_type`` is None for a
    type the room does not know.
    """

    room: str
    room_config: RoomConfig
    sender: User
    type: str
    target: int | None
    message_type: MessageType | None
    value: Any
    loaded: Any
    ref: str = ""  # made on first use (``make_ref``): most messages never need one
    make_ref: Callable[[], str] | None = None
    id: str | None = None
    consumed: bool = False
    after: list[Callable[[dict[str, Any]], Any]] | None = None  # ``after_delivery`` callbacks

    def wire_value(self) -> Any:
        """The value as JSON data: what recipients get."""
        value = self.value
        if value is self.loaded and self.message_type is not None:
            return self.message_type.dump(value)
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        return value


class MessageContext:
    """One message on its way through the pipeline, as one plugin sees it.

    Read: ``room`` (its name), ``room_config``, ``sender`` (a ``User``),
    ``type``, ``message_type`` (its ``MessageType``, None for a type the room
    does not know), ``value`` (what the type validated: a model instance for a
    model type, else the validated data), ``wire_value`` (the value as JSON
    data, as recipients get it), ``target`` (the addressed user's ID, or None
    for a broadcast), ``is_broadcast``, ``ref`` (a reference unique to this
    message, known from the start: a poll's id, say), ``id`` (the id the
    delivered message carries: None until it is delivered, so set in
    ``roomchat_message_delivered``), ``consumed``; and this plugin's own ``chat`` (its ``roomchat.Chat``)
    and ``settings`` (its settings for this room: its settings model, or a dict).
    Act: change ``value`` to transform what recipients get (a model, or JSON
    data); ``reply`` / ``send_to_room`` / ``send_to_user`` to answer as the
    room (ID 0); ``consume()`` to stop delivery; ``invalid(...)`` to refuse
    with ``validation_failed``; ``refuse(...)`` to refuse with any other code;
    ``after_delivery(fn)`` to learn the id the message was delivered with.

    Each plugin gets a view of its own (its ``chat`` and ``settings``) over the
    one message: a change of ``value`` or ``consume()`` is seen by the plugins
    after it.
    """

    __slots__ = ("_message", "chat", "settings")

    def __init__(self, message: MessageState, chat: Chat, settings: Any) -> None:
        self._message = message
        self.chat = chat
        self.settings = settings

    @property
    def room(self) -> str:
        """The room's name."""
        return self._message.room

    @property
    def room_config(self) -> RoomConfig:
        """The room's ``RoomConfig`` (``title``, ``admit``, ``max_users``...)."""
        return self._message.room_config

    @property
    def sender(self) -> User:
        """The sending user."""
        return self._message.sender

    @property
    def type(self) -> str:
        """The message's type."""
        return self._message.type

    @property
    def message_type(self) -> MessageType | None:
        """The message's registered ``MessageType`` in this room, or None for a type the room does not know."""
        return self._message.message_type

    @property
    def target(self) -> int | None:
        """The addressed user's ID for a direct ``message``; None for a broadcast."""
        return self._message.target

    @property
    def is_broadcast(self) -> bool:
        """True for ``broadcast-message``, False for a direct ``message``."""
        return self._message.target is None

    @property
    def ref(self) -> str:
        """A reference unique to this message among all messages of every server and restart, known from the start.

        Not a message id (ids are given at delivery, in the room's order): use it
        for what a handler must name before delivery (the poll plugin's poll id).
        """
        state = self._message
        if not state.ref and state.make_ref is not None:
            state.ref = state.make_ref()
        return state.ref

    @property
    def id(self) -> str | None:
        """The id the delivered message carries: None until delivery (set in ``roomchat_message_delivered``)."""
        return self._message.id

    @property
    def value(self) -> Any:
        """The value: what its type validated (a model instance for a model type), or what a plugin put here."""
        return self._message.value

    @value.setter
    def value(self, value: Any) -> None:
        self._message.value = value

    @property
    def wire_value(self) -> Any:
        """The value as JSON data, as recipients get it (a model dumped as its type dumps it)."""
        return self._message.wire_value()

    @property
    def consumed(self) -> bool:
        """True once ``consume()`` was called."""
        return self._message.consumed

    def consume(self) -> None:
        """Deliver this message to nobody; later handlers are skipped; the sender's ack still says it was accepted."""
        self._message.consumed = True

    def after_delivery(self, callback: Callable[[dict[str, Any]], Any]) -> None:
        """Call ``callback(data)`` once the message is delivered, with its ``message`` event's data (its id included).

        ``data`` is a copy; ``callback`` may be ``async`` (awaited within the
        handler time limit, before the sender's ack). Not called for a message
        that is consumed or refused. For what a handler must tie to the
        message's id, which is given only at delivery (``ctx.ref`` is known before).
        """
        state = self._message
        if state.after is None:
            state.after = []
        state.after.append(callback)

    def refuse(self, code: str, message: str, **details: Any) -> NoReturn:
        """Refuse the message with a PROTOCOL.md code; nobody receives it.

        ``message`` is a sentence the sender can read; ``details`` become
        extra keys of the refusal's ``data``.
        """
        raise Refusal(code, message, **details)

    def invalid(self, msg: str, loc: Sequence[str | int] = (), type: str = "value_error") -> NoReturn:
        """Refuse with ``validation_failed`` and one field-level error, shaped like the model's own.

        ``loc`` is the path of the offending field inside ``value``
        (``("option",)``); ``msg`` says what is wrong with it.
        """
        raise Refusal(
            "validation_failed", f"This {self.type} message is not valid: {msg}",
            errors=[{"loc": list(loc), "msg": msg, "type": type}],
        )

    async def reply(self, value: Any, type: str | None = None) -> None:
        """Send a message from the room (ID 0) to the sender's connections (``type``: this message's by default)."""
        await self.chat.send(self.room, type or self.type, value, to=self.sender.id)

    async def send_to_user(self, user_id: int, value: Any, type: str | None = None) -> None:
        """Send a message from the room (ID 0) to one user of this room."""
        await self.chat.send(self.room, type or self.type, value, to=user_id)

    async def send_to_room(self, value: Any, type: str | None = None) -> None:
        """Send a message from the room (ID 0) to everyone in it, the sender included."""
        await self.chat.send(self.room, type or self.type, value)
