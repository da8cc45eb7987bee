"""The few plain HTTP routes beside Socket.IO: health and message-type schemas."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import Refusal
from .messagetypes import MessageType
from .webclient import WebClient

ASGIReceive = Any
ASGISend = Any


def schemas(types: Iterable[MessageType]) -> dict[str, Any]:
    """Every registered message type's value as JSON Schema, by type name."""
    return {
        t.name: {"plugin": t.plugin, "description": t.description, "schema": t.json_schema()}
        for t in sorted(types, key=lambda t: t.name)
    }


@dataclass(frozen=True)
class Health:
    """What ``/healthz`` reads: connections, whether the shared store answers, and the checks that may fail.

    ``available`` raises a Refusal (``unavailable``) while the shared store
    (Redis) is out of reach; each of ``checks`` returns a sentence saying what
    is wrong, or None.
    """

    connections: Callable[[], int]
    available: Callable[[], None]
    checks: list[Callable[[], str | None]]

    def report(self) -> tuple[int, dict[str, Any]]:
        """200 ``ok``; else 503, ``unavailable`` while the shared store is out of reach, or ``unhealthy``.

        Unhealthy: the event loop is stuck or was within ``server.health.report_for``
        seconds; connections whose pings timed out are not being closed (the sweep
        is stuck); a cluster's presence feed has stalled. ``reason`` says why, one
        sentence per problem. A load balancer can send new clients elsewhere.
        """
        body: dict[str, Any] = {"status": "ok", "connections": self.connections()}
        try:
            self.available()
        except Refusal as refusal:
            return 503, {**body, "status": "unavailable", "reason": refusal.message}
        problems = [problem for problem in (check() for check in self.checks) if problem]
        if problems:
            return 503, {**body, "status": "unhealthy", "reason": "; ".join(problems)}
        return 200, body


def http_app(types: Callable[[], dict[str, Any]], health: Health, web: WebClient) -> Any:
    """An ASGI app for ``GET /healthz``, ``GET /schema`` and ``GET /schema/<type>``, and the web client.

    ``types()`` gives the schemas (``schemas``); the web client (``/`` and
    ``/web/...``) is ``roomchat/webclient.py``.
    """

    async def app(scope: dict[str, Any], receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].rstrip("/") or "/"
        if scope["method"] not in ("GET", "HEAD"):
            await _reply(send, 405, {"error": "only GET is supported here"})
        elif path == "/healthz":
            await _reply(send, *health.report())
        elif path == "/schema":
            await _reply(send, 200, types())
        elif path.startswith("/schema/"):
            entry = types().get(path.removeprefix("/schema/"))
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
