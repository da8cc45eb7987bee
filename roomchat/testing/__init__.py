"""Test helpers for roomchat and for plugin and bot authors.

- ``RoomchatProcess``: ``roomchat serve`` as a real process on a free loopback port.
- ``RoomchatThread``: a server in this process (uvicorn in a thread), so a test
  can hand it plugin objects directly.
- ``ChatClient``: a real python-socketio client that records every event.

The pytest fixtures in ``roomchat.testing.pytest_plugin`` build on these.
"""

from .client import ChatClient, JoinRefused
from .servers import RoomchatProcess, RoomchatThread, free_port, write_config

__all__ = ["ChatClient", "JoinRefused", "RoomchatProcess", "RoomchatThread", "free_port", "write_config"]
