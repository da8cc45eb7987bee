"""The JavaScript socket.io-client 4.x against roomchat (tests/js/client.mjs, run by Node).

The set-up installs socket.io-client from the npm registry into tests/js/node_modules
(git-ignored) once; the test is skipped only where ``node`` or ``npm`` is missing.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chatkit import base_config, start_server

from roomchat.testing import RoomchatProcess

JS_DIR = Path(__file__).parent / "js"
SCRIPT = JS_DIR / "client.mjs"
NODE, NPM = shutil.which("node"), shutil.which("npm")


@pytest.fixture(scope="module")
def socket_io_client() -> Path:
    """tests/js/node_modules with socket.io-client 4.x, installed on first use."""
    if NODE is None or NPM is None:
        pytest.skip("node and npm are needed to run socket.io-client (install Node.js 18 or later)")
    installed = JS_DIR / "node_modules" / "socket.io-client" / "package.json"
    if not (installed.exists() and json.loads(installed.read_text())["version"].startswith("4.")):
        done = subprocess.run([NPM, "install", "--prefix", str(JS_DIR), "--no-audit", "--no-fund",
                               "--no-package-lock", "--loglevel=error"],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"npm install socket.io-client failed:\n{done.stderr}"
    assert json.loads(installed.read_text())["version"].startswith("4.")
    return JS_DIR


@pytest.fixture(scope="module")
def js_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    server = start_server(base_config(), tmp_path_factory.mktemp("js"))
    yield server
    server.stop()


def run_node(*args: str) -> dict[str, Any]:
    done = subprocess.run([NODE or "node", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and "error" not in report, (report, done.stderr)
    return report


def test_socket_io_client_walk_through(socket_io_client: Path, js_server: RoomchatProcess) -> None:
    report = run_node(js_server.url, "js-room")

    # initial-response first; Ann was alone, then saw Bob join.
    event, payload = report["annFirst"]
    assert event == "initial-response" and [u["name"] for u in payload["data"]] == ["Ann JS"]
    ann = payload["data"][0]
    assert report["bobFirst"][0] == "initial-response"
    assert [u["name"] for u in report["bobFirst"][1]["data"]] == ["Ann JS", "Bob JS"]
    bob = report["bobFirst"][1]["data"][1]
    assert report["annSawBob"]["data"] == bob

    # A direct message with an ack, as Bob got it.
    assert report["directAck"]["msg"] == "Message sent"
    assert report["bobGot"]["data"] == report["directAck"]["data"]
    assert report["bobGot"]["data"]["from"] == ann["ID"] and report["bobGot"]["data"]["to"] == bob["ID"]
    assert report["bobGot"]["data"]["message"]["type"] == "text"

    # A broadcast with an ack, over long-polling.
    assert report["broadcastAck"]["msg"] == "Message sent"
    assert report["annGot"]["data"] == report["broadcastAck"]["data"]
    assert report["annGot"]["data"]["message"] == {"type": "x-js", "value": {"n": 1, "list": [True, None]}}

    # Refusals: error-response without an ack, the refusal as the ack with one.
    assert report["errorResponse"]["data"] == {"code": "user_not_found", "event": "message"}
    assert report["refusedAck"]["data"] == {"code": "invalid_message"}

    # 40 emits at once over long-polling: all acked, all delivered in order.
    assert report["burstAcked"] == 40 and report["burstOrder"] == list(range(40))

    # connect_error: err.message is a sentence, err.data the code.
    errors = [step["connectError"] for step in report["steps"]]
    assert [e["data"] for e in errors] == [{"code": "room_required"}, {"code": "unauthorized"},
                                           {"code": "invalid_name"}]
    assert all(isinstance(e["message"], str) and " " in e["message"] for e in errors)

    assert report["annSawBobLeave"]["data"] == bob
    assert report["bobEvents"] == ["initial-response", "message"]  # Bob's own broadcast did not come back


def test_socket_io_client_sees_a_normal_server_disconnect(socket_io_client: Path, tmp_path: Path) -> None:
    server = start_server(base_config(), tmp_path)
    node = subprocess.Popen([NODE or "node", str(SCRIPT), server.url, "js-wait", "--wait"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert node.stdout is not None
        ready = json.loads(node.stdout.readline())
        assert ready["ready"] >= 1
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        ended = json.loads(node.stdout.readline())
        # "io server disconnect": the client does not reconnect by itself (unlike a "transport close").
        assert ended == {"disconnect": "io server disconnect", "active": False}
        assert node.wait(timeout=20) == 0
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
        server.stop()
