"""Message types: a name, the shape of its value, and the handlers its messages pass through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from .errors import Refusal
from .users import Role

if TYPE_CHECKING:
    from .context import MessageContext

Handler = Callable[["MessageContext"], Awaitable[None] | None]


@dataclass
class MessageType:
    """A message type a plugin registers.

    - ``name``: the ``type`` clients send.
    - ``value``: what ``value`` must be: a pydantic model or any type pydantic
      validates (``str``, ``Annotated[int, Field(ge=0)]``...). A value that does
      not match is refused with ``validation_failed`` and field-level ``errors``;
      one that matches is delivered as the model dumps it (normalised).
    - ``handlers``: the type's pipeline steps, functions or ``async def``
      coroutines taking a ``MessageContext``, run in order on every message of
      this type that passed validation (each within ``handler_timeout``). A
      handler may check further and refuse (``ctx.invalid`` for
      ``validation_failed`` with field-level errors, ``ctx.refuse`` /
      ``raise Refusal`` for other codes), change ``ctx.value`` (transform:
      recipients get the new value), answer as the room, ID 0
      (``ctx.reply``, ``ctx.send_to_room``, ``ctx.send_to_user``), or stop
      delivery with ``ctx.consume()`` (the remaining handlers are skipped).
    - ``roles``: who may send it (others get ``forbidden``); None means everyone.
    - ``direct`` / ``broadcast``: whether it may be sent that way.
    - ``description``: one line for ``roomchat schema`` and ``GET /schema``.
    - ``plugin``: filled in on registration with the registering plugin's name.
    """

    name: str
    value: Any = Any
    handlers: Sequence[Handler] = ()
    description: str = ""
    roles: Iterable[Role] | None = None
    direct: bool = True
    broadcast: bool = True
    plugin: str = field(default="", compare=False)
    adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("a message type needs a non-empty string name")
        self.adapter = TypeAdapter(self.value)
        self.roles = frozenset(self.roles) if self.roles is not None else None
        self.handlers = tuple(self.handlers)
        for handler in self.handlers:
            if not callable(handler):
                raise TypeError(f"message type {self.name!r}: handler {handler!r} is not callable")

    def validate(self, value: Any) -> Any:
        """The value as recipients get it, or ``validation_failed`` with field-level errors."""
        try:
            return self.adapter.dump_python(self.adapter.validate_python(value), mode="json")
        except ValidationError as exc:
            errors = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            ]
            raise Refusal("validation_failed", f"This {self.name} message is not valid", errors=errors) from None

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of ``value``, for client authors."""
        schema = self.adapter.json_schema()
        schema.setdefault("title", self.name)
        if self.description:
            schema.setdefault("description", self.description)
        return schema


class TypeRegistry:
    """All registered message types by name; dispatch looks types up here."""

    def __init__(self) -> None:
        self._types: dict[str, MessageType] = {}

    def register(self, message_type: MessageType, plugin: str = "") -> None:
        """Add a type; a second type of the same name is an error naming both plugins."""
        existing = self._types.get(message_type.name)
        if existing is not None:
            raise ValueError(
                f"message type {message_type.name!r} is registered twice "
                f"(by {existing.plugin or 'unknown'} and {plugin or 'unknown'})"
            )
        message_type.plugin = plugin
        self._types[message_type.name] = message_type

    def get(self, name: str) -> MessageType | None:
        """The type called ``name``, if any."""
        return self._types.get(name)

    def remove(self, name: str) -> None:
        """Forget a type (when its plugin failed to register)."""
        self._types.pop(name, None)

    def __iter__(self) -> Iterator[MessageType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)
