"""The page reconnects by itself after the server restarts, and asks for what it missed.

The join's keys (PROTOCOL.md, "History and catch-up") are checked here on the wire:
``history`` on the first join, ``since`` = the highest message id the page saw (its own
acked messages count) on the rejoin, and a message seen before the restart is not shown
again. What the server answers them with, as the reader sees it (earlier messages on a
late join, every missed message once and in order after a restart, paging back, nobody
else's direct messages), is tested in test_page_history.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

from browserkit import config, join, message, send_text
from playwright.sync_api import expect

from roomchat.testing import ChatClient, RoomchatProcess


def join_packets(page: Any) -> list[dict[str, Any]]:
    """Every Socket.IO CONNECT packet ("40{...}") the page sent, over long-polling or WebSocket, in order."""
    packets: list[dict[str, Any]] = []

    def scan(payload: str | bytes | None) -> None:
        text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload or ""
        for part in text.split("\x1e"):  # Engine.IO v4 separates packets of one poll with a record separator
            if part.startswith("40{"):
                packets.append(json.loads(part[2:]))

    page.on("request", lambda request: "/socket.io/" in request.url and request.method == "POST" and scan(request.post_data))
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: scan(frame)))
    return packets


def test_the_page_reconnects_after_the_server_restarts(tmp_path: Any, new_page: Any) -> None:
    server = RoomchatProcess(config()).start()
    try:
        page = new_page()
        packets = join_packets(page)
        join(page, server.url, "lobby", name="Ann")
        with ChatClient(server.url, room="lobby", name="Bob") as bob:
            said = bob.broadcast("text", "before the restart")
            expect(message(page, "before the restart")).to_be_visible()
        assert packets[0]["room"] == "lobby" and packets[0]["name"] == "Ann" and packets[0]["history"] == 100
        assert "since" not in packets[0]

        server.stop()
        expect(page.locator("#conn-state")).to_have_attribute("data-state", re.compile("reconnecting|closed"))
        expect(page.locator("#conn-state")).to_have_text(re.compile("reconnect", re.IGNORECASE))
        server = RoomchatProcess(server.config_path, port=server.port).start()

        expect(page.locator("#conn-state")).to_have_attribute("data-state", "connected", timeout=30_000)
        assert packets[-1]["since"] == said["data"]["id"] and "history" not in packets[-1]
        with ChatClient(server.url, room="lobby", name="Cleo") as cleo:
            expect(page.locator(".users")).to_contain_text("Cleo")
            send_text(page, "after the restart")
            assert cleo.wait_message(lambda d: d["message"]["value"] == "after the restart")
        expect(message(page, "before the restart")).to_have_count(1)  # shown once, not again after the rejoin
        assert page.problems == [] or all("socket.io" in p or "WebSocket" in p or "ERR_CONNECTION" in p for p in page.problems)
    finally:
        server.stop()
