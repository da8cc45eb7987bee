"""The echo bot: sends every direct message straight back to whoever sent it."""

from collections.abc import Callable

from roomchat import hookimpl
from roomchat.bot import Bot, BotRoom, BotSettings, Incoming


class Echo(Bot):
    """Echoes direct messages, same type and value (a text gets ``prefix`` in front)."""

    kind = "echo"

    class Settings(BotSettings):
        prefix: str = ""

    async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
        if msg.from_room:
            return
        value = self.settings.prefix + msg.value if isinstance(msg.value, str) else msg.value
        await msg.reply(value, msg.type)


@hookimpl
def roomchat_register_bots(register: Callable[[type[Bot]], None]) -> None:
    """The echo bot."""
    register(Echo)
