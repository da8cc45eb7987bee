"""Running a ChatServer under uvicorn: start-up through the ASGI lifespan, a clean shutdown on SIGTERM and Ctrl-C.

The ASGI app's lifespan starts and stops the server (roomchat/app.py). Two
things the lifespan cannot do are done here, each with uvicorn's public API:

- **Listening first.** roomchat binds the listening socket itself and hands it
  to uvicorn (``Server.run(sockets=[...])``, how uvicorn takes sockets from a
  supervisor), so the server's address is known before start-up (its bots
  connect to it over loopback; connections wait in the socket's backlog until
  start-up is done) and a busy port is one clear line and exit code 3.
- **Goodbye before the connections close.** On SIGTERM or Ctrl-C uvicorn
  closes every connection and only then runs the lifespan's shutdown, which
  clients would see as a network failure (and answer by reconnecting). So
  ``Server.shutdown``, uvicorn's one step between "stop" and "close the
  connections", first calls ``ChatServer.drain()``: every client gets a
  normal Socket.IO disconnect. The test kit calls ``drain()`` itself before it
  stops its uvicorn (roomchat/testing/servers.py).
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import uvicorn

from .app import ChatServer
from .logs import event
from .transport.websocket import RoomchatWebSocketProtocol

log = logging.getLogger("roomchat.server")

STARTUP_FAILURE = 3  # uvicorn's exit code when it cannot start


class Server(uvicorn.Server):
    """uvicorn, disconnecting every Socket.IO client (``ChatServer.drain``) before it closes connections."""

    def __init__(self, config: uvicorn.Config, chat: ChatServer) -> None:
        super().__init__(config)
        self.chat = chat

    async def shutdown(self, sockets: Any = None) -> None:
        event(log, "stopping", connections=self.chat.connection_count())
        await self.chat.drain()
        await super().shutdown(sockets)


def uvicorn_config(chat: ChatServer) -> uvicorn.Config:
    """uvicorn settings for roomchat: the ASGI lifespan on, quiet, no access log, compression as configured.

    WebSocket connections are served by roomchat's protocol class (the fast
    path: roomchat/transport/websocket.py), without uvicorn's own keepalive
    pings: Engine.IO's heartbeat already closes a peer that stops answering.
    """
    settings = chat.config.server
    return uvicorn.Config(
        chat.asgi_app(),
        lifespan="on",
        log_level="warning",
        access_log=False,
        ws=RoomchatWebSocketProtocol,
        ws_ping_interval=None,
        # Off by default: permessage-deflate doubled memory per connection and
        # made every client inflate each frame (see docs/operations in README).
        ws_per_message_deflate=settings.websocket_compression,
        # Let engineio enforce max_http_buffer_size and close only that connection.
        ws_max_size=settings.max_http_buffer_size + 1024,
        timeout_graceful_shutdown=5,
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening at ``host:port`` (port 0: a free one), as uvicorn would bind it; OSError if it cannot."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


def serve(chat: ChatServer, host: str, port: int) -> None:
    """Listen at ``host:port`` and serve until SIGTERM or Ctrl-C."""
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        event(log, "not_listening", logging.ERROR, host=host, port=port, error=str(exc),
              hint="another process holds this address, or it is not this machine's: "
                   "stop that process or pass --port / --host")
        raise SystemExit(STARTUP_FAILURE) from None
    bound_host, bound_port = sock.getsockname()[:2]
    chat.listen_at(bound_host, bound_port)
    event(log, "listening", url=f"http://{bound_host}:{bound_port}" if ":" not in bound_host
          else f"http://[{bound_host}]:{bound_port}")
    Server(uvicorn_config(chat), chat).run(sockets=[sock])
