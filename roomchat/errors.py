"""The ways roomchat says no: a refusal on the wire, a bad config file, a command line that cannot run."""

from __future__ import annotations

from typing import Any

from .positions import place_of


class Refusal(Exception):
    """A refused connection or emit, with a code from PROTOCOL.md.

    ``message`` is a sentence a person can read; ``details`` are extra keys of
    the refusal's ``data`` (for example ``errors`` for ``validation_failed``).
    Plugins raise it to refuse a message.
    """

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def data(self) -> dict[str, Any]:
        """The refusal's ``data``: the code first, then the details."""
        return {"code": self.code, **self.details}


class ConfigError(Exception):
    """A configuration that cannot be used: names the file, the line, the key path and what was expected.

    ``problems`` are ``key.path: what was expected`` lines (or ``positions.Problem``
    texts that say where they are). When ``source`` is a YAML file roomchat read,
    each problem is printed at its line, as compilers do:
    ``config/roomchat.yaml:42: rooms.lobby.max_users: ...``; ``places`` holds
    ``config/roomchat.yaml:42`` (or just the source, when no line is known).
    """

    what = "invalid configuration"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        self.places = [place_of(source, problem) for problem in problems]
        super().__init__(f"{source}: {self.what}\n" + "\n".join(self.located()))

    def located(self) -> list[str]:
        """Each problem as printed: ``file:line: problem``, or ``  - problem`` where the line is not known."""
        return [f"{place}: {problem}" if place != self.source else f"  - {problem}"
                for place, problem in zip(self.places, self.problems, strict=True)]


class CommandError(Exception):
    """A ``roomchat`` command line that cannot run as given; the message says what to change (exit code 2)."""
