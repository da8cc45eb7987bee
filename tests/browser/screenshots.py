"""Take the screenshots of docs/web-client.md and the README: ``make screenshots``.

Runs ``roomchat serve`` with the default config (config/roomchat.yaml, on a free port),
drives Chromium (/usr/bin/chromium, headless) through a class: the join form, the room,
a quiz seen by a student and by the teacher, a phone, and a student who joined late and
whose connection dropped while the server restarted (history and catch-up). Writes
docs/images/*.png.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from browserkit import join, send_text  # beside this script, which Python puts first on sys.path
from playwright.sync_api import expect, sync_playwright

from roomchat.testing import ChatClient, RoomchatProcess

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images"
SOCKET_IO = re.compile(r"/socket\.io/")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def default_config(folder: Path) -> Path:
    """config/roomchat.yaml, with the quiz bank's path made absolute (the copy lives elsewhere)."""
    config = yaml.safe_load((ROOT / "config" / "roomchat.yaml").read_text())
    for bot in config.get("bots", []):
        banks = bot.get("settings", {}).get("banks", {})
        for name, path in banks.items():
            banks[name] = str((ROOT / "config" / path).resolve())
        if bot["kind"] == "quiz":
            bot["settings"]["start_delay"] = 0
    path = folder / "roomchat.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def history_scene(browser: Any, server: RoomchatProcess) -> RoomchatProcess:
    """Grace joins late, then loses the server while it restarts; back, she sees what she missed. The new server."""
    room = "physics"
    with ChatClient(server.url, room=room, token="demo-teacher-ada") as ada, \
            ChatClient(server.url, room=room, token="demo-student-alan") as alan:
        ada.broadcast("text", "Good morning! Today: orbits and Kepler's laws.")
        alan.broadcast("text", "Will this be on Friday's test?")
        ada.broadcast("text", "Yes: chapter 4, questions 1 to 6.")
        grace = join(browser.new_context(viewport={"width": 1200, "height": 760}).new_page(), server.url, room,
                     token="demo-student-grace")
        send_text(grace, "Sorry I'm late, the bus was late.")
        grace.route(SOCKET_IO, lambda route: route.abort())  # she stays away until unrouted
        server.stop()  # everyone drops at once, as in a restart
    expect(grace.locator("#conn-state")).to_have_attribute("data-state", re.compile("reconnecting|closed"))
    server = RoomchatProcess(server.config_path, port=server.port).start()
    try:
        with ChatClient(server.url, room=room, token="demo-teacher-ada") as ada, \
                ChatClient(server.url, room=room, token="demo-student-alan") as alan:
            ada.broadcast("text", "Kepler's first law: every planet moves on an ellipse, with the Sun at one focus.")
            alan.broadcast("text", "So the distance to the Sun changes during the year?")
            grace.unroute(SOCKET_IO)
            expect(grace.locator("#conn-state")).to_have_attribute("data-state", "connected", timeout=30_000)
            ada.broadcast("text", "Exactly. Grace: the notes are on the class page.")
            expect(grace.get_by_text("the notes are on the class page")).to_be_visible()
            grace.mouse.move(0, 0)
            grace.screenshot(path=OUT / "history.png")
    except BaseException:
        server.stop()
        raise
    return server


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, RoomchatProcess(default_config(Path(tmp))) as first_server, \
            sync_playwright() as playwright:
        server = first_server
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        desk = {"viewport": {"width": 1200, "height": 760}}

        first = browser.new_context(**desk).new_page()
        first.goto(f"{server.url}/?room=classroom")
        first.get_by_label("Your name (as a guest)").fill("Grace")
        first.screenshot(path=OUT / "join.png")

        ada = join(browser.new_context(viewport={"width": 1200, "height": 1000}).new_page(), server.url, "classroom",
                   token="demo-teacher-ada")
        grace = join(browser.new_context(**desk).new_page(), server.url, "classroom", token="demo-student-grace")
        phone = join(browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True,
                                         device_scale_factor=2).new_page(),
                     server.url, "classroom", token="demo-student-alan")
        send_text(ada, "Good morning! Today: the solar system. Notes on https://en.wikipedia.org/wiki/Solar_System")
        send_text(phone, "Morning! 🌞")
        send_text(grace, "Hello everyone")
        ada.get_by_text("Share a picture, video, file or poll").click()
        ada.get_by_label("Question", exact=True).fill("Which planet should we start with?")
        ada.get_by_label("Options (one per line)").fill("Mercury\nJupiter\nSaturn")
        ada.get_by_role("button", name="Start poll").click()
        ada.get_by_text("Share a picture, video, file or poll").click()
        poll = grace.get_by_role("group", name="Poll: Which planet should we start with?")
        poll.get_by_role("button", name="Vote for Saturn").click()
        phone.get_by_role("group", name="Poll: Which planet should we start with?").get_by_role("button", name="Vote for Jupiter").tap()
        expect(poll).to_contain_text("2 people voted")
        grace.mouse.move(0, 0)
        grace.screenshot(path=OUT / "room.png")

        panel = ada.get_by_role("region", name="Teacher's panel")
        panel.get_by_role("button", name="Start quiz").click()
        card = grace.get_by_role("region", name="Question 1 of 10")
        expect(card).to_be_visible()
        phone.get_by_role("region", name="Question 1 of 10").get_by_role("button", name="Answer B: Jupiter").tap()
        expect(panel).to_contain_text("1 of 2 students answered")
        expect(phone.get_by_role("region", name="Question 1 of 10")).to_contain_text("Your answer")
        grace.screenshot(path=OUT / "quiz.png")
        ada.screenshot(path=OUT / "teacher-panel.png")
        phone.screenshot(path=OUT / "phone.png")
        panel.get_by_role("button", name="Stop").click()
        for page in (first, ada, grace, phone):
            page.context.close()
        server = history_scene(browser, server)
        server.stop()  # (the restarted one; the first one's stop does nothing more)
        browser.close()
    for name in ("join", "room", "quiz", "teacher-panel", "phone", "history"):
        print(OUT / f"{name}.png")


if __name__ == "__main__":
    main()
