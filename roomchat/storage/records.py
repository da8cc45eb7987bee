"""A delivered message as history keeps it, and who may see it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .ids import format_id, parse_id

# Values go out as compact JSON with non-ASCII kept (as delivery encodes them); NaN never gets this far.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(slots=True)
class Record:
    """One delivered message: its room, id (as a number), sender, target (None: a broadcast), type, value, time (ms).

    ``value_json`` is the value as JSON text, made when first needed (by the
    writer, off the delivery path) unless the caller had it already.
    ``tail_member`` is set in a cluster: the exact entry of its room's Redis tail,
    which the writer removes once the record is committed.
    """

    room: str
    seq: int
    sender: int
    target: int | None
    type: str
    value: Any
    time: int
    value_json: str | None = None
    tail_member: str | None = None  # clusters: this record's entry in its room's Redis tail (redislog)

    @classmethod
    def from_data(cls, room: str, data: dict[str, Any]) -> Record:
        """The record of a ``message`` event's data (``from``, ``message``, ``id``, ``time``, ``to``)."""
        seq = parse_id(data["id"])
        if seq is None:
            raise ValueError(f"not a history id: {data['id']!r}")
        message = data["message"]
        return cls(room, seq, data["from"], data.get("to"), message["type"], message.get("value"), data["time"])

    @property
    def id(self) -> str:
        """The message id as clients see it."""
        return format_id(self.seq)

    def json_value(self) -> str:
        """The value as JSON text (computed once)."""
        if self.value_json is None:
            self.value_json = _JSON.encode(self.value)
        return self.value_json

    def visible_to(self, user_id: int) -> bool:
        """Whether ``user_id`` may see it: a broadcast, or a direct message it sent or received."""
        return self.target is None or self.sender == user_id or self.target == user_id

    def involves(self, user_id: int) -> bool:
        """Whether a purge of ``user_id`` removes it: the user sent it, or it is a direct message to the user."""
        return self.sender == user_id or self.target == user_id

    def data(self) -> dict[str, Any]:
        """The ``message`` event's data, as its recipients got it."""
        value = json.loads(self.json_value())  # a copy: whoever gets it may change it
        data: dict[str, Any] = {"from": self.sender, "message": {"type": self.type, "value": value},
                                "id": format_id(self.seq), "time": self.time}
        if self.target is not None:
            data["to"] = self.target
        return data

    def size(self) -> int:
        """About how many bytes it takes in a history event (its value's JSON plus the envelope)."""
        return len(self.json_value()) + len(self.type) + 80
