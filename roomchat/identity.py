"""Identify a joining connection: a token from the config, a signed JWT, or a guest.

A role never comes from what the client claims. It comes from a credential
(a user listed in the YAML, or a JWT signed with the server's secret), or it
is ``STUDENT`` for a guest.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Literal

import jwt

from .config import AuthConfig, Config, RoomConfig
from .errors import Refusal
from .state.base import GuestIds
from .users import Role, User

log = logging.getLogger("roomchat.identity")
Way = Literal["users", "jwt", "guests"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a credential names, how it was proven, and (JWT only) the rooms it allows."""

    user: User
    way: Way
    rooms: frozenset[str] | None = None


def _digest(token: str) -> bytes:
    # Tokens are looked up by digest, so the lookup time says nothing about a token's prefix.
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    """Turns a join's ``token`` or ``name`` into a User, or refuses."""

    def __init__(self, config: Config, guest_ids: GuestIds) -> None:
        self._tokens: dict[bytes, Identity] = {}
        for user in config.users:
            assert isinstance(user.token, str), "resolve_secrets() runs before this"
            self._tokens[_digest(user.token)] = Identity(User(user.id, user.role, user.name), "users")
        self._auth = config.auth
        self._secret = os.environ.get(config.auth.jwt_secret_env) or None
        self._guest_ids = guest_ids

    @property
    def jwt_enabled(self) -> bool:
        """Whether a JWT secret is set, so signed tokens can be checked."""
        return self._secret is not None

    def add_token(self, token: str, user: User) -> None:
        """Admit another credential (the server's own bots use this)."""
        self._tokens[_digest(token)] = Identity(user, "users")

    def verify(self, token: str) -> Identity:
        """The identity a token proves; ``unauthorized`` if it proves none."""
        known = self._tokens.get(_digest(token))
        if known is not None:
            return known
        if token.count(".") == 2:
            return self._verify_jwt(token)
        raise Refusal("unauthorized", "The token is not valid")

    def _verify_jwt(self, token: str) -> Identity:
        if self._secret is None:
            raise Refusal("unauthorized", "This server does not accept signed tokens (no JWT secret is set)")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=self._auth.jwt_issuer,
                options={"require": ["exp", "sub", "name", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise Refusal("unauthorized", "The token has expired; ask for a new one") from None
        except jwt.InvalidTokenError as exc:
            raise Refusal("unauthorized", f"The token is not valid: {exc}") from None
        return self._identity_from_claims(claims)

    def _identity_from_claims(self, claims: dict) -> Identity:
        sub, name, role, rooms = claims["sub"], claims["name"], claims["role"], claims.get("rooms")
        if not (isinstance(sub, str) and sub.isascii() and sub.isdigit()) or not 0 < int(sub) < self._auth.guest_id_start:
            raise Refusal("unauthorized", "The token's subject is not a valid user ID")
        if role not in Role.__members__ or not isinstance(name, str) or not name.strip():
            raise Refusal("unauthorized", "The token's role or name is not valid")
        if rooms is not None and not (isinstance(rooms, list) and all(isinstance(r, str) for r in rooms)):
            raise Refusal("unauthorized", "The token's rooms claim must be a list of room names")
        user = User(int(sub), Role(role), name.strip()[:64])
        return Identity(user, "jwt", frozenset(rooms) if rooms is not None else None)

    async def identify(self, room_name: str, room: RoomConfig, token: str | None, name: str | None) -> User:
        """The user a join request names, checked against the room's ways in."""
        if token is not None:
            identity = self.verify(token)
            if identity.way not in room.admit:
                raise Refusal("unauthorized", f"Room {room_name!r} does not accept this kind of credential")
            if identity.rooms is not None and room_name not in identity.rooms:
                raise Refusal("forbidden", f"Your token does not allow room {room_name!r}")
            return identity.user
        if not room.admits_guests:
            raise Refusal("unauthorized", f"Room {room_name!r} needs a token; guests may not enter")
        guest_id = await self._guest_ids.allocate()
        return User(guest_id, Role.STUDENT, name or f"Guest {guest_id - self._auth.guest_id_start + 1}")


def issue_token(
    secret: str,
    user_id: int,
    name: str,
    role: Role,
    ttl_seconds: float,
    rooms: list[str] | None = None,
    issuer: str = "roomchat",
) -> str:
    """A signed HS256 JWT naming a user, valid for ``ttl_seconds``."""
    now = int(time.time())
    claims: dict = {"sub": str(user_id), "name": name, "role": role.value, "iat": now, "exp": now + int(ttl_seconds), "iss": issuer}
    if rooms is not None:
        claims["rooms"] = list(rooms)
    return jwt.encode(claims, secret, algorithm="HS256")


def check_auth_config(auth: AuthConfig) -> str | None:
    """A warning to log at start-up when JWTs cannot be checked, else None."""
    if os.environ.get(auth.jwt_secret_env):
        return None
    return f"{auth.jwt_secret_env} is not set: signed tokens (JWT) will be refused"
