"""The client side of roomchat: what bots and the test kit share.

- ``Ack`` (``ack.py``): the server's answer to an emit.
- ``Incoming`` (``message.py``): a received message, with ``reply()``.
- ``wire`` (``wire.py``): reading the server's events into those types.
- ``command``, ``Commands``, ``CommandRefused`` (``commands.py``): command routing.
- ``Timers`` (``timers.py``): one owner for a room's timers.
- ``BotRegistry`` (``registry.py``): finding bot classes without the server's plugin host.

This package imports only roomchat's bottom layer (errors, users, clock,
logs, protocol, config), never the server's modules. ``roomchat.bot`` and
``roomchat.botrunner`` build the bot SDK on it; ``roomchat.testing`` the test kit.
"""

from .ack import SENT, Ack
from .commands import Argument, Command, CommandRefused, Commands, Invocation, command, read_command
from .message import Incoming, Replier
from .timers import Timers

__all__ = ["SENT", "Ack", "Argument", "Command", "CommandRefused", "Commands", "Incoming", "Invocation", "Replier",
           "Timers", "command", "read_command"]
