"""Hostile values render inert in the web client: markup shows as text, no handler or script runs,
javascript: and SVG URLs are never followed, right-to-left overrides stay inside their own text.

Every hostile value is sent by a real python-socketio client through a real server; the page is
checked for what it shows, for attributes that could run code, for script that ran, and for
Content-Security-Policy violations (which would mean markup got in and tried).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from browserkit import config, join, log, message
from playwright.sync_api import expect

from roomchat.testing import ChatClient, RoomchatProcess

RTL = "\u202e"
IMG = '<img src=x onerror="window.pwned=(window.pwned||0)+1">'
SCRIPT = "<script>window.pwned=(window.pwned||0)+1</script>"
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" onload="window.pwned=1">'
       '<script>window.pwned=1</script><rect width="9" height="9"/></svg>')
SVG_URI = "data:image/svg+xml;base64," + base64.b64encode(SVG.encode()).decode()
WATCH = """
window.pwned = 0;
window.violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.violatedDirective + " " + e.blockedURI));
"""


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatProcess]:
    # This room lets an SVG data: image through the server (a careless deployment), so the client's own check is tested.
    room = {"admit": ["guests"], "rate_limit": None,
            "plugins": {"settings": {"image": {"data_types": ["image/svg+xml", "image/png"]}}}}
    with RoomchatProcess(config(rooms={"hostile": room})) as running:
        yield running


def inert(page: Any) -> None:
    """Nothing ran, nothing can run: no handler attributes, no javascript: links, no SVG images, no CSP violation."""
    report = page.evaluate("""() => ({
        pwned: window.pwned,
        violations: window.violations,
        handlers: [...document.querySelectorAll("*")].flatMap((e) => [...e.attributes].map((a) => a.name))
            .filter((name) => name.toLowerCase().startsWith("on")),
        scripts: [...document.querySelectorAll("script")].map((s) => s.src),
        badLinks: [...document.querySelectorAll("[href], [src]")].map((e) => e.getAttribute("href") ?? e.getAttribute("src"))
            .filter((url) => /^\\s*(javascript|vbscript|data:(?!image\\/(png|jpeg|gif|webp|avif)))/i.test(url)),
        iframes: document.querySelectorAll("iframe, object, embed").length,
    })""")
    assert report["pwned"] == 0, report
    assert report["violations"] == [], report
    assert report["handlers"] == [], report
    assert len(report["scripts"]) == 1 and "/web/assets/index-" in report["scripts"][0], report
    assert report["badLinks"] == [] and report["iframes"] == 0, report


def test_hostile_values_render_inert(server: RoomchatProcess, new_page: Any) -> None:
    page = new_page()
    page.add_init_script(WATCH)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    join(page, server.url, "hostile", name="Watcher")

    evil_name = f"{IMG}{RTL}gnp.exe"
    with ChatClient(server.url, room="hostile", name=evil_name) as evil:
        text = f"{IMG} {SCRIPT} javascript:alert(1) [x](javascript:alert(2)) {RTL}txt.exe"
        sent = evil.broadcast("text", text)
        assert sent["msg"] == "Message sent"
        shown_name = evil.me["name"]  # as the server delivers it (it may clean a name or a text)
        assert evil.broadcast("image", {"url": SVG_URI, "alt": '"><img src=x onerror=alert(3)>'})["msg"] == "Message sent"
        tiny_png = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
                    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
        assert evil.broadcast("image", {"url": tiny_png, "alt": IMG})["msg"] == "Message sent"
        assert evil.broadcast("x-evil", {"html": SCRIPT, "url": "javascript:alert(4)", "svg": SVG})["msg"] == "Message sent"
        assert evil.broadcast("poll", {"question": IMG, "options": [SCRIPT, f"{RTL}evil"]})["msg"] == "Message sent"
        assert evil.broadcast("text", "the end")["msg"] == "Message sent"

        expect(message(page, "the end")).to_be_visible()
        # Markup is shown as the text it is.
        line = message(page, "txt.exe")
        expect(line).to_contain_text(IMG)
        expect(line).to_contain_text(SCRIPT)
        expect(line).to_contain_text("javascript:alert(1)")
        expect(line.get_by_role("link")).to_have_count(0)  # javascript: is never a link
        # The sender's name is text, isolated: its right-to-left override cannot flip the line around it.
        name = line.locator(".meta .name bdi")
        expect(name).to_have_text(shown_name)
        expect(line.locator(".body")).to_have_text(sent["data"]["message"]["value"])
        # The SVG image is not shown (its URL is not one the client opens); the PNG is, with its alt as text.
        expect(log(page).locator("img")).to_have_count(1)
        expect(log(page).locator("img")).to_have_attribute("src", tiny_png)
        expect(log(page).locator("img")).to_have_attribute("alt", IMG)
        expect(log(page)).to_contain_text("its address is not one this app opens")
        # An unknown type: its value as JSON text.
        unknown = message(page, "x-evil")
        expect(unknown.locator("pre")).to_have_text(json.dumps({"html": SCRIPT, "url": "javascript:alert(4)", "svg": SVG}, indent=2))
        # A poll's question and options are text too.
        expect(page.get_by_role("group", name=f"Poll: {IMG}")).to_contain_text(SCRIPT)
        # And in the user list.
        expect(page.locator(".users li").filter(has_text="gnp.exe").locator("bdi")).to_have_text(shown_name)
    inert(page)
    assert dialogs == []
    assert page.problems == []


def test_the_page_itself_refuses_inline_script(server: RoomchatProcess, new_page: Any) -> None:
    """The CSP is in force: a script injected into the DOM by hand (as an XSS would) does not run."""
    page = new_page()
    page.add_init_script(WATCH)
    join(page, server.url, "hostile", name="Probe")
    page.evaluate("""() => {
        const s = document.createElement("script"); s.textContent = "window.pwned = 42"; document.body.append(s);
        const d = document.createElement("div"); d.setAttribute("onclick", "window.pwned = 43"); document.body.append(d); d.click();
    }""")
    expect(page.locator("body")).to_be_visible()
    page.wait_for_function("() => window.violations.length >= 2")
    assert page.evaluate("window.pwned") == 0
