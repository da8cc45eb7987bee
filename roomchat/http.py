"""The few plain HTTP routes beside Socket.IO: health and message-type schemas."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import Refusal
from .watchdog import overdue_connections
from .webclient import WebClient, plugin_assets

if TYPE_CHECKING:
    from .server import ChatServer

ASGIReceive = Any
ASGISend = Any


def schemas(server: ChatServer) -> dict[str, Any]:
    """Every registered message type's value as JSON Schema, by type name."""
    return {
        t.name: {"plugin": t.plugin, "description": t.description, "schema": t.json_schema()}
        for t in sorted(server.plugins.types, key=lambda t: t.name)
    }


def health(server: ChatServer) -> tuple[int, dict[str, Any]]:
    """200 ``ok``; else 503, ``unavailable`` while the shared store (Redis) is out of reach, or ``unhealthy``.

    Unhealthy: the event loop is stuck or was within ``server.health.report_for``
    seconds; connections whose pings timed out are not being closed (the sweep
    is stuck); a cluster's presence feed has stalled. ``reason`` says why, one
    sentence per problem. A load balancer can send new clients elsewhere.
    """
    body: dict[str, Any] = {"status": "ok", "connections": server.connection_count()}
    try:
        server.state.check_available()
    except Refusal as refusal:
        return 503, {**body, "status": "unavailable", "reason": refusal.message}
    problems = [p for p in (server.watchdog.problem(), _overdue(server)) if p] + server.state.problems()
    if problems:
        return 503, {**body, "status": "unhealthy", "reason": "; ".join(problems)}
    return 200, body


def _overdue(server: ChatServer) -> str | None:
    count = overdue_connections(server.sio.eio)
    if not count:
        return None
    return (f"{count} connection{'s' if count != 1 else ''} stopped answering pings a whole ping cycle ago and "
            "{} not been closed: the ping-timeout sweep is stuck".format("has" if count == 1 else "have"))


def http_app(server: ChatServer) -> Any:
    """An ASGI app for ``GET /healthz``, ``GET /schema`` and ``GET /schema/<type>``, and the web client.

    The web client (``/`` and ``/web/...``) is ``roomchat/webclient.py``.
    """
    web = WebClient(plugin_assets(server.plugins.answers("roomchat_web_assets")), server.config.bots)

    async def app(scope: dict[str, Any], receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].rstrip("/") or "/"
        if scope["method"] not in ("GET", "HEAD"):
            await _reply(send, 405, {"error": "only GET is supported here"})
        elif path == "/healthz":
            await _reply(send, *health(server))
        elif path == "/schema":
            await _reply(send, 200, schemas(server))
        elif path.startswith("/schema/"):
            entry = schemas(server).get(path.removeprefix("/schema/"))
            status = 200 if entry else 404
            await _reply(send, status, entry or {"error": "no such message type", "see": "/schema"})
        elif not await web.respond(scope, send):
            await _reply(send, 404, {"error": "not found", "see": ["/", "/socket.io/", "/healthz", "/schema"]})

    return app


async def _reply(send: ASGISend, status: int, body: Any) -> None:
    raw = json.dumps(body, ensure_ascii=False, indent=None).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
