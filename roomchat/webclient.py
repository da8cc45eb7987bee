"""The web client: the browser app at ``/``, its files under ``/web/``, and the plugins' renderers.

The app itself is built from ``web/`` (TypeScript, socket.io-client) into
``roomchat/web/static`` by ``npm ci && npm run build`` (``make``, and the
wheel's build step run it), so a wheel serves it with no network at all.

Routes (GET and HEAD):

- ``/``: the app's page, never cached;
- ``/web/<file>``: the app's files (``/web/assets/`` names carry a content
  hash: cached for a year);
- ``/web/info.json``: the configured bots (``ID``, ``kind``), so the app marks
  bots and finds the quiz and moderator bots; nothing secret;
- ``/web/plugins.json``: the renderer module of every plugin that ships one
  (hook ``roomchat_web_assets``), and ``/web/plugins/<plugin>/<file>``: its files.

Every answer carries a strict Content-Security-Policy (no inline script or
style, scripts and connections to this origin only) and ``nosniff``. Paths are
matched segment by segment (letters, digits, ``.``, ``_``, ``-``, never a
leading dot) and resolved inside their folder, so nothing outside it is served.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .api import WebAssets
from .config import BotConfig
from .logs import event

__all__ = ["STATIC", "WebAssets", "WebClient", "plugin_assets", "safe_file"]

log = logging.getLogger("roomchat.web")

STATIC = Path(__file__).resolve().parent / "web" / "static"
"""Where ``npm run build`` (in ``web/``) puts the app."""

ASSETS_PREFIX = "/web/"
PLUGINS_PREFIX = "/web/plugins/"
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_HOST = re.compile(r"[A-Za-z0-9.:\[\]-]{1,255}")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}

NOT_BUILT = (
    "<!doctype html><title>roomchat</title><h1>The web client is not built</h1>"
    "<p>Build it with <code>make run</code>, or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>"
)


def content_security_policy(host: str | None) -> str:
    """The page's CSP: this origin's scripts and styles only; media as the server's media types allow.

    ``image``/``video`` accept http(s) URLs and base64 ``data:`` URIs, so
    ``img-src``/``media-src`` allow ``https: http: data:``. ``connect-src``
    names the WebSocket origin explicitly for browsers whose ``'self'`` does
    not cover ``ws:``.
    """
    sockets = f" ws://{host} wss://{host}" if host and _HOST.fullmatch(host) else ""
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: http: data:",
        "media-src 'self' https: http: data:",
        f"connect-src 'self'{sockets}",
        "font-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "frame-src 'none'",
        "worker-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ])


def safe_file(root: Path, relative: str) -> Path | None:
    """The file ``relative`` (a ``/``-separated path) inside ``root``, or None if it is not one.

    Every segment must be a plain name (no ``..``, no hidden files, no
    back-slashes or encoded separators), and the resolved path must stay in
    ``root`` (a symbolic link out of it is refused too).
    """
    parts = relative.split("/")
    if not parts or not all(_SEGMENT.fullmatch(part) for part in parts):
        return None
    root = root.resolve()
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def plugin_assets(answers: Iterable[tuple[str, Callable[[], Any]]]) -> dict[str, WebAssets]:
    """Every plugin's ``roomchat_web_assets`` answer that can be served, by plugin name.

    ``answers`` are ``(plugin, ask)`` pairs (``PluginHost.answers``). A plugin
    whose hook raises, or names no folder or no entry file in it, is logged
    (``event=web_assets_invalid``) and left out; the server serves on.
    """
    found: dict[str, WebAssets] = {}
    for name, ask in answers:
        try:
            assets = ask()
            if assets is None:
                continue
            if not isinstance(assets, WebAssets):
                raise TypeError(f"roomchat_web_assets must return a roomchat.WebAssets, not {type(assets).__name__}")
            folder = Path(assets.folder)
            if not _SEGMENT.fullmatch(name) or safe_file(folder, assets.entry) is None:
                raise ValueError(f"no entry module {assets.entry!r} in {folder}")
            found[name] = WebAssets(folder.resolve(), assets.entry)
        except Exception as exc:  # noqa: BLE001 - a plugin's mistake must not stop the server
            event(log, "web_assets_invalid", logging.ERROR, plugin=name, error=f"{type(exc).__name__}: {exc}"[:300])
    return found


class WebClient:
    """Answers the web client's routes; ``respond`` returns False for any other path."""

    def __init__(self, assets: dict[str, WebAssets], bots: Iterable[BotConfig], static: Path = STATIC) -> None:
        self.static = static
        self.plugins = assets
        self.info = {"bots": [{"ID": bot.id, "kind": bot.kind} for bot in bots]}
        self.plugin_list = [
            {"plugin": name, "entry": f"{PLUGINS_PREFIX}{name}/{assets.entry}"} for name, assets in sorted(self.plugins.items())
        ]

    async def respond(self, scope: dict[str, Any], send: Any) -> bool:
        """Answer ``scope`` if it is one of the web client's paths (GET or HEAD)."""
        path: str = scope["path"]
        if path == "/":
            index = self.static / "index.html"
            if not index.is_file():
                await self._send(scope, send, 503, NOT_BUILT.encode(), "text/html; charset=utf-8", "no-store")
            else:
                await self._file(scope, send, index, "no-cache")
            return True
        if path == "/web/info.json":
            await self._json(scope, send, self.info)
        elif path == "/web/plugins.json":
            await self._json(scope, send, self.plugin_list)
        elif path.startswith(PLUGINS_PREFIX):
            name, _, rest = path.removeprefix(PLUGINS_PREFIX).partition("/")
            assets = self.plugins.get(name)
            found = safe_file(assets.folder, rest) if assets else None
            await self._file(scope, send, found, "no-cache")
        elif path.startswith(ASSETS_PREFIX):
            rest = path.removeprefix(ASSETS_PREFIX)
            hashed = rest.startswith("assets/")
            await self._file(scope, send, safe_file(self.static, rest), "public, max-age=31536000, immutable" if hashed else "no-cache")
        else:
            return False
        return True

    async def _json(self, scope: dict[str, Any], send: Any, body: Any) -> None:
        await self._send(scope, send, 200, json.dumps(body).encode(), "application/json", "no-cache")

    async def _file(self, scope: dict[str, Any], send: Any, path: Path | None, cache: str) -> None:
        if path is None:
            await self._send(scope, send, 404, b"not found\n", "text/plain; charset=utf-8", "no-store")
            return
        body = path.read_bytes()  # small files (the app is ~100 KB); read per request so a rebuild shows at once
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if etag in _header(scope, b"if-none-match"):
            await self._send(scope, send, 304, b"", None, cache, etag)
            return
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        await self._send(scope, send, 200, body, content_type, cache, etag)

    async def _send(self, scope: dict[str, Any], send: Any, status: int, body: bytes, content_type: str | None,
                    cache: str, etag: str | None = None) -> None:
        headers = [
            (b"content-security-policy", content_security_policy(_header(scope, b"host")).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cache-control", cache.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        if content_type:
            headers.append((b"content-type", content_type.encode()))
        if etag:
            headers.append((b"etag", etag.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""
