"""Built-in media types as themselves, and a message id the page has shown never shown twice.

The server's history and catch-up have their own tests (test_page_history.py); here a test plugin
sends a live copy of a message that is also in the joining page's history (PROTOCOL.md: "a
client still does well to ignore a message whose id it has shown"), and the page shows it once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browserkit import config, join, log, message
from playwright.sync_api import expect

from roomchat import hookimpl
from roomchat.core.delivery import user_channel
from roomchat.testing import ChatClient, RoomchatThread

PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
       "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
class Duplicate:
    """Sends a joining Reader a live copy of ``data`` (a message already in its history), as a retried rejoin might.

    No plugin can emit an event of its own: this test-only one emits through the test's server.
    """

    server: RoomchatThread
    data: dict[str, Any] | None = None

    @hookimpl
    async def roomchat_user_joined(self, room: str, user: Any) -> None:
        if user.name != "Reader" or self.data is None:
            return
        await self.server.chat.sio.emit("message", {"msg": "New message", "data": self.data}, to=user_channel(room, user.id))


DUPLICATE = Duplicate()


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatThread]:
    with RoomchatThread(config(), plugins={"duplicate": DUPLICATE}) as running:
        DUPLICATE.server = running
        yield running


def test_images_videos_files_and_unknown_types(server: RoomchatThread, new_page: Any) -> None:
    page = join(new_page(), server.url, "media", name="Viewer")
    with ChatClient(server.url, room="media", name="Sender") as sender:
        assert sender.broadcast("image", {"url": PNG, "alt": "a red dot"})["msg"] == "Message sent"
        assert sender.broadcast("video", {"url": f"{server.url}/web/clip.mp4", "alt": "a clip"})["msg"] == "Message sent"
        assert sender.broadcast("file", {"name": "notes.pdf", "size": 2_500_000, "mime": "application/pdf",
                                         "url": "https://example.org/notes.pdf"})["msg"] == "Message sent"
        assert sender.broadcast("x-score", {"home": 2, "away": 1})["msg"] == "Message sent"
        potato = sender.broadcast("potato", {"variety": "King Edward", "weight_grams": 180})["data"]["message"]["value"]
    expect(log(page).get_by_role("img", name="a red dot")).to_have_attribute("src", PNG)
    expect(log(page).locator("video")).to_have_attribute("src", f"{server.url}/web/clip.mp4")
    expect(log(page).locator("video")).to_have_attribute("controls", "")
    link = log(page).get_by_role("link", name="notes.pdf")
    expect(link).to_have_attribute("href", "https://example.org/notes.pdf")
    expect(message(page, "notes.pdf")).to_contain_text("(application/pdf, 2.5 MB)")
    expect(message(page, "x-score").locator("pre")).to_have_text('{\n  "home": 2,\n  "away": 1\n}')
    fries = f" — {potato['fries']} fries" if "fries" in potato else ""
    expect(message(page, "King Edward").locator(".body")).to_have_text(f"🥔 King Edward, 180 g{fries}")


def test_a_message_id_already_shown_is_not_shown_again(server: RoomchatThread, new_page: Any) -> None:
    with ChatClient(server.url, room="history-room", name="Earlier") as earlier:
        said = earlier.broadcast("text", "said before you came")
        assert said["msg"] == "Message sent" and said["data"]["id"]
        DUPLICATE.data = said["data"]
        try:
            page = join(new_page(), server.url, "history-room", name="Reader")
            expect(message(page, "said before you came")).to_have_count(1)
            earlier.broadcast("text", "live now")
            expect(message(page, "live now")).to_be_visible()
            expect(message(page, "said before you came")).to_have_count(1)
        finally:
            DUPLICATE.data = None


def test_the_short_forms_seed_clients_send(server: RoomchatThread, new_page: Any) -> None:
    """docs/plugins.md: image/video/file as a bare URL, a bare emoji reaction, typing as true/false/null."""
    page = join(new_page(), server.url, "seed", name="Viewer")
    with ChatClient(server.url, room="seed", name="Seed") as seed:
        assert seed.broadcast("image", PNG)["msg"] == "Message sent"
        assert seed.broadcast("file", "https://example.org/files/report%202024.pdf")["msg"] == "Message sent"
        said = seed.broadcast("text", "react to me")
        assert seed.broadcast("reaction", {"message": said["data"]["id"], "emoji": "🎉"})["msg"] == "Message sent"
        assert seed.broadcast("reaction", "👏")["msg"] == "Message sent"
        assert seed.broadcast("typing", None)["msg"] == "Message sent"
        expect(page.locator("section.conversation:not([hidden]) .typing")).to_have_text("Seed is typing…")
        assert seed.broadcast("typing", False)["msg"] == "Message sent"
        expect(page.locator("section.conversation:not([hidden]) .typing")).to_have_text("")
    expect(log(page).locator("img")).to_have_attribute("src", PNG)
    expect(log(page).get_by_role("link", name="report 2024.pdf")).to_have_attribute(
        "href", "https://example.org/files/report%202024.pdf")
    expect(message(page, "react to me").locator(".reaction")).to_have_text("🎉 1")
    expect(log(page).locator(".reaction-line")).to_have_text("👏")
