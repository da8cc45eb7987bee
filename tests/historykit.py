"""Helpers of the history tests that go through real servers (imported by name: ``from historykit import ...``).

Servers are ``roomchat serve`` processes (``RoomchatProcess``) on the test config of
chatkit.py, with their storage on SQLite (a file beside the config, the default) or on
the machine's PostgreSQL (the database of this pytest process, tests/storage/conftest.py).
Clients whose order of arrival is checked are ``RawClient``s (tests/rawio.py): one
thread, every packet handled in the order it came.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

from chatkit import base_config, start_server
from rawio import RawClient

from roomchat.testing import ChatClient, RoomchatProcess


def config_with(storage_url: str | None, rooms: dict[str, Any] | None = None, **storage: Any) -> dict[str, Any]:
    """chatkit's test config with ``storage`` settings (``url`` when given) and extra rooms."""
    config = copy.deepcopy(base_config())
    if storage_url is not None:
        storage["url"] = storage_url
    config["storage"] = storage
    config["rooms"] = {**config["rooms"], **(rooms or {})}
    return config


def serve(tmp: Path, storage_url: str | None, rooms: dict[str, Any] | None = None, **storage: Any) -> RoomchatProcess:
    """A started ``roomchat serve`` of ``config_with(...)``, its config and SQLite file (if any) in ``tmp``."""
    return start_server(config_with(storage_url, rooms, **storage), tmp)


def texts(messages: list[dict[str, Any]]) -> list[Any]:
    """The values of a list of ``message`` data."""
    return [m["message"]["value"] for m in messages]


def numbers(messages: list[dict[str, Any]]) -> list[int]:
    """The ``n`` of ``x-seq`` messages."""
    return [m["message"]["value"]["n"] for m in messages if m["message"]["type"] == "x-seq"]


def after_join(raw: RawClient) -> tuple[list[str], dict[str, Any] | None, list[dict[str, Any]]]:
    """A raw client's events after joining: their names in order, its ``history`` data, the live messages' data."""
    names = [name for name, _ in raw.events]
    history = next((args[0]["data"] for name, args in raw.events if name == "history"), None)
    live = [args[0]["data"] for name, args in raw.events if name == "message"]
    return names, history, live


def seen_numbers(raw: RawClient) -> list[int]:
    """The ``n`` of every ``x-seq`` message a raw client got, its history's first, then the live ones."""
    _, history, live = after_join(raw)
    return numbers((history or {}).get("messages", [])) + numbers(live)


class Sender(threading.Thread):
    """Broadcasts ``x-seq`` messages 0, 1, 2... with acks, one after the other, until ``stop()``.

    ``sent`` counts the acked ones; ``acks`` are their ack data in order.
    """

    def __init__(self, url: str, room: str, name: str = "Sender", limit: int = 5000, pause: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.client = ChatClient(url, room=room, name=name, timeout=20)
        self.limit = limit
        self.pause = pause  # between two sends: a slower load, never a wait for something to happen
        self.acks: list[dict[str, Any]] = []
        self._halt = threading.Event()
        self.error: BaseException | None = None

    @property
    def sent(self) -> int:
        return len(self.acks)

    def run(self) -> None:
        try:
            for n in range(self.limit):
                if self._halt.is_set():
                    return
                ack = self.client.broadcast("x-seq", {"n": n})
                assert ack["msg"] == "Message sent", ack
                self.acks.append(ack["data"])
                if self.pause:
                    self._halt.wait(self.pause)
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def stop(self) -> int:
        """Stop sending; the number of the last message sent (acked)."""
        self._halt.set()
        self.join(30)
        assert not self.is_alive(), "the sender did not stop"
        if self.error is not None:
            raise self.error
        return self.sent - 1
