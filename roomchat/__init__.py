"""roomchat: a Socket.IO room chat server whose message types are plugins.

Everything a plugin needs is exported here (docs/plugins.md): the hook
marker, the plugin-facing API (``Chat``, ``Store``), message types and
their context, users and roles, refusals, and the web client's assets.
"""

from .api import Chat, Store, WebAssets
from .context import MessageContext
from .errors import ConfigError, Refusal
from .hookspecs import hookimpl
from .messagetypes import MessageType
from .users import ROOM_ID, Role, User

__version__ = "0.1.0"
__all__ = ["ROOM_ID", "Chat", "ConfigError", "MessageContext", "MessageType", "Refusal", "Role", "Store", "User",
           "WebAssets", "hookimpl"]
