"""Shared state behind small interfaces: presence, guest IDs, rate limits.

``memory`` holds it in this process (the default, no external service);
``redis`` shares it between several servers (see docs/scaling.md).
"""

from .base import GuestIds, KeyValueStore, Presence, RateLimiter, StateBackend

__all__ = ["GuestIds", "KeyValueStore", "Presence", "RateLimiter", "StateBackend"]
