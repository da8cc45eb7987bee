"""Helpers of the browser tests (imported by name: ``from browserkit import join``)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

TEACHER, GRACE, ALAN, KATE, ADMIN = 1, 2, 3, 4, 5
USERS = [
    {"ID": TEACHER, "name": "Tess Teacher", "role": "TEACHER", "token": "tok-teacher-tess"},
    {"ID": GRACE, "name": "Grace Hopper", "role": "STUDENT", "token": "tok-student-grace"},
    {"ID": ALAN, "name": "Alan Turing", "role": "STUDENT", "token": "tok-student-alan"},
    {"ID": KATE, "name": "Kate Johnson", "role": "STUDENT", "token": "tok-student-kate"},
    {"ID": ADMIN, "name": "Ada Admin", "role": "ADMIN", "token": "tok-admin-ada"},
]
TOKENS = {user["ID"]: user["token"] for user in USERS}


def config(**extra: Any) -> dict[str, Any]:
    """A server with the users above, a guests' lobby, and a classroom for tokens only."""
    base: dict[str, Any] = {
        "server": {"create_rooms": True, "new_room": {"admit": ["users", "guests"], "rate_limit": None},
                   "ping_interval": 5, "ping_timeout": 5},
        "users": USERS,
        "rooms": {
            "lobby": {"admit": ["users", "guests"], "rate_limit": None},
            "classroom": {"admit": ["users"], "rate_limit": None},
        },
    }
    for key, value in extra.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return base


def join(page: Any, url: str, room: str, name: str | None = None, token: str | None = None) -> Any:
    """Open the app with ``?room=``, join as a guest (``name``) or with ``token``; wait until connected."""
    page.goto(f"{url}/?room={room}")
    expect(page.get_by_label("Room")).to_have_value(room)
    if name is not None:
        page.get_by_label("Your name (as a guest)").fill(name)
    if token is not None:
        page.get_by_label(re.compile("Or your token")).fill(token)
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "connected")
    return page


def send_text(page: Any, text: str) -> None:
    """Type ``text`` into the open conversation's field and press Enter."""
    field = page.locator("#composer-text")
    field.fill(text)
    field.press("Enter")
    expect(field).to_have_value("")


def log(page: Any) -> Any:
    """The open conversation's message list."""
    return page.locator("section.conversation:not([hidden]) ol.log")


def message(page: Any, text: str | re.Pattern[str]) -> Any:
    """The message rows of the open conversation that contain ``text``."""
    return log(page).locator("li.msg").filter(has_text=text)
