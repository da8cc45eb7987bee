"""Shared state behind small interfaces: presence, guest IDs, rate limits.

``memory`` holds it in this process (the default, no external service);
``redis`` shares it between several servers (see docs/scaling.md).
"""

from .base import GuestIds, Presence, RateLimiter, StateBackend

__all__ = ["GuestIds", "Presence", "RateLimiter", "StateBackend"]
