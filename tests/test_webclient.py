"""The web client's HTTP side (roomchat/webclient.py): the page and its headers, the files,
path traversal, and the plugins' renderers (hook ``roomchat_web_assets``), through a real server.

The page itself is tested in a real browser in tests/browser/.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomchat import hookimpl
from roomchat.testing import RoomchatThread
from roomchat.webclient import STATIC, WebAssets, content_security_policy, safe_file

SECRET = "top-secret-4c1d"


class Sparkles:
    """A plugin that ships a renderer for its type, ``sparkles``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def roomchat_web_assets(self) -> WebAssets:
        return WebAssets(self.folder, "sparkles.js")


class Broken:
    """A plugin whose renderer is not where it says."""

    @hookimpl
    def roomchat_web_assets(self) -> WebAssets:
        return WebAssets(Path("/nonexistent/roomchat"), "missing.js")


class Raising:
    @hookimpl
    def roomchat_web_assets(self) -> WebAssets:
        raise RuntimeError("no assets today")


@pytest.fixture(scope="module")
def plugin_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin")
    (root / "secret.txt").write_text(SECRET)          # beside the served folder: must never be served
    folder = root / "web"
    folder.mkdir()
    (folder / "sparkles.js").write_text("export default function (roomchat) {}\n")
    (folder / ".hidden.js").write_text(SECRET)
    (folder / "styles").mkdir()
    (folder / "styles" / "sparkles.css").write_text(".sparkles{}\n")
    os.symlink(root / "secret.txt", folder / "link.txt")  # a link out of the folder
    return folder


@pytest.fixture(scope="module")
def server(plugin_folder: Path) -> Iterator[RoomchatThread]:
    config = {"rooms": {"lobby": {"admit": ["users", "guests"]}},
              "bots": [{"kind": "echo", "ID": 77, "name": "Echo", "rooms": ["lobby"]}]}
    plugins = {"sparkles": Sparkles(plugin_folder), "broken": Broken(), "raising": Raising()}
    with RoomchatThread(config, plugins=plugins) as running:
        yield running


def get(server: RoomchatThread, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A request with ``path`` sent exactly as written (no client-side normalisation)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def bundle_needed() -> None:
    if not (STATIC / "index.html").is_file():
        if os.environ.get("CI"):
            pytest.fail("the web client is not built (make web-client)")
        pytest.skip("the web client is not built: make web-client")


def csp(headers: dict[str, str]) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
            for part in (p.strip() for p in headers["content-security-policy"].split(";"))}


def test_the_page_is_served_at_the_root_with_a_strict_policy(server: RoomchatThread) -> None:
    bundle_needed()
    status, headers, body = get(server, "/?room=classroom")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b'<div id="app">' in body and b"<script>" not in body and b"style=" not in body
    policy = csp(headers)
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["default-src"] == "'none'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert policy["connect-src"] == f"'self' ws://127.0.0.1:{server.port} wss://127.0.0.1:{server.port}"
    assert policy["img-src"] == "'self' https: http: data:" and policy["media-src"] == "'self' https: http: data:"
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-cache"


def test_hashed_assets_are_cached_and_others_revalidated(server: RoomchatThread) -> None:
    bundle_needed()
    _, _, body = get(server, "/")
    script = body.split(b'src="', 1)[1].split(b'"', 1)[0].decode()
    assert script.startswith("/web/assets/index-") and script.endswith(".js")
    status, headers, js = get(server, script)
    assert status == 200 and headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert b"socket.io" in js or b"engine.io" in js  # the real socket.io-client is in the bundle
    status, headers, _ = get(server, "/web/icon.svg")
    assert status == 200 and headers["cache-control"] == "no-cache"
    status, _, body = get(server, "/", headers={"If-None-Match": get(server, "/")[1]["etag"]})
    assert status == 304 and body == b""


def test_head_answers_without_a_body(server: RoomchatThread) -> None:
    status, headers, body = get(server, "/web/info.json", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


def test_the_other_routes_are_unchanged(server: RoomchatThread) -> None:
    assert get(server, "/healthz")[0] == 200
    assert "text" in json.loads(get(server, "/schema")[2])
    status, headers, _ = get(server, "/nothing-here")
    assert status == 404 and headers["content-type"] == "application/json"
    assert get(server, "/web/", method="POST")[0] == 405


def test_info_lists_the_configured_bots(server: RoomchatThread) -> None:
    status, headers, body = get(server, "/web/info.json")
    assert status == 200 and json.loads(body) == {"bots": [{"ID": 77, "kind": "echo"}]}
    assert "content-security-policy" in headers


def test_a_plugin_s_renderer_is_listed_and_served(server: RoomchatThread) -> None:
    status, _, body = get(server, "/web/plugins.json")
    assert json.loads(body) == [{"plugin": "sparkles", "entry": "/web/plugins/sparkles/sparkles.js"}]
    status, headers, js = get(server, "/web/plugins/sparkles/sparkles.js")
    assert status == 200 and js.startswith(b"export default")
    assert headers["content-type"] == "text/javascript; charset=utf-8" and headers["cache-control"] == "no-cache"
    assert get(server, "/web/plugins/sparkles/styles/sparkles.css")[0] == 200


def test_a_plugin_whose_assets_cannot_be_served_is_logged_and_left_out(plugin_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="roomchat.web")
    with RoomchatThread({"rooms": {}}, plugins={"broken": Broken(), "raising": Raising(), "sparkles": Sparkles(plugin_folder)}) as running:
        assert [p["plugin"] for p in json.loads(get(running, "/web/plugins.json")[2])] == ["sparkles"]
        assert get(running, "/web/plugins/broken/missing.js")[0] == 404
    logged = [r for r in caplog.records if r.getMessage() == "web_assets_invalid"]
    assert sorted(r.fields["plugin"] for r in logged) == ["broken", "raising"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", [
    "/web/../pyproject.toml",
    "/web/%2e%2e/%2e%2e/pyproject.toml",
    "/web/assets/..%2f..%2f..%2fhttp.py",
    "/web/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fhttp.py",
    "/web//etc/passwd",
    "/web/..%5c..%5cwebclient.py",
    "/web/%00index.html",
    "/web/plugins/sparkles/../secret.txt",
    "/web/plugins/sparkles/%2e%2e/secret.txt",
    "/web/plugins/sparkles/..%2fsecret.txt",
    "/web/plugins/sparkles/.hidden.js",
    "/web/plugins/sparkles/link.txt",
    "/web/plugins/sparkles//secret.txt",
    "/web/plugins/../../secret.txt",
    "/web/plugins/broken/missing.js",
    "/web/plugins/sparkles/",
    "/web/assets/",
])
def test_nothing_outside_the_served_folders_can_be_read(server: RoomchatThread, path: str) -> None:
    status, headers, body = get(server, path)
    assert status == 404, (path, status)
    assert SECRET.encode() not in body and b"[project]" not in body and b"import" not in body
    assert headers["x-content-type-options"] == "nosniff"


def test_safe_file_keeps_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.js").write_text("x")
    assert safe_file(tmp_path, "a/b.js") == (tmp_path / "a" / "b.js").resolve()
    for bad in ("../a/b.js", "a/../a/b.js", "", "a//b.js", "a\\b.js", ".a/b.js", "a/b.js/", "/a/b.js"):
        assert safe_file(tmp_path, bad) is None, bad


def test_the_policy_names_only_a_plain_host() -> None:
    assert "ws://chat.example:8000 " in content_security_policy("chat.example:8000")
    hostile = content_security_policy("evil.example; script-src *")
    assert "evil" not in hostile and "script-src 'self'" in hostile


