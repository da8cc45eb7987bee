"""``poll``, ``vote`` and ``poll-results``: polls whose tally the server keeps.

- ``poll`` (broadcast only) ``{"question", "options": [2..10 strings], "multiple"?: false}``:
  the room gets it as sent with ``"id"`` added (first): the poll's id, which
  votes and results name (an ``id`` the sender put in is replaced). The
  sender's ack carries it too. It is the message's ``ctx.ref``, given before
  delivery, and not the delivered message's own id (a message's id is given
  at delivery, in the room's order; reactions name that one). A vote or a
  ``poll-close`` may also name the poll by its message's id (clients written
  when the two were the same). Only the roles in the room's ``creators``
  setting may open a poll (others get ``forbidden``).
- ``vote`` ``{"poll": <id>, "option": <index> | <the option's text> | [...]}``:
  counted and consumed (nobody receives the vote itself). An option is named
  by its index (from 0) or by its text (exactly, or ignoring case and
  surrounding white space). A list picks several options and
  is only for polls with ``"multiple": true``. One vote per user per poll:
  voting again *replaces* that user's earlier vote (set ``change_votes: false``
  to refuse a second vote instead). An unknown poll or option is refused with
  ``validation_failed`` and the error's ``loc`` (``["poll"]`` or ``["option"]``).
- ``poll-close`` ``{"poll": <id>}``: ends the poll (its creator, a teacher or
  an admin may; others get ``forbidden``). Consumed; the room gets the final
  ``poll-results`` with ``"closed": true``, and later votes are refused with
  ``validation_failed`` (``poll_closed``).
- Other keys of these values are kept (a poll is delivered with them) and
  otherwise ignored. Texts may not hold control characters (line breaks and
  tabs are fine).
- ``poll-results`` ``{"poll", "counts", "total"}``: sent by the room (ID 0) to
  everyone in it after every counted vote. ``counts[i]`` is the number of
  users who picked option ``i``; ``total`` the number of users who voted (in a
  ``multiple`` poll the counts may add up to more). Clients cannot send it.

State lives in the plugin's store (``chat.store``), so the servers of a
cluster share a poll and it outlives a restart: ``<room>:<id>`` (the poll,
kept ``keep_seconds``), ``<room>:<id>:votes`` (a hash: user ID -> the option
indices picked, kept ``keep_seconds`` after the last vote) and
``<room>:message:<message id>`` (the poll's id, for votes that name its message).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, PlainValidator, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from roomchat import MessageContext, MessageType, Role, hookimpl

from ._fields import OPEN, SETTINGS, STRICT, as_sent, visible_text

MAX_OPTIONS = 10
MAX_OPTION = 100
Question = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(visible_text)]
Option = Annotated[str, Field(min_length=1, max_length=MAX_OPTION), AfterValidator(visible_text)]


def option_choice(value: Any) -> int | str | list[int | str]:
    """An option's index or text, or a non-empty list of them (one error with ``loc`` ``["option"]`` otherwise)."""
    picked = value if isinstance(value, list) else [value]
    if not picked or len(picked) > MAX_OPTIONS:
        raise PydanticCustomError("option", "pick 1 to {max} options", {"max": MAX_OPTIONS})
    for choice in picked:
        if type(choice) is str:
            if not 1 <= len(choice) <= MAX_OPTION:
                raise PydanticCustomError("option_type", "an option's text is 1 to {max} characters",
                                          {"max": MAX_OPTION})
        elif type(choice) is not int:
            raise PydanticCustomError("option_type", "must be an option's index or text, or a list of them")
        elif not 0 <= choice < MAX_OPTIONS:
            raise PydanticCustomError("unknown_option", "an option's index is 0 to {max}", {"max": MAX_OPTIONS - 1})
    return value


_CHOICE_SCHEMA = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_OPTIONS - 1},
                            {"type": "string", "minLength": 1, "maxLength": MAX_OPTION}]}
OptionChoice = Annotated[
    int | str | list[int | str],
    PlainValidator(option_choice),
    WithJsonSchema({"anyOf": [*_CHOICE_SCHEMA["anyOf"],
                              {"type": "array", "items": _CHOICE_SCHEMA, "minItems": 1, "maxItems": MAX_OPTIONS}],
                    "description": "an option of the poll, by its index (from 0) or its text, or a list of them"}),
]
PollId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class PollValue(BaseModel):
    """A question and its options, as the creator sends it."""

    model_config = OPEN
    question: Question
    options: list[Option] = Field(min_length=2, max_length=MAX_OPTIONS)
    multiple: bool = Field(False, description="whether a voter may pick several options")

    @field_validator("options")
    @classmethod
    def _distinct(cls, options: list[str]) -> list[str]:
        if len({same_option(o) for o in options}) != len(options):
            raise ValueError("the options must all differ")
        return options


class VoteValue(BaseModel):
    """A vote: the poll's id and the option picked (or, in a ``multiple`` poll, the options)."""

    model_config = OPEN
    poll: PollId
    option: OptionChoice


class PollClose(BaseModel):
    """Ends a poll: no more votes."""

    model_config = OPEN
    poll: PollId


class PollResults(BaseModel):
    """The tally the room sends after each vote, and once more, ``closed``, when the poll ends."""

    model_config = STRICT
    poll: PollId
    counts: list[Annotated[int, Field(ge=0)]]
    total: Annotated[int, Field(ge=0)]
    closed: bool | None = Field(None, description="true in the final results of a closed poll; absent before")


class PollSettings(BaseModel):
    """Settings of the ``poll`` plugin."""

    model_config = SETTINGS
    creators: list[Role] = Field(default_factory=lambda: list(Role), description="roles that may open a poll")
    change_votes: bool = Field(True, description="whether voting again replaces a vote (else it is refused)")
    keep_seconds: float = Field(7 * 24 * 3600, gt=0, description="how long a poll takes votes")


def same_option(text: str) -> str:
    """What two option texts must differ in: case and surrounding white space do not count."""
    return text.strip().casefold()


def poll_key(room: str, poll_id: str) -> str:
    """Where a poll is kept in the plugin's store."""
    return f"{room}:{poll_id}"


def message_key(room: str, message_id: str) -> str:
    """Where the id of the poll a message carried is kept, by the message's id."""
    return f"{room}:message:{message_id}"


def votes_key(room: str, poll_id: str) -> str:
    """Where a poll's votes are kept: a hash of user ID to the option indices picked."""
    return f"{room}:{poll_id}:votes"


async def open_poll(ctx: MessageContext) -> None:
    """Check the creator's role, give the poll its id (the message's ``ref``), and keep it for the votes to come."""
    settings: PollSettings = ctx.settings
    if ctx.sender.role not in settings.creators:
        ctx.refuse("forbidden", f"{ctx.sender.role.value.title()}s may not open polls in this room")
    sent = ctx.value
    poll = {"question": sent["question"], "options": sent["options"], "multiple": sent.get("multiple", False),
            "creator": ctx.sender.id}
    store, room, poll_id = ctx.chat.store, ctx.room, ctx.ref
    await store.set(poll_key(room, poll_id), poll, ttl=settings.keep_seconds)
    ctx.value = {"id": poll_id, **{key: value for key, value in sent.items() if key != "id"}}

    async def name_by_message(data: dict[str, Any]) -> None:
        await store.set(message_key(room, data["id"]), poll_id, ttl=settings.keep_seconds)

    ctx.after_delivery(name_by_message)


async def count_vote(ctx: MessageContext) -> None:
    """Record the sender's vote (replacing an earlier one), consume it, and send the tally to the room."""
    store = ctx.chat.store
    poll_id, poll = await _poll_taking_votes(ctx, ctx.value["poll"])
    picked = _picked(ctx, poll)
    stored = await store.hash_set(votes_key(ctx.room, poll_id), str(ctx.sender.id), picked,
                               only_if_new=not ctx.settings.change_votes, ttl=ctx.settings.keep_seconds)
    if not stored:
        ctx.invalid("you have already voted in this poll, and votes cannot be changed in this room",
                    ("poll",), "already_voted")
    ctx.consume()
    await ctx.send_to_room(await tally(ctx, poll_id, len(poll["options"])), type="poll-results")


async def close_poll(ctx: MessageContext) -> None:
    """End a poll (its creator, a teacher or an admin), consume the request, send the final results."""
    poll_id, poll = await _poll_taking_votes(ctx, ctx.value["poll"])
    if ctx.sender.id != poll["creator"] and ctx.sender.role not in (Role.TEACHER, Role.ADMIN):
        ctx.refuse("forbidden", "Only the poll's creator, a teacher or an admin may close it")
    await ctx.chat.store.set(poll_key(ctx.room, poll_id), {**poll, "closed": True}, ttl=ctx.settings.keep_seconds)
    ctx.consume()
    await ctx.send_to_room({**await tally(ctx, poll_id, len(poll["options"])), "closed": True}, type="poll-results")


async def _poll_taking_votes(ctx: MessageContext, named: str) -> tuple[str, dict[str, Any]]:
    """The poll's id and the poll, if it exists in this room and is not closed (else ``validation_failed`` on ``poll``).

    ``named`` is the poll's id, or the id of the message that opened it.
    """
    store, room = ctx.chat.store, ctx.room
    poll_id = named
    poll = await store.get(poll_key(room, poll_id))
    if poll is None:
        by_message = await store.get(message_key(room, named))
        if isinstance(by_message, str):
            poll_id, poll = by_message, await store.get(poll_key(room, by_message))
    if poll is None:
        ctx.invalid("there is no open poll with this id in this room", ("poll",), "unknown_poll")
    if poll.get("closed"):
        ctx.invalid("this poll is closed", ("poll",), "poll_closed")
    return poll_id, poll


def _picked(ctx: MessageContext, poll: dict[str, Any]) -> list[int]:
    """The vote's option indices, sorted and checked against the poll."""
    option = ctx.value["option"]
    choices = option if isinstance(option, list) else [option]
    picked = sorted({_index(ctx, poll["options"], choice) for choice in choices})
    if len(picked) > 1 and not poll["multiple"]:
        ctx.invalid("this poll takes a single option", ("option",), "single_option")
    return picked


def _index(ctx: MessageContext, options: list[str], choice: int | str) -> int:
    """The index of the option ``choice`` names (by index, or by its text), or ``unknown_option``."""
    if isinstance(choice, int):
        if choice < len(options):
            return choice
        ctx.invalid(f"this poll's options are numbered 0 to {len(options) - 1}", ("option",), "unknown_option")
    if choice in options:
        return options.index(choice)
    loose = [same_option(o) for o in options]
    if same_option(choice) in loose:
        return loose.index(same_option(choice))
    ctx.invalid("this poll has no such option: name one by its index (from 0) or its text", ("option",),
                "unknown_option")


async def tally(ctx: MessageContext, poll_id: str, options: int) -> dict[str, Any]:
    """The ``poll-results`` value: votes per option, and how many users voted."""
    votes = await ctx.chat.store.hash_get_all(votes_key(ctx.room, poll_id))
    counts = [0] * options
    for picked in votes.values():
        for index in picked:
            counts[index] += 1
    return {"poll": poll_id, "counts": counts, "total": len(votes)}


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``poll``, ``vote``, ``poll-close`` and ``poll-results``."""
    register(MessageType("poll", as_sent(PollValue), [open_poll], direct=False,
                         text=("question", "options"),  # the human text the moderator reads
                         description="A poll for the room: {question, options, multiple?}; delivered with its id"))
    register(MessageType("vote", as_sent(VoteValue), [count_vote],
                         text=False,  # an interaction, not something someone wrote: never judged as text
                         description="A vote in a poll: {poll, option}; counted, not delivered"))
    register(MessageType("poll-close", as_sent(PollClose), [close_poll],
                         text=False,
                         description="End a poll (its creator, a teacher or an admin): {poll}; not delivered"))
    register(MessageType("poll-results", PollResults, roles=(),
                         text=False,
                         description="A poll's tally, sent by the room (ID 0) after each vote: {poll, counts, total}, "
                                     "and with closed: true when the poll ends"))


@hookimpl
def roomchat_settings_model() -> type[BaseModel]:
    """``creators``, ``change_votes``, ``keep_seconds``."""
    return PollSettings
