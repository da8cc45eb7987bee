"""Running a ChatServer under uvicorn, with a clean shutdown on SIGTERM and Ctrl-C."""

from __future__ import annotations

import logging
from typing import Any

import uvicorn

from .botrunner import loopback_url
from .logs import event
from .server import ChatServer

log = logging.getLogger("roomchat.server")


class _Uvicorn(uvicorn.Server):
    """uvicorn, disconnecting every Socket.IO client before it closes connections.

    uvicorn runs the ASGI lifespan shutdown only after it has dropped open
    connections, which clients would see as a network failure and answer by
    reconnecting. Disconnecting first sends them a normal Socket.IO disconnect.
    """

    def __init__(self, config: uvicorn.Config, chat: ChatServer) -> None:
        super().__init__(config)
        self.chat = chat

    async def startup(self, sockets: Any = None) -> None:
        await self.chat.start()
        try:
            await super().startup(sockets)
        except SystemExit:  # uvicorn could not listen (it logged the OSError) and exits with 3
            event(log, "not_listening", logging.ERROR, host=self.config.host, port=self.config.port,
                  hint="another process holds this address, or it is not this machine's: "
                       "stop that process or pass --port / --host")
            await self.chat.stop()
            raise
        if self.started:
            bound = [s.getsockname() for server in self.servers for s in server.sockets]
            for host, port, *_ in bound:
                event(log, "listening", url=f"http://{host}:{port}")
            if bound:
                await self.chat.listening(loopback_url(*bound[0][:2]))

    async def shutdown(self, sockets: Any = None) -> None:
        event(log, "stopping", connections=self.chat.connection_count())
        await self.chat.stop()
        await super().shutdown(sockets)


def uvicorn_config(chat: ChatServer, host: str, port: int) -> uvicorn.Config:
    """uvicorn settings for roomchat: quiet, no access log, compression as configured."""
    settings = chat.config.server
    return uvicorn.Config(
        chat.asgi_app(),
        host=host,
        port=port,
        lifespan="off",
        log_level="warning",
        access_log=False,
        # Off by default: permessage-deflate doubled memory per connection and
        # made every client inflate each frame (see docs/operations in README).
        ws_per_message_deflate=settings.websocket_compression,
        # Let engineio enforce max_http_buffer_size and close only that connection.
        ws_max_size=settings.max_http_buffer_size + 1024,
        timeout_graceful_shutdown=5,
    )


def serve(chat: ChatServer, host: str, port: int) -> None:
    """Serve until SIGTERM or Ctrl-C."""
    server = _Uvicorn(uvicorn_config(chat, host, port), chat)
    server.run()
