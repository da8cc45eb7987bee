"""The ``dice`` message type: a user asks for a roll, the room answers everyone.

A client broadcasts ``{"type": "dice", "value": {"dice": "2d6"}}``. The
message itself is consumed; instead the room (ID 0) sends everyone, the
roller included, ``{"type": "dice", "value": {"roller": <ID>, "dice": "2d6",
"rolls": [3, 5], "total": 8}}``.

Settings (``plugins.settings.dice``, per room ``rooms.<room>.plugins.settings.dice``):
``max_dice`` (default 10) and ``max_sides`` (default 100).

In roomchat's web client a roll shows as dice faces (``web/dice.js``, served
through the ``roomchat_web_assets`` hook below).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from roomchat import MessageContext, MessageType, WebAssets, hookimpl

NOTATION = r"^([0-9]{1,3})d([0-9]{1,4})$"


class Roll(BaseModel):
    """What a client sends: the dice to roll, as NdS (``2d6``: two six-sided dice)."""

    model_config = ConfigDict(extra="forbid")
    dice: Annotated[str, Field(pattern=NOTATION, examples=["2d6", "1d20"])]


class Settings(BaseModel):
    """The plugin's settings, validated when the server starts."""

    model_config = ConfigDict(extra="forbid")
    max_dice: Annotated[int, Field(ge=1, le=100)] = 10
    max_sides: Annotated[int, Field(ge=2, le=1000)] = 100


async def roll(ctx: MessageContext) -> None:
    """Check the dice against the room's limits, roll them, answer the room, consume the request."""
    asked: Roll = ctx.value  # the validated model
    count, sides = (int(n) for n in re.fullmatch(NOTATION, asked.dice).groups())
    if not 1 <= count <= ctx.settings.max_dice:
        ctx.invalid(f"roll 1 to {ctx.settings.max_dice} dice at a time", loc=("dice",))
    if not 2 <= sides <= ctx.settings.max_sides:
        ctx.invalid(f"dice have 2 to {ctx.settings.max_sides} sides here", loc=("dice",))
    rolls = [random.randint(1, sides) for _ in range(count)]
    await ctx.send_to_room({"roller": ctx.sender.id, "dice": asked.dice, "rolls": rolls, "total": sum(rolls)})
    ctx.consume()


@hookimpl
def roomchat_register_message_types(register) -> None:
    """Register ``dice``: broadcast only (a roll is public), answered by ``roll``."""
    register(MessageType("dice", Roll, handlers=[roll], direct=False,
                         description="Roll dice; the room answers everyone with the result"))


@hookimpl
def roomchat_settings_model() -> type[Settings]:
    """``max_dice`` and ``max_sides``."""
    return Settings


@hookimpl
def roomchat_web_assets() -> WebAssets:
    """The web client's renderer of ``dice`` messages: ``web/dice.js`` in this package."""
    return WebAssets(Path(__file__).parent / "web", "dice.js")
