"""What the storage raises: one typed error a caller can act on without knowing the database."""

from __future__ import annotations


class StorageError(Exception):
    """Something the storage could not do; ``reason`` is a sentence an operator can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StorageUnavailable(StorageError):
    """The database cannot be reached, refuses to work (locked, read-only) or is full.

    The caller keeps serving (live messages go out), logs one line, and retries
    or reports what was not kept; docs/storage.md, "When the database is down".
    ``full`` is True when the database said it has no room left.
    """

    def __init__(self, reason: str, full: bool = False) -> None:
        super().__init__(reason)
        self.full = full
