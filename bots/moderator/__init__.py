"""The moderator bot: banned words, flood, repeats, shouting and links, with an escalation ladder.

Two halves in one package (docs/bots.md, "Moderator"):

- the **filter** (``filter.py``), a plugin in the server's pipeline: it
  blocks and redacts before delivery, in every room a moderator bot has
  configured, and flags each offence to that bot;
- the **bot** (``bot.py``), an ordinary room participant, in or out of
  process: it pushes its rules to the filter when it joins, and turns flags
  into the room's escalation (warn, mute, kick, ban), explains each action to
  the user, reports to the teachers and logs the rule that fired.
"""

from collections.abc import Callable

from roomchat import hookimpl

from .bot import Moderator, ModeratorSettings
from .filter import ModeratorFilter


class ModeratorPlugin(ModeratorFilter):
    """The built-in plugin ``moderator``: the filter (one per server), and the ``moderator`` bot kind."""

    @hookimpl
    def roomchat_register_bots(self, register: Callable[[type], None]) -> None:
        """The ``moderator`` bot kind."""
        register(Moderator)


__all__ = ["Moderator", "ModeratorFilter", "ModeratorPlugin", "ModeratorSettings"]
