"""The moderator bot: turns the filter's flags into the room's escalation, and answers teachers.

When it joins a room it sends its rules to the server-side filter
(``filter.py``). From then on the filter blocks and redacts, and flags every
offence to the bot with a ``moderator-flag`` message from the room. For each
flag the bot:

1. works out the consequence: the rules' own penalties, or the next step of
   the room's ladder (``escalation.steps``, offences forgotten after
   ``escalation.decay``), the most severe winning;
2. carries it out through the core's moderation (``room.moderate``): the
   server tells the user and the room's teachers with a ``moderation`` notice
   whose ``reason`` explains what the message did and what comes next, and
   whose ``rule`` names the rule that fired;
3. logs it (``moderation_action``, with the rule, never the message).

Each user's offences (their times, on the wall clock) are kept in the bot's
store (``self.store``, key ``offences:<room>``), so the ladder goes on where it
was after a restart of the server or of the bot: a user warned before a
deploy is muted after it.

In ``dry_run`` nothing happens to anyone: the teachers get a text saying what
would have happened. If the server has no filter (the plugin is disabled in
the room), the bot watches the room's messages itself: it cannot block or
redact then, but flood, repeats, words, shouting and links still escalate.

Teachers and admins talk to it in direct ``text`` messages, routed by the
bot SDK to the ``@command`` methods below: ``help``, ``status``, ``log``,
``forgive <ID>``, ``dry-run on|off``. Anything else a teacher writes gets
the help; a student gets told to ask their teacher.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt

from roomchat.bot import Ack, Bot, BotRoom, BotSettings, CommandRefused, Incoming, command
from roomchat.logs import event
from roomchat.users import User

from .escalation import Decision, decide, next_step
from .filter import CONFIG_TYPE, FLAG_TYPE
from .rules import RoomFilter, content_of
from .settings import FilterSettings, ModeratorFields, Step

MAX_REASON = 480  # the core's moderation reason holds 500 characters

OUTCOME = {
    "blocked": "Your message was not sent",
    "redacted": "Your message was changed before the room saw it",
    "delivered": "Your message broke a room rule",
}
DID = {"blocked": "was not sent", "redacted": "was changed", "delivered": "was delivered"}
WOULD = {"blocked": "would not have been sent", "redacted": "would have been changed",
         "delivered": "broke a room rule"}
NOT_FOR_STUDENTS = "I am this room's moderator bot. If you think I got something wrong, ask your teacher."


class ModeratorSettings(ModeratorFields, BotSettings):
    """The moderator bot's settings (``bots: - kind: moderator, settings: ...``); docs/bots.md lists them."""


class Moderator(Bot):
    """Banned words, flood, repeats, shouting and links, with the room's escalation ladder."""

    kind = "moderator"
    Settings = ModeratorSettings
    settings: ModeratorSettings
    command_prefixes = ("", "/", "!")  # every text to the bot is a command: "status", "/status", "!status"
    default_command = "help"
    command_help = "Moderator commands (direct messages, teachers and admins):"

    # -- joining: configure the filter --------------------------------------------------

    async def on_join(self, room: BotRoom) -> None:
        """Send the room's rules to the server-side filter (again after every reconnect); load the offences kept."""
        if "offences" not in room.state:
            room.state["offences"] = await self.load_offences(room)
        room.state.setdefault("log", deque(maxlen=self.settings.history))
        room.state.setdefault("dry_run", self.settings.dry_run)
        await self.configure(room)

    # -- offences, kept in the bot's store ---------------------------------------------------

    async def load_offences(self, room: BotRoom) -> dict[int, list[float]]:
        """The room's offence records as the store keeps them (those older than ``escalation.decay`` dropped)."""
        try:
            kept = await self.store.get(_offences_key(room))
        except Exception as exc:  # noqa: BLE001 - a store that fails must not stop the moderator: it starts afresh
            event(self.log, "offences_not_loaded", logging.WARNING, room=room.name,
                  reason=f"{type(exc).__name__}: {exc}")
            return {}
        now = self.clock.now()
        offences: dict[int, list[float]] = {}
        for user, times in (kept.items() if isinstance(kept, dict) else ()):
            try:
                recent = [float(t) for t in times if now - float(t) < self.settings.escalation.decay]
                if recent:
                    offences[int(user)] = recent
            except (TypeError, ValueError):
                continue  # a damaged record is dropped, not fatal
        return offences

    async def save_offences(self, room: BotRoom) -> None:
        """Write the room's offence records to the store (those forgotten by decay left out)."""
        now = self.clock.now()
        decay = self.settings.escalation.decay
        offences: dict[int, list[float]] = room.state.get("offences", {})
        kept = {str(user): [t for t in times if now - t < decay] for user, times in offences.items()}
        try:
            await self.store.set(_offences_key(room), {user: times for user, times in kept.items() if times})
        except Exception as exc:  # noqa: BLE001 - see load_offences: the bot goes on from memory
            event(self.log, "offences_not_saved", logging.WARNING, room=room.name,
                  reason=f"{type(exc).__name__}: {exc}")

    def filter_settings(self, room: BotRoom) -> dict[str, Any]:
        """The rules this room's filter runs (with the room's own dry-run switch)."""
        wire = self.settings.filter_settings().model_dump(mode="json")
        wire["dry_run"] = room.state.get("dry_run", self.settings.dry_run)
        return wire

    async def configure(self, room: BotRoom) -> bool:
        """Configure the room's filter; True when the server enforces it, False when the bot watches alone."""
        wire = self.filter_settings(room)
        ack = await room.send(room.me.id, CONFIG_TYPE, wire)
        answer = _ack_value(ack)
        active = isinstance(answer, dict) and answer.get("active") is True and answer.get("moderator") == room.me.id
        room.state["watch"] = None if active else RoomFilter(FilterSettings.model_validate(wire), room.me.id)
        if active:
            event(self.log, "filter_active", room=room.name, dry_run=wire["dry_run"])
        elif ack.code == "too_large":
            event(self.log, "filter_missing", logging.ERROR, room=room.name, code=ack.code,
                  hint="the rules do not fit in one message of this room: raise the room's max_message_bytes "
                       "or shorten the word lists; until then the bot watches messages itself and cannot block")
        else:
            event(self.log, "filter_missing", logging.WARNING, room=room.name, code=ack.code or "not consumed",
                  hint="the server does not run the moderator filter in this room; the bot watches messages "
                       "itself and cannot block or redact (enable the 'moderator' plugin in the room)")
        return active

    # -- flags ------------------------------------------------------------------------

    async def on_direct_message(self, room: BotRoom, msg: Incoming) -> None:
        """Flags from the filter (texts are commands, and our own configuration coming back is ignored)."""
        if msg.type == FLAG_TYPE and msg.from_room and isinstance(msg.value, dict):
            await self.flagged(room, msg.value)

    async def on_room_message(self, room: BotRoom, msg: Incoming) -> None:
        """Only without a server-side filter: check what the room was sent (after delivery)."""
        watch: RoomFilter | None = room.state.get("watch")
        sender = msg.sender
        if watch is None or sender is None or not watch.applies(sender.id, sender.role, sender.bot, msg.type, False):
            return
        # The bot does not know the server's type declarations: a string value is a chat line's text, any
        # other value is judged like an unregistered type's (words and links read every string in it).
        declared = True if isinstance(msg.value, str) else None
        content = content_of(msg.value, declared, watch.settings.skip_keys)
        if content is None:
            return
        verdict = watch.check(sender.id, content, self.clock.monotonic())
        if verdict.counted:
            await self.flagged(room, {"user": sender.as_wire(), "type": msg.type, "outcome": "delivered",
                                      "dry_run": verdict.dry_run, "hits": [h.as_wire() for h in verdict.hits]})

    async def flagged(self, room: BotRoom, flag: dict[str, Any]) -> None:
        """One flagged message: decide, act (or, in a dry run, only report), log."""
        try:
            user = User.from_wire(flag["user"])
            hits = [h for h in flag.get("hits", []) if isinstance(h, dict) and h.get("counted", True)]
        except (KeyError, TypeError, ValueError):
            event(self.log, "flag_unreadable", logging.WARNING, room=room.name)
            return
        if not hits:
            return
        dry_run = bool(flag.get("dry_run")) or room.state.get("dry_run", self.settings.dry_run)
        outcome = str(flag.get("outcome", "delivered"))
        now = self.clock.now()  # the wall clock: offence times are compared across restarts
        offences: dict[int, list[float]] = room.state.setdefault("offences", {})
        decision, after = decide(hits, offences.get(user.id, []), now, self.settings.escalation)
        if not dry_run:
            offences[user.id] = after
            await self.save_offences(room)
        if decision.step is None:
            return
        upcoming = next_step(after, now, self.settings.escalation) if decision.offence is not None else None
        reason = self.reason(outcome, hits, decision, upcoming)
        if dry_run:
            done = await self.dry_run_report(room, user, outcome, hits, decision)
        elif decision.step.action == "report":
            done = await self.report(room, _told(user, outcome, hits))
        else:
            done = await self.act(room, user, decision, reason, outcome, upcoming)
        rule = decision.rules[0]
        event(self.log, "moderation_action", room=room.name, user=user.id, rule=rule,
              rules=",".join(h["rule"] for h in hits), step=str(decision.step), offence=decision.offence or "",
              outcome=outcome, dry_run=dry_run, done=done)
        room.state.setdefault("log", deque(maxlen=self.settings.history)).append(
            {"time": self.clock.now(), "user": user.id, "name": user.name, "rule": rule, "step": str(decision.step),
             "offence": decision.offence, "outcome": outcome, "dry_run": dry_run, "done": done})

    def reason(self, outcome: str, hits: list[dict[str, Any]], decision: Decision, upcoming: Step | None) -> str:
        """What the user (and the teachers) read: what the message did, what it cost, what comes next."""
        why = "; ".join(dict.fromkeys(str(h.get("reason", h["rule"])) for h in hits))
        text = f"{OUTCOME.get(outcome, OUTCOME['delivered'])}: {why}."
        step = decision.step
        if step is not None and decision.offence is not None:
            text += f" Offence {decision.offence}: you are {step.describe()}."
        elif step is not None:
            text += f" You are {step.describe()}."
        if upcoming is not None and step is not None and step.action not in ("ban",):
            text += f" Next time you will be {upcoming.describe()}."
        return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"

    async def act(self, room: BotRoom, user: User, decision: Decision, reason: str, outcome: str,
                  upcoming: Step | None) -> bool:
        """Carry a step out through the core (which tells the user and the teachers)."""
        step = decision.step
        assert step is not None
        if self.settings.text_notices:
            await self.say(room, user.id, reason)  # before a kick or ban closes their connection
        extra: dict[str, Any] = {"rule": decision.rules[0], "rules": list(decision.rules), "outcome": outcome}
        if decision.offence is not None:
            extra["offence"] = decision.offence
        if upcoming is not None:
            extra["next"] = str(upcoming)
        ack = await room.moderate(step.action, user.id, seconds=step.seconds, reason=reason, **extra)
        if not ack.ok:
            event(self.log, "moderation_refused", logging.WARNING, room=room.name, user=user.id, step=str(step),
                  code=ack.code or "")
            await self.report(room, f"I could not carry out “{step}” on {_who(user)}: {ack.msg}")
        return ack.ok

    async def dry_run_report(self, room: BotRoom, user: User, outcome: str, hits: list[dict[str, Any]],
                             decision: Decision) -> bool:
        """Tell the teachers what would have happened."""
        step = decision.step
        assert step is not None
        rules = ", ".join(dict.fromkeys(h["rule"] for h in hits))
        why = "; ".join(dict.fromkeys(str(h.get("reason", "")) for h in hits))
        offence = f", offence {decision.offence}" if decision.offence is not None else ""
        text = (f"[dry run] {_who(user)} would have been {step.describe()} ({rules}{offence}): "
                f"the message {WOULD.get(outcome, WOULD['delivered'])}: {why}.")
        return await self.report(room, text)

    # -- talking --------------------------------------------------------------------------

    async def say(self, room: BotRoom, user_id: int, text: str) -> Ack:
        """A text to one user."""
        return await room.send(user_id, self.settings.notice_type, text)

    async def report(self, room: BotRoom, text: str) -> bool:
        """A text to every teacher and admin in the room; True if at least one got it."""
        if not self.settings.report_to_teachers:
            return True
        acks = [await self.say(room, teacher.id, text) for teacher in room.teachers()]
        return any(a.ok for a in acks)

    # -- teachers' commands -------------------------------------------------------------------

    @command(staff_only=True)
    async def help(self, room: BotRoom, msg: Incoming) -> None:
        """The commands"""
        await self.say(room, msg.from_id, self.help_text(msg.sender))

    @command("status", staff_only=True)
    async def show_status(self, room: BotRoom, msg: Incoming) -> None:
        """The room's mode, the ladder, and each user with offences on record"""
        await self.say(room, msg.from_id, self.status(room))

    @command("log", staff_only=True)
    async def show_log(self, room: BotRoom, msg: Incoming) -> None:
        """The last ten actions"""
        await self.say(room, msg.from_id, self.history(room))

    @command(aliases=("pardon",), staff_only=True)
    async def forgive(self, room: BotRoom, msg: Incoming, user: Annotated[PositiveInt, Field(title="ID")]) -> None:
        """Forget a user's offences"""
        forgotten = room.state.setdefault("offences", {}).pop(user, [])
        await self.save_offences(room)
        event(self.log, "offences_forgiven", room=room.name, user=user, by=msg.from_id)
        await self.say(room, msg.from_id, f"Forgot {len(forgotten)} offence(s) of user {user}.")

    @command("dry-run", aliases=("dryrun", "dry_run"), staff_only=True)
    async def dry_run(self, room: BotRoom, msg: Incoming, mode: Literal["on", "off"]) -> None:
        """This room: only report, or act"""
        room.state["dry_run"] = mode == "on"
        active = await self.configure(room)
        event(self.log, "dry_run_set", room=room.name, dry_run=room.state["dry_run"], by=msg.from_id)
        what = "only report" if room.state["dry_run"] else "act"
        await self.say(room, msg.from_id, f"Dry run is {mode}: I will {what} in this room"
                                          + ("." if active else " (no server-side filter here)."))

    async def on_command_refused(self, room: BotRoom, msg: Incoming, refusal: CommandRefused) -> None:
        """Students are told to ask their teacher; a teacher gets the help, or what was wrong and how to say it."""
        if msg.sender is None or not msg.sender.role.is_staff:
            await self.say(room, msg.from_id, NOT_FOR_STUDENTS)
        elif refusal.code == "unknown_command":
            await self.say(room, msg.from_id, self.help_text(msg.sender))
        else:
            await self.say(room, msg.from_id, refusal.message)

    def status(self, room: BotRoom) -> str:
        """The room's mode and the users with offences on record."""
        now = self.clock.now()
        escalation = self.settings.escalation
        mode = "dry run (only reporting)" if room.state.get("dry_run") else "acting"
        where = "watching messages myself (no server filter)" if room.state.get("watch") else "server filter active"
        lines = [f"Moderator in {room.name}: {mode}, {where}. Ladder: {', '.join(map(str, escalation.steps))}."]
        for user_id, times in sorted(room.state.get("offences", {}).items()):
            recent = [t for t in times if now - t < escalation.decay]
            if recent:
                name = room.users[user_id].name if user_id in room.users else f"user {user_id}"
                lines.append(f"{name} ({user_id}): {len(recent)} offence(s); next: "
                             f"{next_step(recent, now, escalation)}")
        if len(lines) == 1:
            lines.append("Nobody has offences on record.")
        return "\n".join(lines)

    def history(self, room: BotRoom) -> str:
        """The room's last actions, newest last."""
        entries = list(room.state.get("log", ()))[-10:]
        if not entries:
            return "No moderation actions yet."
        return "\n".join(
            f"{'[dry run] ' if e['dry_run'] else ''}{e['name']} ({e['user']}): {e['step']} for {e['rule']}"
            + (f" (offence {e['offence']})" if e["offence"] else "") for e in entries)


def _offences_key(room: BotRoom) -> str:
    return f"offences:{room.name}"


def _who(user: User) -> str:
    return f"{user.name} ({user.id})"


def _told(user: User, outcome: str, hits: list[dict[str, Any]]) -> str:
    """A teacher's report of a ``report`` step: who, which rules, what happened to the message, why."""
    rules = ", ".join(dict.fromkeys(h["rule"] for h in hits))
    why = "; ".join(dict.fromkeys(str(h.get("reason", "")) for h in hits))
    return f"{_who(user)} ({rules}): the message {DID.get(outcome, DID['delivered'])}: {why}."


def _ack_value(ack: Ack) -> Any:
    if not ack.ok or not isinstance(ack.data, dict):
        return None
    message = ack.data.get("message")
    return message.get("value") if isinstance(message, dict) else None
