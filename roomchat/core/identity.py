"""Identify a joining connection: a token from the config, a signed JWT, or a guest.

A role never comes from what the client claims. It comes from a credential
(a user listed in the YAML, or a JWT signed with the server's secret), or it
is ``STUDENT`` for a guest.

An ID names one user (README, "Identity"): configured users and bots have
their own IDs, a JWT may not use one of theirs nor one from the guest range,
guests get IDs that never repeat (roomchat/state), and presence refuses a
second identity under an ID that is in a room already (``IdentityClash``).
A guest may not take (or imitate) a configured user's or bot's name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Literal

import jwt

from ..config import AuthConfig, Config, RoomConfig
from ..errors import Refusal
from ..names import CONTROL, MAX_NAME, lookalike_key, normalise
from ..state.base import GuestIds, Presence
from ..users import IdentityClash, Role, User

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
        self._reserved_ids: set[int] = set()  # configured users' and bots': never a JWT's subject
        self._taken_names: set[str] = set()  # their names' lookalike keys: never a guest's name
        for user in config.users:
            assert isinstance(user.token, str), "resolve_secrets() runs before this"
            self.add_token(user.token, User(user.id, user.role, user.name))
        for bot in config.bots:  # the bot host adds their tokens; their IDs and names are theirs from the start
            self._reserve(User(bot.id, bot.role, bot.name, bot=True))
        self._auth = config.auth
        self._secret = os.environ.get(config.auth.jwt_secret_env) or None
        self._guest_ids = guest_ids

    @property
    def jwt_enabled(self) -> bool:
        """Whether a JWT secret is set, so signed tokens can be checked."""
        return self._secret is not None

    def add_token(self, token: str, user: User) -> None:
        """Admit another credential (the server's own bots use this); its user's ID and name become reserved."""
        self._tokens[_digest(token)] = Identity(user, "users")
        self._reserve(user)

    def _reserve(self, user: User) -> None:
        self._reserved_ids.add(user.id)
        self._taken_names.add(lookalike_key(user.name))

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
        user = User(self._jwt_user_id(sub), self._jwt_role(role), self._jwt_name(name))
        if rooms is not None and not (isinstance(rooms, list) and all(isinstance(r, str) for r in rooms)):
            raise Refusal("unauthorized", "The token's rooms claim must be a list of room names")
        return Identity(user, "jwt", frozenset(rooms) if rooms is not None else None)

    def _jwt_user_id(self, sub: object) -> int:
        """The ``sub`` claim as a user ID no configured user, bot or guest has, or ``unauthorized``."""
        if not (isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) <= 20):
            raise Refusal("unauthorized", "The token's subject is not a valid user ID (a string of digits)")
        user_id, start = int(sub), self._auth.guest_id_start
        if not 0 < user_id < start:
            raise Refusal("unauthorized", f"The token's subject {user_id} is not a valid user ID: signed tokens use "
                                          f"IDs from 1 to {start - 1} (the IDs above are guests')")
        if user_id in self._reserved_ids:
            raise Refusal("unauthorized", f"The token's subject {user_id} is the ID of a user or bot configured on "
                                          "this server; a signed token must name an ID of its own")
        return user_id

    @staticmethod
    def _jwt_role(role: object) -> Role:
        if not isinstance(role, str) or role not in Role.__members__:
            raise Refusal("unauthorized", "The token's role is not valid (ADMIN, TEACHER or STUDENT)")
        return Role(role)

    @staticmethod
    def _jwt_name(name: object) -> str:
        """The ``name`` claim cleaned (control characters out) and in the normal form every name takes."""
        shown = normalise(CONTROL.sub(" ", name))[:MAX_NAME].rstrip() if isinstance(name, str) else ""
        if not shown:
            raise Refusal("unauthorized", "The token's name is not valid: it needs a visible character")
        return shown

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
        if name is not None and lookalike_key(name) in self._taken_names:
            raise Refusal("invalid_name", f"The name {name!r} is taken: it is (or looks like) the name of a user "
                                          "or bot of this server; choose another")
        guest = await self._guest_ids.allocate()
        return User(guest.id, Role.STUDENT, name or f"Guest {guest.number}")


async def check_one_identity(presence: Presence, room: str, user: User) -> None:
    """Refuse (``IdentityClash``) a user whose ID is in the room already as someone else.

    Presence refuses the same when the join is written; asking first turns it
    into a refusal of the connection rather than a disconnect after it.
    """
    present = await presence.member(room, user.id)
    if present is not None and present != user:
        raise IdentityClash(user.id)


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
