"""Every hook a roomchat plugin can implement.

A plugin is any module, class or object with functions named after these
hooks and marked ``@roomchat.hookimpl`` (a class is instantiated once per
server, with its ``roomchat.Chat``). Hooks are prefixed ``roomchat_``,
documented one by one in docs/plugins.md, and tests/test_hookspecs.py fails
when one is not documented there or not exercised by a test.

Hooks that act get ``chat``: the implementing plugin's own ``roomchat.Chat``
(roomchat/api.py), never the server. The message hooks get a
``MessageContext``, whose ``ctx.chat`` is the same.

Every hook is called through pluggy, one plugin at a time
(roomchat/plugins.py), so ``wrapper=True`` implementations and ``pm.trace``
see each call. A hook that needs I/O is written with ``async def``: it
returns an awaitable, and the core awaits it within the server's
``handler_timeout`` before the next plugin runs. The registration hooks
(``roomchat_register_*``, ``roomchat_settings_model``), ``roomchat_resolve_room``
and ``roomchat_web_assets`` must answer synchronously. The hooks about a
room (messages, joins, leaves) run only for the plugins the room runs
(``plugins.enabled`` / ``disabled``, ``plugins.rooms``).

Messages of one type are handled by the handlers that type registers
(``roomchat_register_message_types``); the core looks the type up in a dict,
so a type's handlers cost nothing to messages of other types. Only
``roomchat_check_message`` and ``roomchat_message_delivered`` see every
message, whatever its type.

Failures are isolated: a message hook that raises (or outlives the timeout)
refuses only that message with ``plugin_error`` and logs the traceback; a
delivered or lifecycle hook that fails is logged and the others still run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pluggy

from .api import WebAssets  # at run time: tests/test_hookspecs.py resolves every hook's annotations

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .api import Chat
    from .config import RoomConfig
    from .context import MessageContext
    from .messagetypes import MessageType
    from .users import User

PROJECT = "roomchat"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

MaybeAwaitable = Awaitable[None] | None
"""What a hook that may do I/O returns: None, or an awaitable the core awaits (``async def``)."""


# -- registration: called once per plugin, when it is registered ---------------


@hookspec
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register this plugin's message types by calling ``register(MessageType(...))``.

    Gets: ``register``, a function taking one ``roomchat.MessageType`` (its
    ``name``, the pydantic model or type its ``value`` must match, and its
    ``handlers``: the per-type pipeline steps that validate further,
    transform, answer or consume). Call it once per type.
    Returns: nothing (the return value is ignored).
    When: once for each plugin, as it is registered at start-up (and by
    ``roomchat plugins`` / ``roomchat schema``). Synchronous.
    First answer wins: no; every plugin registers its own types. Two plugins
    registering the same type name stop start-up with an error naming both.
    """


@hookspec
def roomchat_settings_model() -> type[BaseModel] | None:
    """The pydantic model of this plugin's settings, or None if it takes none.

    Gets: nothing.
    Returns: a pydantic model class (use ``extra="forbid"`` so a misspelt key
    is an error); every field needs a default, because a room with no
    settings gets the defaults.
    When: once for each plugin, as it is registered. Synchronous.
    First answer wins: not applicable; the core asks each plugin for its own
    model, so answers are never merged or compared.
    Settings come from ``plugins.settings.<plugin>`` in the config, overridden
    key by key per room by ``rooms.<room>.plugins.settings.<plugin>``. They
    are validated at start-up: a bad value stops the server with a message
    naming the key. Handlers and the all-types hooks read the validated model
    as ``ctx.settings``; without a model, ``ctx.settings`` is the plain dict.
    """


@hookspec
def roomchat_register_bots(register: Callable[[type[Any]], None]) -> None:
    """Register bot classes by calling ``register(BotClass)``.

    Gets: ``register``, a function taking one ``roomchat.bot.Bot`` subclass;
    its ``kind`` is what ``bots: - kind:`` names in the config.
    Returns: nothing (ignored).
    When: once for each plugin, as it is registered. Synchronous.
    First answer wins: no; a kind registered twice stops start-up.
    """


@hookspec(firstresult=True)
def roomchat_resolve_room(chat: Chat, name: str) -> RoomConfig | None:
    """The ``RoomConfig`` of room ``name``, or None to leave it to the next plugin.

    Gets: this plugin's ``chat`` and the room ``name`` a connecting client
    asked for (or a plugin's ``chat.room(name)``).
    Returns: a ``roomchat.RoomConfig``, or None. Raise
    ``Refusal("room_not_found", ...)`` to refuse the room outright.
    When: on every join, before the user is identified. Synchronous (it is
    on the join path); keep it fast, cache what you look up.
    First answer wins: yes (firstresult). The built-in answer (rooms from the
    config file, then a room created on first join when
    ``server.create_rooms`` is on) is ``trylast``, so a plugin's answer comes
    first and the file is the fallback. Server-wide: the room is not known
    yet, so no room's plugin choice applies.
    """


@hookspec
def roomchat_check_join(chat: Chat, room: str, user: User) -> MaybeAwaitable:
    """Let ``user`` into ``room``, or refuse: bans, opening hours, a quota kept elsewhere.

    Gets: this plugin's ``chat``, the ``room`` name and the identified
    ``roomchat.User`` (``chat.room(room)`` is its ``RoomConfig``).
    Returns: None (or an awaitable of None) to let the user in. Refuse by
    raising ``roomchat.Refusal`` with a code from PROTOCOL.md (``banned``,
    ``forbidden``...): the client's ``connect_error`` carries it.
    When: on every join, after the room was resolved, the user identified
    and the room's ``roles`` checked, before the room's capacity is counted;
    in rooms that run the plugin.
    First answer wins: no; every implementation runs, in pluggy's order,
    until one refuses. One that raises anything else, or outlives
    ``handler_timeout``, refuses the join with ``unavailable`` (logged with
    the plugin's name): a check that could not run lets nobody in.
    """


# -- every message, whatever its type ------------------------------------------------


@hookspec
def roomchat_check_message(ctx: MessageContext) -> MaybeAwaitable:
    """See every message, whatever its type; let it pass or refuse it.

    Gets: ``ctx``, the message's ``roomchat.MessageContext``: its sender,
    type, validated ``value``, target, room, and this plugin's settings for
    the room. ``ctx.value`` may be changed (to redact, say).
    Returns: None (or an awaitable of None) to let the message pass. Refuse
    it by raising ``roomchat.Refusal`` (or calling ``ctx.refuse(...)``) with a
    code from PROTOCOL.md: ``forbidden``, ``muted``, ``validation_failed``...
    When: for every ``message`` and ``broadcast-message`` in a room where the
    plugin is enabled, after the value was validated against its type's model
    and the target was checked, before the type's own handlers.
    First answer wins: no; every implementation runs, in pluggy's order
    (last registered first, ``tryfirst``/``trylast`` respected), until one
    refuses. One that raises anything else, or outlives ``handler_timeout``,
    refuses the message with ``plugin_error``.
    """


@hookspec
def roomchat_message_delivered(ctx: MessageContext, data: dict[str, Any]) -> MaybeAwaitable:
    """See every message after it went out, with the ``data`` its recipients got.

    Gets: ``ctx`` (as in ``roomchat_check_message``; ``ctx.id`` is the
    delivered message's id) and ``data``, the ``message`` event's data:
    ``{"from", "message": {"type", "value"}, "id", "time"}``.
    Returns: nothing (ignored; too late to refuse).
    When: after delivery, before the sender's ack, for every delivered
    message in a room where the plugin is enabled. Not called for refused or
    consumed messages, nor for what plugins send with ``ctx.reply`` and the
    like. For logging, history and metrics.
    First answer wins: no; all run. A failure or timeout is logged and the
    other implementations still run; the sender is not told.
    """


# -- lifecycle: server-wide, every plugin is told ---------------------------------------


@hookspec
def roomchat_startup(chat: Chat) -> MaybeAwaitable:
    """The server has started and is about to serve connections.

    Gets: this plugin's ``chat``.
    Returns: nothing (ignored). Open connections, start timers here.
    When: once, at start-up (the ASGI lifespan's startup), before any
    connection is served.
    First answer wins: no; all run. A failure or a timeout is logged and
    start-up goes on without it.
    """


@hookspec
def roomchat_shutdown(chat: Chat) -> MaybeAwaitable:
    """The server is stopping; release what ``roomchat_startup`` took.

    Gets: this plugin's ``chat``.
    Returns: nothing (ignored).
    When: once, after every client was disconnected, before the state backend closes.
    First answer wins: no; all run, each failure logged and isolated.
    """


@hookspec
def roomchat_user_joined(chat: Chat, room: str, user: User) -> MaybeAwaitable:
    """``user`` entered ``room``.

    Gets: this plugin's ``chat``, the ``room`` name and the ``roomchat.User``
    (``id``, ``role``, ``name``, ``bot``).
    Returns: nothing (ignored). To greet, ``await chat.send(room, "text",
    "Welcome!", to=user.id)``.
    When: on the user's first connection to the room, after
    ``initial-response`` and ``user-connected`` went out, in rooms that run
    the plugin.
    First answer wins: no; all run, each failure logged and isolated.
    """


@hookspec
def roomchat_user_left(chat: Chat, room: str, user: User) -> MaybeAwaitable:
    """``user`` left ``room``.

    Gets: this plugin's ``chat``, the ``room`` name and the ``roomchat.User``.
    Returns: nothing (ignored).
    When: when the user's last connection to the room closed, after
    ``user-disconnected`` went out to those left, in rooms that run the
    plugin. Per room, both hooks run one call at a time, in the order of the
    room's joins and leaves.
    First answer wins: no; all run, each failure logged and isolated.
    """


# -- the web client ------------------------------------------------------------------------


@hookspec
def roomchat_web_assets() -> WebAssets | None:
    """This plugin's files for the web client: a folder, and the ES module the app loads from it.

    Gets: nothing.
    Returns: ``roomchat.WebAssets(folder, entry)``, or None for a
    plugin with nothing to show in a browser. ``folder`` is served read-only
    at ``/web/plugins/<plugin name>/``; ``entry`` (a path inside it, like
    ``"renderer.js"``) is an ES module whose default export the app calls with
    its API, to ``registerRenderer(type, render)`` for the plugin's types.
    When: once, when the server builds its HTTP routes at start-up. Synchronous.
    First answer wins: no; each plugin answers for itself. An answer that
    cannot be served (the hook raises, or there is no such entry file in the
    folder) is logged as ``event=web_assets_invalid`` and left out; the server
    and the other plugins' renderers go on.
    """
