"""``potato`` with a shape: the finished plugin of docs/plugins.md's tutorial.

roomchat itself leaves ``potato`` open, as the protocol's seed notes name it
(any value passes unchanged). Load this file (``plugins.load: [my_potato.py]``)
and, in your server, a potato becomes typed: a client sends
``{"type": "potato", "value": {"variety": "King Edward", "weight_grams": 180}}``,
the room gets ``{"variety": "King Edward", "weight_grams": 180, "fries": 22}``,
and the sender gets a reply from the room (ID 0).

A plugin is a module (or any object) with hook implementations. This one has
two: ``roomchat_register_message_types`` says what a ``potato`` is and which
handlers its messages go through, and ``roomchat_settings_model`` says what
can be configured. Everything here is public API from the ``roomchat``
package; a third-party plugin looks exactly the same.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from roomchat import MessageContext, MessageType, hookimpl

GRAMS_PER_FRY = 8


# 1. The value: a pydantic model. The server validates every potato against it
#    before any handler runs, and refuses a bad one with ``validation_failed``
#    and an error per field. extra="forbid" refuses unknown keys; strict=True
#    refuses "180" where 180 is meant.
class Potato(BaseModel):
    """A potato: ``{"variety": str, "weight_grams": int}``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    variety: str = Field(min_length=1, max_length=40, description="e.g. King Edward")
    weight_grams: int = Field(gt=0, le=5000, description="the heaviest potato on record was under 5 kg")


# 2. The settings: another pydantic model. Values come from the config file,
#    ``plugins.settings.my_potato`` for the server and
#    ``rooms.<room>.plugins.settings.my_potato`` for one room (the key is the
#    plugin's name, which is the file's name), and are checked at start-up.
#    Handlers read them as ``ctx.settings``.
class PotatoSettings(BaseModel):
    """Settings of the ``my_potato`` plugin."""

    model_config = ConfigDict(extra="forbid")

    max_weight_grams: int = Field(2000, gt=0, le=5000, description="heaviest potato this room accepts")


# 3. The handlers, run in order on every valid potato. Each gets a
#    MessageContext: ``ctx.value`` is the validated value (here a Potato),
#    ``ctx.wire_value`` the same as JSON data, as the recipients get it.


def check_weight(ctx: MessageContext) -> None:
    """Validate: a rule that depends on the room, so it cannot live in the model."""
    limit = ctx.settings.max_weight_grams
    if ctx.value.weight_grams > limit:
        # ctx.invalid refuses the message with validation_failed and a
        # field-level error, just like the model's own errors. Nobody gets it.
        ctx.invalid(f"potatoes in this room weigh at most {limit} g", loc=("weight_grams",))


def count_fries(ctx: MessageContext) -> None:
    """Transform: what ``ctx.value`` is after the handlers is what the recipients get."""
    potato: Potato = ctx.value
    ctx.value = {**ctx.wire_value, "fries": potato.weight_grams // GRAMS_PER_FRY}  # JSON data from here on


async def thank_sender(ctx: MessageContext) -> None:
    """Answer: a handler that does I/O is ``async def``; the server awaits it (with a time limit)."""
    # ctx.reply sends a message from the room (ID 0) to the sender only.
    # ctx.send_to_room would tell everyone; ctx.consume() would stop delivery.
    served = ctx.wire_value
    await ctx.reply(f"Thanks for the {served['variety']}! That makes {served['fries']} fries.", type="text")


# 4. The hooks. ``@hookimpl`` marks them; their names come from roomchat.hookspecs.


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Say what a ``potato`` message is and which handlers it passes through."""
    register(
        MessageType(
            name="potato",
            value=Potato,
            handlers=[check_weight, count_fries, thank_sender],
            description="A potato: {variety, weight_grams}; the room adds how many fries it makes",
        )
    )


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """The model of this plugin's settings."""
    return PotatoSettings
