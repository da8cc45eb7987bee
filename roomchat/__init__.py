"""roomchat: a Socket.IO room chat server whose message types are plugins.

Everything a plugin needs is exported here (docs/plugins.md): the hook
marker, the plugin-facing API (``Chat``, ``Store``, ``Clock``), message
types and their context, users and roles, refusals, a room's config (what
``roomchat_resolve_room`` returns), and the web client's assets.
"""

from .api import Chat, Store, WebAssets
from .clock import Clock
from .config import RoomConfig
from .context import MessageContext
from .errors import ConfigError, Refusal
from .hookspecs import hookimpl
from .messagetypes import MessageType
from .users import ROOM_ID, Role, User

__version__ = "0.1.0"
__all__ = ["ROOM_ID", "Chat", "Clock", "ConfigError", "MessageContext", "MessageType", "Refusal", "Role", "RoomConfig",
           "Store", "User", "WebAssets", "hookimpl"]
