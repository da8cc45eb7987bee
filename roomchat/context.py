"""What a plugin sees of one message, and what it can do with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import Refusal
from .protocol import Message
from .users import ROOM_ID, User

if TYPE_CHECKING:
    from .config import RoomConfig
    from .server import ChatServer


class MessageContext:
    """One message on its way through the pipeline.

    Read: ``room`` (its name), ``room_config``, ``sender`` (a ``User``),
    ``type``, ``value`` (validated against the type's model and dumped as
    JSON data: a model arrives as a dict), ``target`` (the addressed user's
    ID, or None for a broadcast), ``is_broadcast``, ``settings`` (the running
    plugin's settings for this room: its settings model, or a dict),
    ``server`` (the ``ChatServer``), ``id`` (the id the delivered message
    carries, known before the handlers run; a consumed message's ack has it too).
    Act: change ``value`` to transform what recipients get; ``reply`` /
    ``send_to_room`` / ``send_to_user`` to answer as the room (ID 0);
    ``consume()`` to stop delivery; ``invalid(...)`` to refuse with
    ``validation_failed``; ``refuse(...)`` to refuse with any other code.
    """

    __slots__ = ("consumed", "id", "room", "room_config", "sender", "server", "settings", "sid", "target", "type", "value")

    def __init__(
        self,
        server: ChatServer,
        room: str,
        room_config: RoomConfig,
        sender: User,
        sid: str,
        message: Message,
        target: int | None,
    ) -> None:
        self.server = server
        self.room = room
        self.room_config = room_config
        self.sender = sender
        self.sid = sid
        self.type = message.type
        self.value = message.value
        self.target = target
        self.settings: Any = None
        self.consumed = False
        self.id: str | None = None

    @property
    def is_broadcast(self) -> bool:
        """True for ``broadcast-message``, False for a direct ``message``."""
        return self.target is None

    def consume(self) -> None:
        """Deliver this message to nobody; the sender's ack still says it was accepted."""
        self.consumed = True

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
        """Send a message from the room (ID 0) to the sender's connections."""
        await self.send_to_user(self.sender.id, value, type)

    async def send_to_user(self, user_id: int, value: Any, type: str | None = None) -> None:
        """Send a message from the room (ID 0) to one user of this room."""
        await self.server.delivery.to_user(self.room, user_id, ROOM_ID, Message(type or self.type, value))

    async def send_to_room(self, value: Any, type: str | None = None) -> None:
        """Send a message from the room (ID 0) to everyone in it, the sender included."""
        await self.server.delivery.to_room(self.room, ROOM_ID, Message(type or self.type, value))
