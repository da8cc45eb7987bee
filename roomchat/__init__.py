"""roomchat: a Socket.IO room chat server whose message types are plugins.

The public API for plugin and bot authors is re-exported here.
"""

from .context import MessageContext
from .errors import ConfigError, Refusal
from .hookspecs import hookimpl
from .messagetypes import MessageType
from .users import ROOM_ID, Role, User

__version__ = "0.1.0"
__all__ = ["ROOM_ID", "ConfigError", "MessageContext", "MessageType", "Refusal", "Role", "User", "hookimpl"]
