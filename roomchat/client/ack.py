"""The server's answer to an emit: ``Ack``, shared by bots and the test kit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocol import SENT

__all__ = ["SENT", "Ack"]


@dataclass(frozen=True, slots=True)
class Ack:
    """The server's answer to something sent: accepted (``ok``) or refused (``code``).

    ``msg`` and ``data`` are the ack's payload as the wire has it
    (docs/protocol.md, "Acks and refusals"); the properties read them.
    Sending never raises: a refusal, a timeout or a dropped connection is an
    Ack too (``disconnected``, ``timeout``, ``invalid_ack``).
    """

    msg: str
    data: Any

    @classmethod
    def of(cls, payload: Any) -> Ack:
        """Read an ack payload ``{"msg", "data"}``; anything else is an ``invalid_ack`` refusal."""
        if not isinstance(payload, dict) or not isinstance(payload.get("msg"), str):
            return cls.refusal("invalid_ack", "The server's answer was not understood")
        return cls(payload["msg"], payload.get("data"))

    @classmethod
    def refusal(cls, code: str, message: str) -> Ack:
        """A refusal made on this side of the wire (``disconnected``, ``timeout``...)."""
        return cls(message, {"code": code})

    @property
    def ok(self) -> bool:
        """True when the server accepted the message."""
        return self.msg == SENT

    @property
    def code(self) -> str | None:
        """The refusal code (``muted``, ``forbidden``, ``validation_failed``...), or None when accepted."""
        if self.ok:
            return None
        code = self.data.get("code") if isinstance(self.data, dict) else None
        return code if isinstance(code, str) else "invalid_ack"

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Field-level errors of a ``validation_failed`` refusal (``loc``, ``msg``, ``type``); [] otherwise."""
        if self.ok or not isinstance(self.data, dict):
            return []
        return list(self.data.get("errors") or [])

    @property
    def value(self) -> Any:
        """The accepted message's value as its recipients got it (after plugins' transforms); None if refused."""
        if not self.ok or not isinstance(self.data, dict):
            return None
        message = self.data.get("message")
        return message.get("value") if isinstance(message, dict) else None
