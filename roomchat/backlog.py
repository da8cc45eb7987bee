"""Output accounting: what the server holds for one connection and has not yet written.

A client that stops reading (a closed laptop lid, a phone in a tunnel, a hostile
client) would otherwise make the server keep everything its room sends it,
without bound. Each connection has one ``Backlog``: bytes are counted in when
the server takes them on for that connection and out once they are written.
Once more than ``limit`` bytes are pending, anything more is refused (the
caller drops it) and ``on_overflow`` runs, once, to close that connection, as
uWebSockets' ``maxBackpressure`` does: it checks what is pending before taking
on more, so a single large event (a long user list) is taken whenever the
connection is within its limit, and what is held never passes ``limit`` plus
one packet.

Who counts (roomchat/engine.py): python-engineio's per-connection send queue
(every packet, WebSocket and long-polling), and, through ``attach_transport``,
the bytes a WebSocket's transport has buffered past a paused writer. A path
that writes pre-encoded frames straight to a transport counts into the same
backlog: ``add(n)`` before handing ``n`` bytes over (drop them if it returns
False) and ``done(n)`` once the transport took them; bytes the transport
itself buffers are counted by ``attach_transport``.
"""

from __future__ import annotations

from collections.abc import Callable

DEFAULT_LIMIT = 4 * 1024 * 1024  # server.max_pending_output: a few hundred big chat messages


def encoded_size(frame: str | bytes) -> int:
    """Bytes of a frame on the wire (UTF-8 for text; cheap for ASCII, which JSON mostly is)."""
    if isinstance(frame, bytes) or frame.isascii():
        return len(frame)
    return len(frame.encode("utf-8", "surrogatepass"))


class Backlog:
    """Bytes held for one connection and not yet written, against ``limit``."""

    __slots__ = ("_abort", "_buffered", "_on_overflow", "held", "limit", "overflowed")

    def __init__(self, limit: int, on_overflow: Callable[[Backlog], None]) -> None:
        self.limit = limit
        self.held = 0  # counted in by add(), not yet out by done()
        self.overflowed = False
        self._on_overflow = on_overflow
        self._buffered: Callable[[], int] | None = None
        self._abort: Callable[[], None] | None = None

    @property
    def pending(self) -> int:
        """Everything held for the connection: counted bytes plus its transport's write buffer."""
        return self.held + (self._buffered() if self._buffered is not None else 0)

    def add(self, size: int) -> bool:
        """Take on ``size`` more bytes; False (drop them) when more than ``limit`` is pending already.

        The first refusal runs ``on_overflow``; after it, everything is refused.
        """
        if self.overflowed:
            return False
        buffered = self._buffered
        if (self.held + buffered() if buffered is not None else self.held) > self.limit:
            self.overflowed = True
            self._on_overflow(self)
            return False
        self.held += size
        return True

    def done(self, size: int) -> None:
        """``size`` bytes counted in by ``add`` were written (or thrown away)."""
        self.held = max(0, self.held - size)

    def restore(self, size: int) -> None:
        """Count back in ``size`` bytes just counted out but kept after all (put back in order), unchecked."""
        self.held += size

    def attach_transport(self, buffered: Callable[[], int], abort: Callable[[], None]) -> None:
        """Count ``buffered()`` (the transport's write buffer) as pending; ``abort`` drops the connection."""
        self._buffered = buffered
        self._abort = abort

    def abort_transport(self) -> bool:
        """Drop the attached transport's connection at once (no close frame: the peer does not read)."""
        if self._abort is None:
            return False
        self._abort()
        return True
