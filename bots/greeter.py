"""The greeter bot: welcomes everyone who joins its rooms, by name."""

from collections.abc import Callable

from pydantic import field_validator

from roomchat import hookimpl
from roomchat.bot import Bot, BotRoom, BotSettings, User


class Greeter(Bot):
    """Sends each user who joins a ``text`` message made from ``message``."""

    kind = "greeter"

    class Settings(BotSettings):
        message: str = "Welcome to {room}, {name}!"  # {name}, {room} and {id} are filled in
        private: bool = False  # True: only the newcomer sees it

        @field_validator("message")
        @classmethod
        def _known_placeholders(cls, message: str) -> str:
            try:
                message.format(name="", room="", id=0)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"use only the placeholders {{name}}, {{room}} and {{id}} ({exc!r})") from None
            return message

    async def on_user_joined(self, room: BotRoom, user: User) -> None:
        if user.bot:
            return
        text = self.settings.message.format(name=user.name, room=room.name, id=user.id)
        if self.settings.private:
            await room.send(user.id, "text", text)
        else:
            await room.broadcast("text", text)


@hookimpl
def roomchat_register_bots(register: Callable[[type[Bot]], None]) -> None:
    """The greeter bot."""
    register(Greeter)
