"""Message types: a name, the shape of its value, its human text, and the handlers its messages pass through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from .errors import Refusal
from .users import Role

Handler = Callable[..., Awaitable[None] | None]
"""A type's pipeline step: a function (or ``async def``) taking a ``roomchat.MessageContext``."""
TextFields = bool | str | Sequence[str] | None
"""How a type declares its human text (``MessageType.text``)."""


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
    - ``text``: which part of the value is human text, for plugins that judge
      text (the moderator's words, repeat and shouting rules): ``True`` (the
      value is itself the text, a string), a field path or a list of them
      (``("question", "options")``; ``"a.b"`` for a nested field; each names a
      string or a list of strings), or ``False`` (no human text: a vote, a
      reaction, a structured interaction that is never judged as text).
      ``None`` (the default) declares nothing: such a value is treated like
      one of an unregistered type.
    - ``plugin``: filled in on registration with the registering plugin's name.
    """

    name: str
    value: Any = Any
    handlers: Sequence[Handler] = ()
    description: str = ""
    roles: Iterable[Role] | None = None
    direct: bool = True
    broadcast: bool = True
    text: TextFields = None
    plugin: str = field(default="", compare=False)
    adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("a message type needs a non-empty string name")
        self.adapter = TypeAdapter(self.value)
        self.roles = frozenset(self.roles) if self.roles is not None else None
        self.handlers = tuple(self.handlers)
        self.text = _text_fields(self.name, self.text)
        for handler in self.handlers:
            if not callable(handler):
                raise TypeError(f"message type {self.name!r}: handler {handler!r} is not callable")

    def load(self, value: Any, settings: Any = None) -> Any:
        """The validated value (a model instance for a model type), or ``validation_failed`` with field-level errors.

        ``settings`` are the type's plugin settings for the room: validators
        read them as ``info.context["settings"]`` to apply a room's own limits
        (a text's ``max_length``) before any plugin sees the value. This is
        what handlers get as ``ctx.value``.
        """
        try:
            return self.adapter.validate_python(value, context={"settings": settings})
        except ValidationError as exc:
            errors = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            ]
            raise Refusal("validation_failed", f"This {self.name} message is not valid", errors=errors) from None

    def dump(self, loaded: Any) -> Any:
        """A value ``load`` returned, as JSON data: what recipients get (``ctx.wire_value``)."""
        return self.adapter.dump_python(loaded, mode="json")

    def validate(self, value: Any, settings: Any = None) -> Any:
        """The value as recipients get it (``dump(load(value, settings))``), or ``validation_failed``."""
        return self.dump(self.load(value, settings))

    def texts(self, value: Any) -> list[str]:
        """The human text of a validated ``value``, as ``text`` declares it (``[]`` when it declares none)."""
        return declared_texts(value, self._declared())

    def map_texts(self, value: Any, change: Callable[[str], str]) -> Any:
        """``value`` with ``change`` applied to each of its declared texts (the rest untouched)."""
        return map_declared_texts(value, self._declared(), change)

    def _declared(self) -> bool | tuple[str, ...] | None:
        """``text`` as ``__post_init__`` normalised it."""
        return cast(bool | tuple[str, ...] | None, self.text)

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of ``value``, for client authors."""
        schema = self.adapter.json_schema()
        schema.setdefault("title", self.name)
        if self.description:
            schema.setdefault("description", self.description)
        return schema


def _text_fields(name: str, text: Any) -> bool | tuple[str, ...] | None:
    if text is None or isinstance(text, bool):
        return text
    paths = (text,) if isinstance(text, str) else tuple(text)
    if not paths:
        return False
    for path in paths:
        if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
            raise ValueError(f"message type {name!r}: text field {path!r} is not a field path like 'question' or 'a.b'")
    return paths


def _field(value: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def declared_texts(value: Any, text: bool | tuple[str, ...] | None) -> list[str]:
    """The strings of ``value`` that ``text`` (a ``MessageType.text``) declares human text, in declared order."""
    if text is True:
        return [value] if isinstance(value, str) else []
    if not text:
        return []
    found: list[str] = []
    for path in text:
        field = _field(value, path)
        if isinstance(field, str):
            found.append(field)
        elif isinstance(field, list):
            found.extend(item for item in field if isinstance(item, str))
    return found


def map_declared_texts(value: Any, text: bool | tuple[str, ...] | None, change: Callable[[str], str]) -> Any:
    """``value`` with ``change`` applied to the strings ``declared_texts`` returns (a new value; the old one kept)."""
    if text is True:
        return change(value) if isinstance(value, str) else value
    if not text or not isinstance(value, dict):
        return value
    for path in text:
        value = _replace(value, path.split("."), change)
    return value


def _replace(value: Any, keys: list[str], change: Callable[[str], str]) -> Any:
    if not isinstance(value, dict) or keys[0] not in value:
        return value
    field = value[keys[0]]
    if len(keys) > 1:
        new = _replace(field, keys[1:], change)
    elif isinstance(field, str):
        new = change(field)
    elif isinstance(field, list):
        new = [change(item) if isinstance(item, str) else item for item in field]
    else:
        return value
    return {**value, keys[0]: new}


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
