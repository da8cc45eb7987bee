"""The YAML configuration: rooms, users, plugins, bots and server settings.

Every model forbids unknown keys, so a typo is an error that names the key
rather than a setting silently ignored. ``load_config`` turns pydantic's
errors into lines that name the file, the key path and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from . import backlog
from .errors import ConfigError
from .names import CONTROL, MAX_NAME, normalise
from .storage.config import HistoryConfig, RoomHistory, StorageConfig
from .storage.config import with_data_dir as storage_with_data_dir
from .users import Role
from .yamlfile import read_yaml

ALL_ROLES = (Role.ADMIN, Role.TEACHER, Role.STUDENT)
MAX_GUEST_ID_START = 10**15  # plus the microseconds since 1970, guest IDs stay below 2**53 until past 2200


def _display_name(name: str) -> str:
    """A configured user's or bot's name in the normal form every name takes (roomchat.names)."""
    if CONTROL.search(name):
        raise ValueError(f"a name may not contain control characters (got {name!r})")
    shown = normalise(name)
    if not shown:
        raise ValueError(f"a name needs a visible character (got {name!r})")
    if len(shown) > MAX_NAME:
        raise ValueError(f"a name is at most {MAX_NAME} characters (got {len(shown)})")
    return shown


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_display_name)]
RoomName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Admission = Literal["users", "jwt", "guests"]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RateLimit(Strict):
    """At most ``messages`` emits per user in any ``per_seconds`` window."""

    messages: PositiveInt = 20
    per_seconds: PositiveFloat = 10.0


class RoomPlugins(Strict):
    """Which plugins a room runs, and the room's own settings for them.

    ``enabled: all`` (the default) runs every plugin but those in ``disabled``
    (and those ``plugins.rooms`` keeps to other rooms); a list of names runs
    those only.
    """

    enabled: list[str] | Literal["all"] = Field("all", description="'all', or the names of the plugins this room runs")
    disabled: list[str] = Field(default_factory=list, description="with enabled: all, the plugins this room does not run")
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _disabled_goes_with_all(self) -> RoomPlugins:
        if self.disabled and self.enabled != "all":
            raise ValueError("disabled goes with enabled: all; with a list of enabled plugins, leave these out of the "
                             f"list instead (disabled: {self.disabled})")
        return self


class RoomConfig(Strict):
    """One room: who may enter, how many, and what they may send."""

    title: str | None = None
    admit: list[Admission] = Field(
        default_factory=lambda: list[Admission](["users", "jwt"]),
        description="ways in: 'users' (tokens from this file), 'jwt' (signed tokens), 'guests'",
    )
    roles: list[Role] = Field(default_factory=lambda: list(ALL_ROLES))
    max_users: PositiveInt | None = None
    message_types: Literal["open", "known"] = "open"
    rate_limit: RateLimit | None = Field(default_factory=RateLimit)
    max_message_bytes: PositiveInt = 64 * 1024
    plugins: RoomPlugins = Field(default_factory=RoomPlugins)
    history: RoomHistory = Field(
        default_factory=HistoryConfig, description="{keep, max_age} of this room's history, or off (docs/storage.md)")

    @property
    def admits_guests(self) -> bool:
        """Whether a connection without a token may enter as a guest."""
        return "guests" in self.admit


class EnvRef(Strict):
    """A secret read from an environment variable: ``{env: NAME}``."""

    env: Annotated[str, StringConstraints(min_length=1)]


class UserConfig(Strict):
    """A known user: fixed ID, name and role, and the token that proves it."""

    id: PositiveInt = Field(alias="ID")
    name: Name
    role: Role
    token: Annotated[str, StringConstraints(min_length=8)] | EnvRef


class AuthConfig(Strict):
    """How credentials are checked, and where the IDs of guests begin."""

    jwt_secret_env: str = "ROOMCHAT_JWT_SECRET"
    jwt_issuer: str = "roomchat"
    guest_id_start: PositiveInt = Field(
        1_000_000, description="configured and JWT user IDs are below it; a guest's is it plus the clock in µs")

    @field_validator("guest_id_start")
    @classmethod
    def _guest_ids_stay_exact(cls, start: int) -> int:
        if start > MAX_GUEST_ID_START:
            raise ValueError(
                f"must be at most {MAX_GUEST_ID_START} (10**15): a guest's ID is this plus the microseconds "
                f"since 1970, and IDs must stay below 2**53 to be exact in JavaScript (got {start})")
        return start


class HealthConfig(Strict):
    """When ``GET /healthz`` says 503 although the process answers (README, Operations)."""

    max_loop_lag: PositiveFloat = Field(
        1.0, description="seconds the event loop may run late (busy with synchronous work) before it counts as stuck")
    report_for: PositiveFloat = Field(10.0, description="seconds /healthz keeps reporting a stuck loop after it ran again")
    max_feed_stall: float = Field(
        5.0, ge=2.0, description="clusters: seconds the presence feed may go without reading Redis' stream (it reads "
                                 "at least every second when idle)")


class ServerConfig(Strict):
    """Process-wide settings of ``roomchat serve``."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    cors_origins: list[str] = Field(default_factory=list)
    create_rooms: bool = False
    new_room: RoomConfig = Field(
        default_factory=lambda: RoomConfig(admit=["users", "jwt", "guests"]),
        description="the settings of a room created on first join",
    )
    max_http_buffer_size: PositiveInt = 1_000_000
    max_pending_output: Annotated[int, Field(ge=64 * 1024)] = Field(
        backlog.DEFAULT_LIMIT,
        description="bytes the server may hold for one connection that is not reading; past it, that connection "
                    "is closed (event=slow_consumer)",
    )
    websocket_compression: bool = False
    ping_interval: PositiveFloat = 25.0
    ping_timeout: PositiveFloat = 20.0
    handler_timeout: PositiveFloat = 2.0
    health: HealthConfig = Field(default_factory=HealthConfig)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"


class PluginsConfig(Strict):
    """Plugins beyond the built-ins and installed packages, and their settings."""

    load: list[str] = Field(default_factory=list, description="modules or .py files to load")
    disable: list[str] = Field(default_factory=list, description="plugin names not to load")
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rooms: dict[str, list[RoomName]] = Field(
        default_factory=dict, description="plugin name -> the only rooms it runs in (every room when not listed)")


class BotConfig(Strict):
    """A bot that starts with the server and joins its rooms."""

    kind: str
    id: PositiveInt = Field(alias="ID")
    name: Name
    role: Role = Role.STUDENT
    rooms: list[RoomName] = Field(min_length=1)
    settings: dict[str, Any] = Field(default_factory=dict)
    run: Literal["server", "external"] = Field(
        "server", description="'server': roomchat serve runs it; 'external': `roomchat bot run` does, with `token`"
    )
    token: Annotated[str, StringConstraints(min_length=8)] | EnvRef | None = Field(
        None, description="an external bot's credential; the server mints its own bots' credentials"
    )

    @model_validator(mode="after")
    def _token_only_when_external(self) -> BotConfig:
        if self.run == "external" and self.token is None:
            raise ValueError("an external bot needs a token: the credential `roomchat bot run --token` connects with")
        if self.run == "server" and self.token is not None:
            raise ValueError("only an external bot takes a token (the server mints its own bots' credentials); "
                             "add `run: external` or remove the token")
        return self


class ClusterConfig(Strict):
    """Several servers as one, sharing state through Redis (docs/scaling.md)."""

    redis_url: str = Field("redis://127.0.0.1:6379/0", description="redis://, rediss:// (TLS) or unix:// URL")
    key_prefix: Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\s]+$")] = Field(
        "roomchat", description="every key and channel starts with it: clusters sharing one Redis use different ones")
    heartbeat_seconds: PositiveFloat = Field(2.0, description="how often a server says it is alive")
    dead_after_seconds: PositiveFloat = Field(
        6.0, description="a server silent this long is dead: its users leave their rooms, its bots move")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str) -> str:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"must start with redis://, rediss:// or unix:// (got {url!r})")
        return url

    @model_validator(mode="after")
    def _dead_after_beats(self) -> ClusterConfig:
        if self.dead_after_seconds < 2 * self.heartbeat_seconds:
            raise ValueError(
                f"dead_after_seconds ({self.dead_after_seconds:g}) must be at least twice heartbeat_seconds "
                f"({self.heartbeat_seconds:g}), or a server that is only slow is taken for dead"
            )
        return self


class Config(Strict):
    """The whole configuration file (``storage`` and rooms' ``history``: roomchat/storage/config.py)."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    users: list[UserConfig] = Field(default_factory=list)
    rooms: dict[RoomName, RoomConfig] = Field(default_factory=dict)
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    bots: list[BotConfig] = Field(default_factory=list)
    cluster: ClusterConfig | None = None
    storage: StorageConfig = Field(default_factory=StorageConfig)


def id_problems(config: Config) -> list[str]:
    """Every configured ID that is not unambiguous, as ``key.path: what is wrong`` lines.

    Users and bots share one space of IDs (each ID names one of them), below
    ``auth.guest_id_start``, where the guests' begin. JWT subjects are checked
    against the same when a token is used (roomchat/identity.py).
    """
    problems: list[str] = []
    start = config.auth.guest_id_start
    owners: dict[int, str] = {}
    groups: list[tuple[str, Sequence[UserConfig | BotConfig]]] = [("users", config.users), ("bots", config.bots)]
    for kind, people in groups:
        for index, who in enumerate(people):
            path = f"{kind}.{index}.ID"
            if who.id >= start:
                problems.append(f"{path}: ID {who.id} ({who.name}) is in the guest range; configured IDs must be "
                                f"below auth.guest_id_start ({start})")
            elif who.id in owners:
                problems.append(f"{path}: ID {who.id} ({who.name}) is listed twice: {owners[who.id]} has it; "
                                "every user and bot needs an ID of its own")
            else:
                owners[who.id] = f"{path} ({who.name})"
    return problems


def describe_error(error: Any, prefix: str = "", noun: str = "key") -> str:
    """One pydantic error as ``key.path: what was expected (got ...)``, the path under ``prefix``."""
    loc = ".".join(str(part) for part in error["loc"])
    path = ".".join(p for p in (prefix, loc) if p) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] in ("missing", "value_error") or error["type"].startswith("model_"):
        return f"{path}: {message}"
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown {noun} (check its spelling, or remove it)"
    return f"{path}: {message} (got {error['input']!r})"


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate already-parsed YAML; errors name ``source``, the key path and what was expected."""
    if data is None:
        data = {}
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [describe_error(e) for e in exc.errors()]) from None
    problems = id_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def load_config(path: str | Path) -> Config:
    """Read, validate and resolve a config file (environment references included)."""
    config = parse_config(read_yaml(path), str(path))
    return resolve_secrets(config, str(path))


def resolve_secrets(config: Config, source: str) -> Config:
    """Replace ``{env: NAME}`` tokens with the variables' values; a missing one is an error."""
    problems = []
    for index, user in enumerate(config.users):
        if isinstance(user.token, EnvRef):
            value = os.environ.get(user.token.env)
            if not value:
                problems.append(
                    f"users.{index}.token: environment variable {user.token.env} is not set "
                    f"(it holds the token of user {user.id}, {user.name})"
                )
            else:
                user.token = value
    for index, bot in enumerate(config.bots):
        if isinstance(bot.token, EnvRef):
            value = os.environ.get(bot.token.env)
            if not value:
                problems.append(f"bots.{index}.token: environment variable {bot.token.env} is not set "
                                f"(it holds the token of bot {bot.id}, {bot.name})")
            else:
                bot.token = value
    if problems:
        raise ConfigError(source, problems)
    return config


def with_data_dir(config: Config, data_dir: str | Path | None = None) -> Config:
    """``config`` with its default database in the data folder: ``data_dir`` (``--data DIR``), else $ROOMCHAT_DATA_DIR.

    Only when the config sets no ``storage.url``; with neither, the default stays
    ``data/roomchat.sqlite3`` in the config file's folder (docs/storage.md, "Where the data lives").
    """
    storage = storage_with_data_dir(config.storage, data_dir)
    return config if storage is config.storage else config.model_copy(update={"storage": storage})


def default_config_path() -> Path:
    """``config/roomchat.yaml`` of a source checkout, or the ROOMCHAT_CONFIG variable."""
    return Path(os.environ.get("ROOMCHAT_CONFIG") or "config/roomchat.yaml")  # set but empty: not set
