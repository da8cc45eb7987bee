"""Helpers for the built-in message types' tests (``from builtin_helpers import ...``)."""

from __future__ import annotations

from typing import Any

from roomchat.testing.pytest_plugin import RoomUser


def by_loc(errors: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """A ``validation_failed`` refusal's errors by the path of their field."""
    return {tuple(e["loc"]): e for e in errors}


def nothing_received(user: RoomUser, type: str) -> bool:
    """True when ``user`` got no message of ``type`` (after a round trip behind everything sent to it)."""
    user.sync()
    return user.messages(type=type) == []
