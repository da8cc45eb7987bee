"""The moderator bot's teacher commands through the bot SDK's routing, against a real server.

tests/bots/test_moderator_bot.py plays the commands inside whole moderation
scenarios; this file covers the routing's edges: prefixes and case, aliases,
the generated help, wrong arguments, and students.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from roomchat.testing import ChatClient, RoomchatThread

MODERATOR, TEACHER, GRACE = 901, 1, 2
CONFIG = {
    "users": [{"ID": TEACHER, "name": "Ada Lovelace", "role": "TEACHER", "token": "tok-cmd-teacher"},
              {"ID": GRACE, "name": "Grace Hopper", "role": "STUDENT", "token": "tok-cmd-grace"}],
    "rooms": {"desk": {"admit": ["users"], "rate_limit": None}},
    "bots": [{"kind": "moderator", "ID": MODERATOR, "name": "Moddy", "role": "TEACHER", "rooms": ["desk"],
              "settings": {"words": [{"name": "profanity", "words": ["shit"], "action": "block"}]}}],
}


@pytest.fixture(scope="module")
def server() -> Iterator[RoomchatThread]:
    with RoomchatThread(CONFIG) as srv:
        yield srv


def ask(client: ChatClient, text: str) -> str:
    """Send the moderator a direct text; its next text to this client."""
    before = len([m for m in client.messages() if m["from"] == MODERATOR])
    client.send(MODERATOR, "text", text)
    return client.wait_message(lambda d: d["from"] == MODERATOR, count=before + 1)["message"]["value"]


def test_teachers_commands_with_prefixes_aliases_help_and_wrong_arguments(server: RoomchatThread) -> None:
    with ChatClient(server.url, room="desk", token="tok-cmd-teacher") as ada, \
            ChatClient(server.url, room="desk", token="tok-cmd-grace") as grace:
        if MODERATOR not in [u["ID"] for u in ada.users]:
            ada.wait_for("user-connected", lambda p: p["data"]["ID"] == MODERATOR)
        assert ask(ada, "STATUS").startswith("Moderator in desk: acting")
        assert ask(ada, "/status").startswith("Moderator in desk")
        assert ask(ada, "!log") == "No moderation actions yet."
        assert ask(ada, "pardon 2") == "Forgot 0 offence(s) of user 2."
        assert ask(ada, "forgive Grace") == ("forgive: user: Input should be a valid integer, unable to parse string "
                                             "as an integer. Usage: forgive <ID>")
        assert ask(ada, "dry-run maybe") == "dry-run: mode: Input should be 'on' or 'off'. Usage: dry-run on|off"
        assert ask(ada, "DRYRUN ON").startswith("Dry run is on: I will only report in this room")
        assert ask(ada, "dry_run off").startswith("Dry run is off: I will act in this room")
        help_text = ask(ada, "what can you do").splitlines()
        assert help_text == [
            "Moderator commands (direct messages, teachers and admins):",
            "help: The commands",
            "status: The room's mode, the ladder, and each user with offences on record",
            "log: The last ten actions",
            "forgive <ID> (or pardon): Forget a user's offences",
            "dry-run on|off (or dryrun, dry_run): This room: only report, or act",
        ]
        assert ask(ada, "help").splitlines() == help_text
        for text in ("help", "status", "forgive 2", "hello"):
            assert ask(grace, text) == ("I am this room's moderator bot. If you think I got something wrong, "
                                        "ask your teacher.")
