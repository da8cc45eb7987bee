"""History and catch-up in the page, against a real ``roomchat serve`` keeping history in SQLite.

PROTOCOL.md, "History and catch-up": the page's first join asks for ``history``, its rejoins
for ``since`` (tests/browser/test_reconnect.py checks the keys on the wire). Here: what the
reader sees. A late joiner gets the room's earlier messages, above a line; "Load earlier
messages" pages further back (``get-history``); after a restart of the server the page shows
every message it missed exactly once, in order, under a line saying so, then live ones; and a
direct message between two others never reaches a third page's history.
"""

from __future__ import annotations

import re
from typing import Any

from browserkit import ALAN, GRACE, KATE, TOKENS, config, join, log
from playwright.sync_api import expect

from roomchat.testing import ChatClient, RoomchatProcess

SOCKET_IO = re.compile(r"/socket\.io/")
JOINED_LINE = "Messages from before you joined are above this line."


def texts(page: Any) -> Any:
    """The open conversation's text messages and history lines, in the order they are shown."""
    return log(page).locator("li.msg[data-type='text'] .body, li.msg.divider")


def restart_while_cut_off(page: Any, server: RoomchatProcess) -> RoomchatProcess:
    """Stop ``server`` and start it again with ``page`` unable to reach it (its joins fail until ``let_back_in``)."""
    page.route(SOCKET_IO, lambda route: route.abort())
    server.stop()
    expect(page.locator("#conn-state")).to_have_attribute("data-state", re.compile("reconnecting|closed"))
    return RoomchatProcess(server.config_path, port=server.port).start()


def let_back_in(page: Any) -> None:
    """Let ``page`` reach the server again and wait until it rejoined."""
    page.unroute(SOCKET_IO)
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "connected", timeout=30_000)


def test_a_late_joiner_sees_the_rooms_earlier_messages(new_page: Any) -> None:
    with RoomchatProcess(config()) as server:
        with ChatClient(server.url, room="lobby", name="Bob") as bob:
            with ChatClient(server.url, room="lobby", token=TOKENS[KATE]) as kate:
                kate.broadcast("text", "zeroth")  # Kate leaves before the page comes: it knows her by ID only
            bob.wait_for("user-disconnected", lambda payload: payload["data"]["ID"] == KATE)  # she is gone
            for text in ("first", "second", "third"):
                assert bob.broadcast("text", text)["msg"] == "Message sent"
            page = join(new_page(), server.url, "lobby", name="Ann")
            expect(texts(page)).to_have_text(["zeroth", "first", "second", "third", JOINED_LINE])
            names = log(page).locator("li.msg.earlier .meta .name")
            expect(names).to_have_text([f"user {KATE}", "Bob", "Bob", "Bob"])
            expect(page.get_by_role("button", name="Load earlier messages")).to_be_hidden()  # 4 < the 100 asked for

            bob.broadcast("text", "live now")
            expect(texts(page)).to_have_text(["zeroth", "first", "second", "third", JOINED_LINE, "live now"])
            expect(log(page).locator("li.msg.earlier")).to_have_count(4)  # the live one is not marked earlier
            expect(log(page)).to_have_attribute("aria-live", "polite")  # new messages are announced again
            with ChatClient(server.url, room="lobby", token=TOKENS[KATE]):
                expect(names).to_have_text(["Kate Johnson", "Bob", "Bob", "Bob"])  # named once she is seen
                expect(log(page).locator("li.msg.earlier").first.locator(".badge")).to_have_text(["student"])


def test_load_earlier_messages_pages_back(new_page: Any) -> None:
    with RoomchatProcess(config()) as server:
        with ChatClient(server.url, room="lobby", name="Bob") as bob:
            for n in range(1, 131):
                assert bob.broadcast("text", f"m{n}")["msg"] == "Message sent"
        page = join(new_page(), server.url, "lobby", name="Ann")
        shown = log(page).locator("li.msg[data-type='text'] .body")
        expect(shown).to_have_text([f"m{n}" for n in range(31, 131)])  # the last 100 the join asks for

        more = page.get_by_role("button", name="Load earlier messages")
        more.focus()
        page.keyboard.press("Enter")  # keyboard-usable: a real button
        expect(shown).to_have_text([f"m{n}" for n in range(1, 131)])  # 30 more above, once each, in order
        expect(shown.nth(29)).to_be_in_viewport()  # the view moves to them: the newest loaded one just above m31
        expect(page.get_by_role("status").filter(has_text="earlier")).to_have_text(
            "30 earlier messages shown above. That is the start of what the room keeps.")
        expect(more).to_be_hidden()
        expect(texts(page).nth(130)).to_have_text(JOINED_LINE)  # the line stays under what came with the join


def test_the_page_catches_up_after_the_server_restarts(new_page: Any) -> None:
    """Messages sent while the page cannot reach the restarted server: each shown once, in order, then live ones."""
    server = RoomchatProcess(config()).start()
    try:
        page = join(new_page(), server.url, "lobby", token=TOKENS[GRACE])
        with ChatClient(server.url, room="lobby", token=TOKENS[ALAN]) as alan:
            alan.broadcast("text", "before the restart")
            expect(texts(page)).to_have_text(["before the restart"])

        # The page cannot rejoin until let back in, so the restarted server gets messages it misses.
        server = restart_while_cut_off(page, server)
        with ChatClient(server.url, room="lobby", token=TOKENS[ALAN]) as alan:
            for text in ("missed 1", "missed 2", "missed 3"):
                assert alan.broadcast("text", text)["msg"] == "Message sent"
            let_back_in(page)
            away = "While you were away: 3 new messages."
            expect(texts(page)).to_have_text(["before the restart", away, "missed 1", "missed 2", "missed 3"])

            alan.broadcast("text", "live again")
            expect(texts(page)).to_have_text(["before the restart", away, "missed 1", "missed 2", "missed 3", "live again"])
            expect(log(page).locator("li.msg.earlier")).to_have_count(0)  # missed is not "from before you joined"
    finally:
        server.stop()


def test_nobody_elses_direct_messages_are_in_a_pages_history(new_page: Any) -> None:
    with RoomchatProcess(config()) as server:
        with ChatClient(server.url, room="lobby", token=TOKENS[GRACE]) as grace:
            with ChatClient(server.url, room="lobby", token=TOKENS[ALAN]) as alan:
                grace.broadcast("text", "public before")
                assert grace.send(ALAN, "text", "secret for Alan")["msg"] == "Message sent"
                assert alan.send(GRACE, "text", "secret for Grace")["msg"] == "Message sent"
                grace.broadcast("text", "public after")

            kate = join(new_page(), server.url, "lobby", token=TOKENS[KATE])
            expect(texts(kate)).to_have_text(["public before", "public after", JOINED_LINE])
            expect(kate.get_by_role("tab")).to_have_count(1)  # no private conversation appeared
            expect(kate.locator("#app")).not_to_contain_text("secret")
        expect(log(kate).locator("li.msg.note.presence")).to_have_text(["Grace Hopper left."])

        # The same check finds them where they belong: Alan's own history has them, in his private tab
        # (titled "user 2" while Grace is away, by name once she is back).
        alan_page = join(new_page(), server.url, "lobby", token=TOKENS[ALAN])
        expect(texts(alan_page)).to_have_text(["public before", "public after", JOINED_LINE])
        private = alan_page.get_by_role("tab", name=f"user {GRACE}")
        private.click()
        expect(log(alan_page).locator("li.msg[data-type='text'] .body")).to_have_text(["secret for Alan", "secret for Grace"])
        with ChatClient(server.url, room="lobby", token=TOKENS[GRACE]):
            expect(alan_page.get_by_role("tab", name="Grace Hopper")).to_have_attribute("aria-selected", "true")
            expect(log(alan_page).locator("li.msg .meta .name")).to_have_text(["Grace Hopper", "Alan Turing"])
        expect(kate.locator("#app")).not_to_contain_text("secret")


def test_a_room_without_history_says_so_quietly(new_page: Any) -> None:
    """``complete: false``: nothing kept on the first join, and on a rejoin some of what was missed may be missing."""
    server = RoomchatProcess(config(rooms={"quiet": {"admit": ["users", "guests"], "rate_limit": None,
                                                     "history": "off"}})).start()
    try:
        with ChatClient(server.url, room="quiet", name="Bob") as bob:
            bob.broadcast("text", "said before")
            page = join(new_page(), server.url, "quiet", name="Ann")
            expect(log(page).locator("li.msg.note")).to_have_text(
                ["Earlier messages are not available in this room: new ones will show here."])
            bob.broadcast("text", "seen live")
            expect(texts(page)).to_have_text(["seen live"])

        server = restart_while_cut_off(page, server)
        with ChatClient(server.url, room="quiet", name="Bob") as bob:
            bob.broadcast("text", "said while away")
            let_back_in(page)
            expect(log(page).locator("li.msg.note.presence").last).to_have_text(
                "Some messages sent while you were away may be missing: the room does not keep them all.")
            expect(texts(page)).to_have_text(["seen live"])
            expect(page.get_by_role("button", name="Load earlier messages")).to_be_hidden()
    finally:
        server.stop()
