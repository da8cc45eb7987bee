"""The ways roomchat says no: a refusal on the wire, a bad config file, a command line that cannot run."""

from __future__ import annotations

from typing import Any


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
    """A configuration that cannot be used: names the file, key path and what was expected."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: invalid configuration\n{lines}")


class CommandError(Exception):
    """A ``roomchat`` command line that cannot run as given; the message says what to change (exit code 2)."""
