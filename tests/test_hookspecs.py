"""The hook specification is complete, documented and tested.

Like datasette's test_docs.py: every hookspec in roomchat/hookspecs.py is
prefixed, typed and explained in its docstring, has its own section in
docs/plugins.md, and is implemented by some test (so it has run through a
real server). The plugin API the guide describes is the API that exists.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from pathlib import Path

import pytest

from roomchat import Chat, Store, hookspecs
from roomchat.context import MessageContext
from roomchat.messagetypes import MessageType

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if callable(fn) and hasattr(fn, "roomchat_spec"))
TESTS = {path.name: path.read_text(encoding="utf-8") for path in (ROOT / "tests").glob("test_*.py")
         if path.name != Path(__file__).name}


def test_the_specification_has_the_hooks_issues_3_and_11_ask_for() -> None:
    assert set(HOOKS) >= {
        "roomchat_register_message_types", "roomchat_settings_model", "roomchat_check_message",
        "roomchat_message_delivered", "roomchat_startup", "roomchat_shutdown", "roomchat_user_joined",
        "roomchat_user_left", "roomchat_resolve_room", "roomchat_register_bots", "roomchat_check_join",
    }


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_prefixed_typed_and_explained(hook: str) -> None:
    fn = getattr(hookspecs, hook)
    assert hook.startswith("roomchat_")
    hints = typing.get_type_hints(fn, globalns={**vars(hookspecs), **_api()})
    assert set(hints) == {*inspect.signature(fn).parameters, "return"}, f"{hook}: annotate every argument and the return"
    doc = inspect.getdoc(fn) or ""
    for part in ("Gets:", "Returns:", "When:", "First answer wins"):
        assert part in doc, f"{hook}'s docstring must say {part!r}"


def _api() -> dict[str, object]:
    from pydantic import BaseModel

    from roomchat import Chat
    from roomchat.config import RoomConfig
    from roomchat.users import User

    return {"BaseModel": BaseModel, "RoomConfig": RoomConfig, "Chat": Chat, "User": User,
            "MessageContext": MessageContext, "MessageType": MessageType}


def test_only_resolve_room_is_firstresult_and_the_builtin_answer_runs_last() -> None:
    firstresult = [h for h in HOOKS if getattr(hookspecs, h).roomchat_spec.get("firstresult")]
    assert firstresult == ["roomchat_resolve_room"]
    from roomchat.core.rooms import ConfigRooms

    assert ConfigRooms.roomchat_resolve_room.roomchat_impl["trylast"] is True


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_plugin_guide(hook: str) -> None:
    assert re.search(rf"^### `{hook}\(", DOC, re.MULTILINE), f"docs/plugins.md needs a '### `{hook}(...)`' section"


def test_the_guide_documents_no_hook_that_does_not_exist() -> None:
    documented = set(re.findall(r"^### `(roomchat_\w+)\(", DOC, re.MULTILINE))
    assert documented == set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_implemented_by_some_test(hook: str) -> None:
    users = [name for name, text in TESTS.items() if re.search(rf"def {hook}\(", text)]
    assert users, f"no test implements {hook}: add one that runs it through a real server"


def test_the_guide_documents_the_message_type_and_context_api() -> None:
    fields = [f.name for f in dataclasses.fields(MessageType) if f.init]
    public = [n for n in dir(MessageContext) if not n.startswith("_")]
    public += [n for n in MessageContext.__slots__ if not n.startswith("_")]
    for name in {*fields, *public} - {"sid"}:
        assert f"`{name}" in DOC or f".{name}" in DOC, f"docs/plugins.md does not mention {name!r}"


def test_the_guide_documents_every_shipped_fixture() -> None:
    from roomchat.testing import pytest_plugin

    fixtures = [name for name, obj in vars(pytest_plugin).items() if hasattr(obj, "_fixture_function_marker")
                or type(obj).__name__ == "FixtureFunctionDefinition"]
    assert {"roomchat_room", "roomchat_start", "roomchat_plugins", "roomchat_settings", "roomchat_config"} <= set(fixtures)
    for name in fixtures:
        assert name.startswith("roomchat_")
        assert f"`{name}`" in DOC, f"docs/plugins.md does not document the fixture {name}"


def _protocol_members(protocol: type) -> list[str]:
    return sorted(name for name in vars(protocol) if not name.startswith("_"))


@pytest.mark.parametrize(("prefix", "member"), [("chat", m) for m in _protocol_members(Chat)]
                         + [("store", m) for m in _protocol_members(Store)])
def test_every_member_of_the_plugin_api_is_documented_and_tested(prefix: str, member: str) -> None:
    """roomchat.Chat and roomchat.Store (roomchat/api.py): each member in the guide's API tables and used by a test."""
    assert re.search(rf"`(await )?{prefix}\.{member}\b", DOC), f"docs/plugins.md does not document {prefix}.{member}"
    users = [name for name, text in TESTS.items() if re.search(rf"\b{prefix}\.{member}\b", text)]
    assert users, f"no test uses {prefix}.{member} on a running server"


def test_the_plugin_api_is_what_roomchat_exports() -> None:
    import roomchat

    assert roomchat.Chat is Chat and roomchat.Store is Store
    assert {"Chat", "Store", "Clock", "MessageContext", "MessageType", "Refusal", "User", "Role", "ROOM_ID",
            "RoomConfig", "hookimpl", "WebAssets", "ConfigError"} <= set(roomchat.__all__)
