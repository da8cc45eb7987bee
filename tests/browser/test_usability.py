"""The web client by keyboard alone, on a phone-sized screen, and with a plugin's own renderer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import TEACHER, TOKENS, config, join, log, message, send_text
from playwright.sync_api import expect

from roomchat.testing import ChatClient, RoomchatProcess

DICE = Path(__file__).resolve().parents[2] / "examples" / "roomchat-dice"


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatProcess]:
    with RoomchatProcess(config()) as running:
        yield running


def test_joining_and_chatting_with_the_keyboard_only(server: RoomchatProcess, new_page: Any) -> None:
    page = new_page()
    page.goto(f"{server.url}/")
    expect(page.get_by_label("Room")).to_be_focused()  # the form starts where the typing does
    page.keyboard.type("keys")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your name (as a guest)")).to_be_focused()
    page.keyboard.type("Kim")
    page.keyboard.press("Enter")
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "connected")
    expect(page.locator("#composer-text")).to_be_focused()
    page.keyboard.type("typed, not clicked")
    page.keyboard.press("Enter")
    expect(message(page, "typed, not clicked")).to_be_visible()
    # The reaction menu opens and works from the keyboard.
    page.locator("details.react summary").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="React with 👍")).to_be_focused()
    page.keyboard.press("Enter")
    expect(message(page, "typed, not clicked").locator(".reaction")).to_have_text("👍 1")


def test_a_phone_sized_screen_keeps_the_main_controls_usable(server: RoomchatProcess, new_page: Any) -> None:
    page = join(new_page(width=375, height=667, is_mobile=True, has_touch=True), server.url, "phone", token=TOKENS[TEACHER])
    for control in (page.locator("#composer-text"), page.get_by_role("button", name="Send"),
                    page.get_by_role("button", name="Leave"), page.locator("#conn-state"),
                    page.get_by_role("tab", name="Everyone")):
        expect(control).to_be_in_viewport()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide: it scrolls sideways on a phone"
    with ChatClient(server.url, room="phone", name="Desk") as desk:
        page.locator("#composer-text").tap()
        page.locator("#composer-text").fill("from my phone")
        page.get_by_role("button", name="Send").tap()
        assert desk.wait_message(lambda d: d["message"]["value"] == "from my phone")
        desk.broadcast("text", "to your phone")
        expect(message(page, "to your phone")).to_be_in_viewport()
    # The people list and the teacher's panel fold away above the conversation; they open on a tap.
    people = page.locator("details.people > summary")
    expect(people).to_be_in_viewport()
    people.tap()
    expect(page.locator(".users")).to_contain_text("Tess Teacher")
    expect(page.locator("#composer-text")).to_be_in_viewport()


@pytest.fixture(scope="module")
def dice_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a server with the example package roomchat-dice installed (into a throwaway folder)."""
    source = tmp_path_factory.mktemp("dice") / "src"
    shutil.copytree(DICE, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    target = source.parent / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
                           "--target", str(target), str(source)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert (target / "roomchat_dice" / "web" / "dice.js").is_file()  # the renderer ships in the package
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH", "")) if p)}


def test_a_plugin_s_renderer_shows_its_type(dice_env: dict[str, str], new_page: Any) -> None:
    with RoomchatProcess(config(), env=dice_env) as server:
        page = join(new_page(), server.url, "games", name="Ann")
        expect(page.locator("html")).to_have_attribute("data-plugins", "dice")
        with ChatClient(server.url, room="games", name="Bob") as bob:
            assert bob.broadcast("dice", {"dice": "3d6"})["msg"] == "Message sent"
            roll = page.get_by_text("Bob rolled 3d6:")
            expect(roll).to_be_visible()
            rolls = bob.wait_message(lambda d: d["message"]["type"] == "dice")["message"]["value"]["rolls"]
            faces = "⚀⚁⚂⚃⚄⚅"
            expect(roll.locator(".die")).to_have_text([faces[n - 1] for n in rolls])
            expect(roll).to_contain_text(f"= {sum(rolls)}")
            send_text(page, "nice roll")
        expect(log(page).locator("pre.json")).to_have_count(0)  # rendered by the plugin, not as JSON
        assert page.problems == []
