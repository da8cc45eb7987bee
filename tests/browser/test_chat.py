"""Two people chat through the web client in real Chromium pages, against a real ``roomchat serve``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from browserkit import GRACE, TOKENS, config, join, log, message, send_text
from playwright.sync_api import expect

from roomchat.testing import ChatClient, JoinRefused, RoomchatProcess


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatProcess]:
    with RoomchatProcess(config()) as running:
        yield running


def test_two_browsers_chat_in_a_room(server: RoomchatProcess, new_page: Any) -> None:
    ann = join(new_page(), server.url, "lobby", name="Ann")
    bob = join(new_page(), server.url, "lobby", name="Bob")

    # Ann sees Bob arrive in the user list, with his role.
    expect(ann.locator(".users li").filter(has_text="Bob")).to_contain_text("student")
    send_text(ann, "Hello Bob, see https://example.org/page.")
    row = message(bob, "Hello Bob")
    expect(row).to_contain_text("Ann")
    link = row.get_by_role("link", name="https://example.org/page")
    expect(link).to_have_attribute("href", "https://example.org/page")
    expect(link).to_have_attribute("rel", re.compile("noopener"))

    send_text(bob, "Hi Ann!")
    expect(message(ann, "Hi Ann!")).to_contain_text("Bob")
    expect(message(ann, "Hello Bob")).to_have_class(re.compile("mine"))  # her own line, from the ack

    # New messages are announced to screen readers.
    expect(log(ann)).to_have_attribute("aria-live", "polite")
    # Bob leaves; Ann sees it happen.
    bob.get_by_role("button", name="Leave").click()
    expect(ann.locator(".users")).not_to_contain_text("Bob")
    expect(log(ann)).to_contain_text("Bob left.")
    assert ann.problems == [] and bob.problems == []


def test_a_private_conversation(server: RoomchatProcess, new_page: Any) -> None:
    ann = join(new_page(), server.url, "dm-room", name="Ann")
    bob = join(new_page(), server.url, "dm-room", name="Bob")
    ann.get_by_role("button", name="Private message to Bob").click()
    expect(ann.get_by_role("tab", name="Bob")).to_have_attribute("aria-selected", "true")
    expect(ann.get_by_role("textbox", name="Private message to Bob")).to_be_focused()
    send_text(ann, "just between us")
    # Bob gets it in a conversation of its own, marked new, not in the room's.
    tab = bob.get_by_role("tab", name=re.compile("Ann"))
    expect(tab).to_contain_text("1 new")
    expect(message(bob, "just between us")).to_have_count(0)
    tab.click()
    expect(message(bob, "just between us")).to_contain_text("private")
    # The conversations are tabs: the arrow keys move between them.
    tab.press("ArrowLeft")
    expect(bob.get_by_role("tab", name="Everyone")).to_be_focused()
    expect(bob.get_by_role("tab", name="Everyone")).to_have_attribute("aria-selected", "true")
    bob.keyboard.press("End")
    expect(tab).to_have_attribute("aria-selected", "true")


def test_a_typing_indicator_and_a_reaction(server: RoomchatProcess, new_page: Any) -> None:
    ann = join(new_page(), server.url, "typing-room", name="Ann")
    bob = join(new_page(), server.url, "typing-room", name="Bob")
    ann.locator("#composer-text").press_sequentially("wri")
    expect(bob.locator("section.conversation:not([hidden]) .typing")).to_have_text("Ann is typing…")
    send_text(ann, "written")
    expect(bob.locator("section.conversation:not([hidden]) .typing")).to_have_text("")
    row = message(bob, "written")
    row.get_by_label("React to this message").click()
    row.get_by_role("button", name="React with 🎉").click()
    expect(message(ann, "written").locator(".reaction")).to_have_text("🎉 1")


def test_a_guest_refused_from_the_classroom_sees_why(server: RoomchatProcess, new_page: Any) -> None:
    page = new_page()
    page.goto(f"{server.url}/?room=classroom")
    page.get_by_label("Your name (as a guest)").fill("Mallory")
    page.get_by_role("button", name="Join").click()
    alert = page.get_by_role("alert")
    with pytest.raises(JoinRefused) as refused:  # what the server says to any client
        ChatClient(server.url, room="classroom", name="Mallory")
    assert refused.value.data == {"code": "unauthorized"}
    expect(alert).to_have_text(str(refused.value.message))  # the server's own sentence, word for word
    # Still on the form, ready to try again with a token.
    page.get_by_label(re.compile("Or your token")).fill(TOKENS[GRACE])
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "connected")
    expect(page.locator(".users")).to_contain_text("Grace Hopper")
