"""Every hook a roomchat plugin can implement.

pluggy calls hooks synchronously. A hook that needs I/O returns an awaitable
(define it with ``async def``) and the core awaits it, within the server's
``handler_timeout``. Hooks are prefixed ``roomchat_`` and documented one by one
in docs/plugins.md; tests/test_hookspecs.py checks that each one is documented.

Messages of a given type are handled by the handlers that type registers
(``roomchat_register_message_types``); the core looks the type up, so a
type's handlers cost nothing to messages of other types. The hooks named
``roomchat_*message*`` below see every message whatever its type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .context import MessageContext
    from .messagetypes import MessageType
    from .server import ChatServer
    from .users import User

hookspec = pluggy.HookspecMarker("roomchat")
hookimpl = pluggy.HookimplMarker("roomchat")

MaybeAwaitable = Awaitable[None] | None


@hookspec
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register this plugin's message types by calling ``register(MessageType(...))``.

    A MessageType names the type, the pydantic model (or type) its ``value``
    must match, and its handlers. Called once for each plugin, when it is
    registered. Two plugins registering the same type name is an error that
    stops start-up and names both.
    """


@hookspec
def roomchat_settings_model() -> type[BaseModel] | None:
    """The pydantic model of this plugin's settings, or None if it has none.

    Settings come from ``plugins.settings.<plugin name>`` in the config,
    overridden per room by ``rooms.<room>.plugins.settings.<plugin name>``.
    They are validated at start-up, so a bad value stops the server with a
    message naming the key. Handlers read them as ``ctx.settings``. The core
    calls each plugin's implementation on its own (results are not merged).
    """


@hookspec
def roomchat_check_message(ctx: MessageContext) -> MaybeAwaitable:
    """Every message, whatever its type, after its value is validated and before its handlers.

    For moderation and policy. Refuse the message by raising
    ``roomchat.Refusal`` (or ``ctx.refuse(...)``); return None (or an
    awaitable of None) to let it pass. All implementations run, in pluggy's
    order, until one refuses. ``ctx.value`` may be changed (to redact, say).
    """


@hookspec
def roomchat_message_delivered(ctx: MessageContext, data: dict[str, Any]) -> MaybeAwaitable:
    """Every message after it was delivered, with the ``data`` its recipients got.

    For logging, history and metrics. Not called for refused or consumed
    messages. Return values are ignored; an error is logged and does not
    affect the sender, whose message has already gone out.
    """


@hookspec
def roomchat_startup(server: ChatServer) -> MaybeAwaitable:
    """The server has started and is about to accept connections."""


@hookspec
def roomchat_shutdown(server: ChatServer) -> MaybeAwaitable:
    """The server is stopping; release what ``roomchat_startup`` took."""


@hookspec
def roomchat_user_joined(server: ChatServer, room: str, user: User) -> MaybeAwaitable:
    """``user`` entered ``room`` (its first connection), after ``user-connected`` went out."""


@hookspec
def roomchat_user_left(server: ChatServer, room: str, user: User) -> MaybeAwaitable:
    """``user`` left ``room`` (its last connection closed), after ``user-disconnected`` went out."""


@hookspec
def roomchat_register_bots(register: Callable[[type[Any]], None]) -> None:
    """Register bot classes by calling ``register(BotClass)``; ``kind`` in the config names them.

    Called once for each plugin, when it is registered.
    """


@hookspec(firstresult=True)
def roomchat_resolve_room(server: ChatServer, name: str) -> Any:
    """The RoomConfig of room ``name``, or None to leave the question to the next plugin.

    The first answer that is not None wins (firstresult). The built-in
    answer runs last (trylast): rooms from the config file, then a room
    created on first join when ``server.create_rooms`` is on. Raise
    ``Refusal("room_not_found", ...)`` to refuse the room outright. Must
    answer synchronously: it runs on every join.
    """
