"""The quiz bot (built-in plugin ``quiz``): question banks in YAML, timed questions, hints, scores.

Registers the bot kind ``quiz`` and the quiz message types. docs/bots.md
("Quiz bot") shows how to configure it, how a teacher runs a quiz, and every
message type it sends and takes.
"""

from __future__ import annotations

from collections.abc import Callable

from roomchat import MessageType, hookimpl

from .messages import message_types


@hookimpl
def roomchat_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register the quiz message types (``quiz``, ``quiz-answer``, ``quiz-question``...)."""
    for message_type in message_types():
        register(message_type)


@hookimpl
def roomchat_register_bots(register: Callable[[type], None]) -> None:
    """Register the ``quiz`` bot."""
    from .bot import QuizBot

    register(QuizBot)
