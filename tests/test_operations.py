"""Operations: GET /healthz, structured logs (one line per join, leave and refusal; no message
contents at the default level), a clean shutdown on SIGTERM and Ctrl-C, CORS origins from config.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import socketio
import websocket
from chatkit import TESS, Joiner, base_config, health, start_server, sync, token_of, wait_connections, wait_for

from roomchat.testing import ChatClient, JoinRefused, RoomchatProcess

SECRET_TEXT = "SECRET-CONTENT-d41d8cd9"
SECRET_TOKEN = "bad-token-SECRET-77f1"

# -- /healthz ----------------------------------------------------------------------------------


def test_healthz(join: Joiner, room: str) -> None:
    url = join.server.url
    reply = requests.get(f"{url}/healthz", timeout=5)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    assert reply.json() == {"status": "ok", "connections": 0}
    ann = join(room, name="Ann")
    join(room, token=token_of(TESS))
    join(room, token=token_of(TESS))
    assert health(url) == {"status": "ok", "connections": 3}
    ann.close()
    wait_connections(url, 2)


def test_other_paths(chat_server: RoomchatProcess) -> None:
    assert requests.get(f"{chat_server.url}/nowhere", timeout=5).status_code == 404
    assert requests.post(f"{chat_server.url}/healthz", timeout=5).status_code == 405
    assert requests.head(f"{chat_server.url}/healthz", timeout=5).status_code == 200


# -- logs ----------------------------------------------------------------------------------------


def log_lines(server: RoomchatProcess, event: str) -> list[str]:
    """The server's text log lines of one event."""
    return [line for line in server.log().splitlines() if f" event={event} " in line + " "]


def test_one_log_line_per_join_leave_and_refusal(join: Joiner, room: str) -> None:
    server = join.server
    ann = join(room, name="Ann")
    tab1 = join(room, token=token_of(TESS))
    tab2 = join(room, token=token_of(TESS))
    ann.send(TESS, "x-note", SECRET_TEXT)
    ann.broadcast("x-note", {"nested": SECRET_TEXT})
    ann.call("message", {"type": "x-note", "value": SECRET_TEXT}, 0)  # refused: user_not_found
    refusal = join.refused(room, token=SECRET_TOKEN)
    sync(ann)
    tab1.close()
    tab2.close()
    ann.close()
    wait_connections(server.url, 0)
    wait_for(lambda: len(log_lines(server, "leave")) >= 3, "three leave lines")
    in_room = [line for line in server.log().splitlines() if f"room={room}" in line or f'room="{room}"' in line]
    joins = [line for line in in_room if " event=join " in line]
    assert len(joins) == 3
    assert any(f"user={ann.id} " in line and "role=STUDENT" in line for line in joins)
    assert sum(f"user={TESS} " in line for line in joins) == 2
    assert len([line for line in in_room if " event=leave " in line]) == 3
    refused = [line for line in in_room if " event=refused " in line]
    assert len(refused) == 2  # the user_not_found, and sync()'s invalid_message
    assert "code=user_not_found" in refused[0] and "emit=message" in refused[0] and f"user={ann.id}" in refused[0]
    assert "code=invalid_message" in refused[1]
    join_refused = [line for line in server.log().splitlines() if " event=join_refused " in line]
    assert len(join_refused) == 1 and "code=unauthorized" in join_refused[0]
    assert refusal.code == "unauthorized"
    log = server.log()
    assert SECRET_TEXT not in log and SECRET_TOKEN not in log and token_of(TESS) not in log
    assert "Traceback" not in log
    # Accepted messages are not logged at info at all.
    assert not [line for line in in_room if "x-note" in line]


def test_a_room_name_cannot_forge_log_lines(join: Joiner, room: str) -> None:
    """Room names come from clients: control characters are escaped, so one event stays one line."""
    evil = room + "\r\n2026-01-01T00:00:00.000Z info roomchat.joins event=join user=1\x1b[2J\u2028\x85"
    join(evil, name="Eve").close()
    join(room + "-b\rX\x1b[31m", name="Eve").close()  # nothing that needed quoting before: no space, no '='
    wait_connections(join.server.url, 0)
    wait_for(lambda: sum(room in line and " event=leave " in line for line in join.server.log().splitlines()) == 2,
             "the leave lines")
    text = join.server.log()
    assert "\x1b" not in text and "\r" not in text and "\u2028" not in text and "\x85" not in text
    lines = [line for line in text.splitlines() if room in line]
    assert len(lines) == 4
    assert sum(" room=\"" + room + "\\r\\n2026" in line for line in lines) == 2
    assert sum(" room=\"" + room + "-b\\rX\\u001b[31m\"" in line for line in lines) == 2
    assert not [line for line in text.splitlines() if line.startswith("2026-01-01")]


@pytest.fixture(scope="module")
def json_log_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    server = start_server(base_config(), tmp_path_factory.mktemp("jsonlog"), args=["--log-format", "json"])
    yield server
    server.stop()


def test_json_logs(json_log_server: RoomchatProcess) -> None:
    joiner = Joiner(json_log_server, "websocket")
    try:
        ann = joiner("room-j", name="Ann")
        joiner.refused("room-j", name="bad\x01")
        ann.close()
        wait_connections(json_log_server.url, 0)
        wait_for(lambda: '"leave"' in json_log_server.log(), "the leave line")
    finally:
        joiner.close_all()
    records = [json.loads(line) for line in json_log_server.log().splitlines() if line.startswith("{")]
    assert records and all({"time", "level", "logger", "event"} <= set(r) for r in records)
    by_event = {r["event"]: r for r in records}
    assert by_event["join"]["room"] == "room-j" and by_event["join"]["user"] == ann.id
    assert by_event["leave"]["user"] == ann.id
    assert by_event["join_refused"]["code"] == "invalid_name"
    assert not [line for line in json_log_server.log().splitlines() if line.strip() and not line.startswith("{")]


@pytest.mark.parametrize("junk", ['2{"a":1}', "25", "2[", "9", "3abc", "4", "2" + "1" * 120],
                         ids=repr)
def test_a_packet_socketio_cannot_read_is_one_log_line(chat_server: RoomchatProcess, junk: str) -> None:
    ann = ChatClient(chat_server.url, room="junk", name="Ann", transport="websocket")
    bob = ChatClient(chat_server.url, room="junk", name="Bob", transport="websocket")
    try:
        before = chat_server.log().count("event=bad_packet")
        ann.sio.eio.send(junk)  # a raw Socket.IO packet, no client library in between
        wait_for(lambda: chat_server.log().count("event=bad_packet") > before, "a bad_packet line")
        assert ann.call("broadcast-message", {"type": "text", "value": "still here"})["msg"] == "Message sent"
        assert bob.wait_message()["message"]["value"] == "still here"
        assert "Traceback" not in chat_server.log()
    finally:
        ann.close()
        bob.close()


def test_only_client_junk_loses_its_traceback() -> None:
    """A failure inside roomchat's own handlers keeps python-socketio's traceback (a bug must show)."""
    from roomchat.errors import Refusal
    from roomchat.protocol import parse_message
    from roomchat.transport.socketio import _raised_in_roomchat

    with pytest.raises(Refusal) as ours:
        parse_message("not a message")
    with pytest.raises(ValueError) as junk:
        json.loads("[")
    assert _raised_in_roomchat(ours.value) and not _raised_in_roomchat(junk.value)


# -- shutdown -----------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_shutdown_disconnects_everyone_normally(tmp_path: Path, signum: int) -> None:
    server = start_server(base_config(), tmp_path)
    clients = [ChatClient(server.url, room="r", name=f"C{i}", transport=t)
               for i, t in enumerate(["websocket", "polling", "upgrade", "websocket"])]
    try:
        assert server.proc is not None
        server.proc.send_signal(signum)
        for client in clients:
            # python-socketio's name for socket.io-client's "io server disconnect" (tests/js checks that one)
            assert client.wait_for("disconnect", timeout=15) == socketio.Client.reason.SERVER_DISCONNECT
        # uvicorn re-raises SIGTERM once it has shut down (so a supervisor sees it); Ctrl-C exits 130.
        assert server.proc.wait(timeout=15) == (-signal.SIGTERM if signum == signal.SIGTERM else 130)
    finally:
        server.stop()
        for client in clients:
            client.close()
    log = server.log()
    assert "event=stopping" in log and "connections=4" in log and "event=stopped" in log
    assert "Traceback" not in log


def test_after_shutdown_the_port_is_closed(tmp_path: Path) -> None:
    """After SIGTERM the process is gone: new clients fail to connect rather than hang."""
    server = start_server(base_config(), tmp_path)
    url = server.url
    assert server.stop() == -signal.SIGTERM
    assert "event=stopped" in server.log()
    with pytest.raises(JoinRefused) as info:  # python-socketio reports a refused TCP connect as connect_error
        ChatClient(url, room="r", name="Late", timeout=3)
    assert info.value.code is None  # not a roomchat refusal: nobody answered


def test_a_busy_port_is_a_clear_error_and_the_server_there_keeps_serving(chat_server: RoomchatProcess) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "roomchat", "serve", "--config", str(chat_server.config_path),
         "--port", str(chat_server.port)],
        capture_output=True, check=False, text=True, timeout=60, env=chat_server.env,
    )
    assert second.returncode == 3  # uvicorn's start-up failure
    assert "event=not_listening" in second.stderr and f"port={chat_server.port}" in second.stderr
    assert "--port" in second.stderr and "Traceback" not in second.stderr
    assert health(chat_server.url)["status"] == "ok"


# -- CORS ------------------------------------------------------------------------------------------


def handshake(url: str, origin: str | None) -> requests.Response:
    """The first long-polling request of a Socket.IO connection, from a page at ``origin``."""
    headers = {"Origin": origin} if origin else {}
    return requests.get(f"{url}/socket.io/?EIO=4&transport=polling", headers=headers, timeout=5)


def ws_opens(url: str, origin: str) -> bool:
    """Whether a WebSocket to the Socket.IO endpoint opens from a page at ``origin``."""
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    try:
        ws = websocket.create_connection(ws_url, origin=origin, timeout=5)
    except (websocket.WebSocketException, OSError):
        return False
    try:
        return ws.recv().startswith("0")  # the Engine.IO OPEN packet
    except (websocket.WebSocketException, OSError):
        return False
    finally:
        ws.close()


def joins_from(url: str, origin: str) -> bool:
    """Whether a real client sending ``Origin`` gets into a room."""
    sio = socketio.Client(reconnection=False)
    try:
        sio.connect(url, headers={"Origin": origin}, auth={"room": "cors", "name": "Page"},
                    transports=["polling"], wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        return False
    sio.disconnect()
    return True


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    server = start_server(base_config(cors_origins=["https://good.example", "http://localhost:5173"]),
                          tmp_path_factory.mktemp("cors"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def any_origin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    server = start_server(base_config(cors_origins=["*"]), tmp_path_factory.mktemp("anyorigin"))
    yield server
    server.stop()


def test_listed_origins_are_accepted(cors_server: RoomchatProcess) -> None:
    for origin in ("https://good.example", "http://localhost:5173"):
        reply = handshake(cors_server.url, origin)
        assert reply.status_code == 200 and reply.text.startswith("0{")
        assert reply.headers["Access-Control-Allow-Origin"] == origin
        assert ws_opens(cors_server.url, origin)
    assert joins_from(cors_server.url, "https://good.example")


@pytest.mark.parametrize("origin", ["https://evil.example", "https://good.example.evil", "http://good.example",
                                    "null"])
def test_other_origins_are_refused(cors_server: RoomchatProcess, origin: str) -> None:
    reply = handshake(cors_server.url, origin)
    assert reply.status_code == 400
    assert "Access-Control-Allow-Origin" not in reply.headers
    assert not ws_opens(cors_server.url, origin)
    assert not joins_from(cors_server.url, origin)


def test_no_origin_header_is_not_a_browser(cors_server: RoomchatProcess) -> None:
    """Bots and servers send no Origin; CORS is about pages in browsers."""
    assert handshake(cors_server.url, None).status_code == 200


def test_a_star_allows_every_origin(any_origin_server: RoomchatProcess) -> None:
    for origin in ("https://anything.example", "http://localhost:3000", "null"):
        assert handshake(any_origin_server.url, origin).status_code == 200
        assert ws_opens(any_origin_server.url, origin)
    assert joins_from(any_origin_server.url, "https://anything.example")


def test_the_default_is_same_origin_only(chat_server: RoomchatProcess) -> None:
    assert handshake(chat_server.url, chat_server.url).status_code == 200
    assert handshake(chat_server.url, "https://elsewhere.example").status_code == 400
    assert not ws_opens(chat_server.url, "https://elsewhere.example")
