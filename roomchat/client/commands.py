"""Command routing for bots: ``@command`` methods with typed arguments, role checks and generated help.

A bot marks methods as commands::

    class Reminder(Bot):
        @command("remind", staff_only=True)
        async def remind(self, room: BotRoom, msg: Incoming, seconds: PositiveInt, *, note: str = "") -> None:
            \"\"\"Remind the room after a while.\"\"\"

The arguments after ``room`` and ``msg`` are the command's, read from the
annotations and validated with pydantic (``Annotated[int, Field(title="ID")]``
shows as ``<ID>`` in the help). They come from a text (``/remind 300``: the
words fill the arguments before ``*`` in order, the last of them takes the
rest of the line when it is text, and ``name=value`` sets any argument by
name) or from a command message's value (``{"command": "remind", "seconds":
300}``, every argument by name). ``Commands`` is a bot class's table;
``CommandRefused`` is what a refused command raises (``unknown_command``,
``forbidden``, ``bad_arguments``, or a handler's own code).
"""

from __future__ import annotations

import inspect
import shlex
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ..users import Role, User

__all__ = ["Argument", "Command", "CommandRefused", "Commands", "Invocation", "command", "read_command"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
_MARK = "__roomchat_command__"


class CommandRefused(Exception):
    """A command that is not carried out: ``code`` (``unknown_command``, ``forbidden``, ``bad_arguments``, or a
    handler's own), ``message`` (a sentence to show), ``detail`` (the problem alone: ``seconds: Input should be a
    valid integer``), ``name`` (the command as given) and ``command`` (the Command, when there is one).

    A command handler raises it to refuse; the bot's ``on_command_refused`` answers.
    """

    def __init__(self, code: str, message: str, *, detail: str = "", name: str = "",
                 command: Command | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail or message
        self.name = name
        self.command = command


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str | None
    aliases: tuple[str, ...]
    staff_only: bool
    roles: frozenset[Role] | None
    help: str | None


def command(name: str | F | None = None, *, aliases: Iterable[str] = (), staff_only: bool = False,
            roles: Iterable[Role | str] | None = None, help: str | None = None) -> Any:
    """Mark a bot method as the command ``name`` (default: the method's name, ``_`` as ``-``).

    ``aliases``: other names for it. ``staff_only``: teachers and admins
    only; ``roles``: only these roles. ``help``: its line in the help
    (default: the first line of its docstring). ``@command`` alone works too.
    """
    def mark(fn: F) -> F:
        if not inspect.iscoroutinefunction(typing.cast(Any, fn)):  # (a check, not a narrowing of fn's type)
            raise TypeError(f"@command {fn.__qualname__}: a command handler must be an async method")
        allowed = frozenset(Role(r) for r in roles) if roles is not None else None
        setattr(fn, _MARK, _Spec(name if isinstance(name, str) else None, tuple(a.lower() for a in aliases),
                                 staff_only, allowed, help))
        return fn

    if callable(name):  # @command without parentheses
        return mark(typing.cast(Any, name))
    return mark


@dataclass(frozen=True, slots=True)
class Argument:
    """One argument of a command: its ``name``, whether it is ``required``, whether a text's words can fill it
    (``positional``), whether it takes the rest of a text's line (``rest``), its ``choices`` (a Literal's values),
    the ``metavar`` the help shows and its ``description``."""

    name: str
    required: bool
    positional: bool
    rest: bool
    choices: tuple[str, ...] | None
    metavar: str
    description: str
    flag: bool

    def usage(self) -> str:
        """How the help shows it: ``<ID>``, ``on|off``, ``[bank]``, ``[shuffle=true|false]``."""
        shown = "|".join(self.choices) if self.choices else "true|false" if self.flag else f"<{self.metavar}>"
        if not self.positional:
            shown = f"{self.name}={shown}"
        elif not self.required and not self.choices:
            shown = self.metavar
        return shown if self.required else f"[{shown}]"


@dataclass(frozen=True)
class Command:
    """One command of a bot: its names, who may use it, its arguments (a pydantic model) and its handler."""

    name: str
    aliases: tuple[str, ...]
    summary: str
    staff_only: bool
    roles: frozenset[Role] | None
    arguments: tuple[Argument, ...]
    model: type[BaseModel]
    handler: Callable[..., Awaitable[Any]]

    @classmethod
    def of(cls, fn: Callable[..., Awaitable[Any]]) -> Command:
        """The command a ``@command`` method declares (TypeError if its signature cannot be one)."""
        spec: _Spec = getattr(fn, _MARK)
        name = (spec.name or fn.__name__.strip("_").replace("_", "-")).lower()
        params = list(inspect.signature(fn).parameters.values())
        if len(params) < 3 or any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY) for p in params[3:]):
            raise TypeError(f"@command {fn.__qualname__}: take (self, room, msg, <arguments>), no *args or **kwargs")
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception as exc:  # noqa: BLE001 - a name the annotations use is not importable here
            raise TypeError(f"@command {fn.__qualname__}: cannot read its annotations ({exc})") from None
        fields: dict[str, Any] = {
            p.name: (hints.get(p.name, str), ... if p.default is p.empty else p.default) for p in params[3:]}
        model = create_model(f"{name.title().replace('-', '')}Arguments", __config__=ConfigDict(extra="forbid"),
                             **fields)
        positional = [p.name for p in params[3:] if p.kind is p.POSITIONAL_OR_KEYWORD]
        arguments = tuple(_argument(model, p.name, p.name in positional, p.name == positional[-1] if positional
                                    else False) for p in params[3:])
        summary = spec.help if spec.help is not None else (inspect.getdoc(fn) or "").split("\n", 1)[0].rstrip(".")
        return cls(name, spec.aliases, summary, spec.staff_only, spec.roles, arguments, model, fn)

    @property
    def names(self) -> tuple[str, ...]:
        """The name and the aliases."""
        return (self.name, *self.aliases)

    def allows(self, user: User | None) -> bool:
        """Whether ``user`` may use it (None, an unknown sender, may use only unrestricted commands)."""
        if user is None:
            return not self.staff_only and self.roles is None
        return (not self.staff_only or user.role.is_staff) and (self.roles is None or user.role in self.roles)

    def usage(self) -> str:
        """``forgive <ID>``, ``dry-run on|off``, ``start [bank] [shuffle=true|false]``."""
        return " ".join([self.name, *(a.usage() for a in self.arguments)])

    def from_words(self, words: Iterable[str]) -> dict[str, Any]:
        """A text's words after the command's name, as named arguments (not validated yet)."""
        by_name = {a.name: a for a in self.arguments}
        named: dict[str, Any] = {}
        loose: list[str] = []
        for word in words:
            key, eq, value = word.partition("=")
            key = key.lower().replace("-", "_")
            if eq and key in by_name and key not in named:
                named[key] = _choice(by_name[key], value)
            else:
                loose.append(word)
        slots = [a for a in self.arguments if a.positional and a.name not in named]
        for argument in slots:
            if not loose:
                break
            if argument.rest and argument is slots[-1]:
                named[argument.name], loose = " ".join(loose), []
            else:
                named[argument.name] = _choice(argument, loose.pop(0))
        if loose:
            self._refuse(f"{' '.join(loose)!r}: too many arguments")
        return named

    def validate(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The validated arguments, by name; CommandRefused ``bad_arguments`` naming the first problem."""
        try:
            model = self.model.model_validate(dict(given))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "arguments"
            self._refuse(f"{where}: {problem['msg']}")
        return {name: getattr(model, name) for name in type(model).model_fields}

    def _refuse(self, detail: str) -> typing.NoReturn:
        raise CommandRefused("bad_arguments", f"{self.name}: {detail}. Usage: {self.usage()}", detail=detail,
                             name=self.name, command=self)

    def __str__(self) -> str:
        return self.name


def _argument(model: type[BaseModel], name: str, positional: bool, last: bool) -> Argument:
    info = model.model_fields[name]
    base = _unwrap(info.annotation)
    choices = tuple(str(c) for c in typing.get_args(base)) if typing.get_origin(base) is Literal else None
    return Argument(name=name, required=info.is_required(), positional=positional, rest=last and base is str,
                    choices=choices, metavar=info.title or name, description=info.description or "",
                    flag=base is bool)


def _unwrap(annotation: Any) -> Any:
    """The type under ``Annotated[...]`` and ``X | None``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _choice(argument: Argument, word: str) -> str:
    """A text's word for a Literal argument, matched without regard to case (``ON`` is ``on``)."""
    if argument.choices:
        for choice in argument.choices:
            if choice.lower() == word.lower():
                return choice
    return word


@dataclass(frozen=True, slots=True)
class Invocation:
    """A command as someone gave it: its ``name`` and either a text's ``words`` or a command value's ``named``."""

    name: str
    words: tuple[str, ...] = ()
    named: Mapping[str, Any] | None = None


class Commands:
    """A bot class's commands, by name and alias, in the order they were declared."""

    def __init__(self, commands: Iterable[Command] = ()) -> None:
        self._list: list[Command] = []
        self._by_name: dict[str, Command] = {}
        for cmd in commands:
            for name in cmd.names:
                if name in self._by_name:
                    raise TypeError(f"command {name!r} is declared twice ({self._by_name[name].handler.__qualname__} "
                                    f"and {cmd.handler.__qualname__})")
                self._by_name[name] = cmd
            self._list.append(cmd)

    @classmethod
    def of(cls, bot_class: type) -> Commands:
        """Every ``@command`` method of ``bot_class`` and its bases (a subclass's method replaces its base's)."""
        seen: dict[str, Callable[..., Any]] = {}
        for klass in reversed(bot_class.__mro__):
            for attr, value in vars(klass).items():
                if callable(value) and hasattr(value, _MARK):
                    seen[attr] = value
                elif attr in seen:
                    del seen[attr]  # overridden by something that is not a command
        return cls(Command.of(fn) for fn in seen.values())

    def get(self, name: str) -> Command | None:
        """The command called ``name`` (or aliased so)."""
        return self._by_name.get(name.lower())

    def __iter__(self) -> Iterator[Command]:
        return iter(self._list)

    def __len__(self) -> int:
        return len(self._list)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def resolve(self, call: Invocation, user: User | None) -> tuple[Command, dict[str, Any]]:
        """The command ``call`` names and its validated arguments; CommandRefused if unknown, forbidden or bad."""
        found = self.get(call.name)
        if found is None:
            names = ", ".join(c.name for c in self._list)
            raise CommandRefused("unknown_command", f"{call.name!r} is not a command; the commands: {names}",
                                 detail=f"{call.name!r} is not a command", name=call.name)
        if not found.allows(user):
            who = "teachers and admins" if found.staff_only else " and ".join(r.value for r in found.roles or ())
            raise CommandRefused("forbidden", f"Only {who} may use {found.name}", name=found.name, command=found)
        given = found.from_words(call.words) if call.named is None else call.named
        return found, found.validate(given)

    def help(self, user: User | None = None, *, header: str = "Commands:", prefix: str = "") -> str:
        """The generated help: ``header``, then a line per command ``user`` may use (all, for None):
        ``<prefix><usage> (or <aliases>): <summary>``."""
        lines = [header]
        for cmd in self._list:
            if user is not None and not cmd.allows(user):
                continue
            line = prefix + cmd.usage() + (f" (or {', '.join(cmd.aliases)})" if cmd.aliases else "")
            lines.append(line + (f": {cmd.summary}" if cmd.summary else ""))
        return "\n".join(lines)


def read_command(type: str, value: Any, *, command_type: str | None, key: str, prefixes: Iterable[str],
                 default: str | None, text_types: Iterable[str] = ("text",)) -> Invocation | None:
    """The command a message gives, or None when it gives none.

    A message of ``command_type`` always is one: its value is the command's
    name, or ``{key: name, <argument>: value, ...}`` (CommandRefused
    ``bad_arguments`` when it is neither). A text (of ``text_types``) is one
    when it starts with one of ``prefixes`` (matched without regard to case;
    a prefix ending in a letter, ``/quiz``, must end a word): its words are
    the name and the arguments, and a prefix alone means ``default``. The
    prefix ``""`` makes every non-empty text a command.
    """
    if command_type is not None and type == command_type:
        return _from_value(value, key)
    if type not in text_types or not isinstance(value, str):
        return None
    text = value.strip()
    for prefix in sorted(prefixes, key=len, reverse=True):  # "/quiz" before "/", "/" before ""
        if not text.lower().startswith(prefix.lower()):
            continue
        rest = text[len(prefix):]
        if prefix and prefix[-1].isalnum() and rest and not rest[0].isspace():
            continue  # "/quizzes" is not "/quiz"
        words = _words(rest)
        if not words:
            if not prefix or default is None:
                continue
            return Invocation(default)
        return Invocation(words[0].lower(), tuple(words[1:]))
    return None


def _from_value(value: Any, key: str) -> Invocation:
    if isinstance(value, str) and value.strip():
        return Invocation(value.strip().lower(), named={})
    if isinstance(value, dict) and isinstance(value.get(key), str):
        return Invocation(value[key].strip().lower(), named={k: v for k, v in value.items() if k != key})
    detail = f"{key}: Field required" if isinstance(value, dict) else f"send a command's name, or {{{key!r}: name, ...}}"
    raise CommandRefused("bad_arguments", detail, detail=detail)


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: plain words then
        return text.split()
