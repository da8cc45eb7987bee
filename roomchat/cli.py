"""``roomchat``: serve, check a config, issue a token, list plugins, print schemas, run a bot.

Every command that reads a config takes it as ``--config FILE``; ``serve``,
``check`` and ``plugins`` also take it as their one positional argument
(``schema``'s positional is a type, ``bot run``'s a kind). Without either,
the file is ``$ROOMCHAT_CONFIG`` or ``config/roomchat.yaml``; ``plugins`` and
``schema`` need none and then list what is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .config import Config, default_config_path, load_config, with_data_dir
from .errors import CommandError, ConfigError
from .requires import MissingPackage
from .users import Role

NO_FILE = "(no config file)"
LOG_LEVELS = ["debug", "info", "warning", "error"]


def config_path(args: argparse.Namespace) -> str | None:
    """The config file the command line names (positional or ``--config``), or None."""
    given = [p for p in (getattr(args, "config_file", None), getattr(args, "config", None)) if p]
    if len(set(given)) > 1:
        raise CommandError(f"two config files given ({given[0]} and {given[1]}); give one, as FILE or --config FILE")
    return given[0] if given else None


def _load(args: argparse.Namespace, required: bool = True) -> tuple[Config, str]:
    """The command's config and its file; with ``required=False`` an empty config when there is no file at all.

    With no ``storage.url`` in it, the database goes in ``--data DIR`` or ``$ROOMCHAT_DATA_DIR`` when either is
    set (``with_data_dir``).
    """
    data = getattr(args, "data", None)
    path = config_path(args)
    if path is None and not required and not os.environ.get("ROOMCHAT_CONFIG") and not default_config_path().is_file():
        return with_data_dir(Config(), data), NO_FILE
    source = str(path or default_config_path())
    if not Path(source).is_file():
        where = "" if path else " (no config file was given, and this is the default)"
        raise CommandError(f"there is no config file at {source}{where}; give one: roomchat {args.command} FILE")
    if args.command != "check":
        args.checkable = source  # a problem with this file is one `roomchat check` reports too
    return with_data_dir(load_config(source), data), source


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the config until SIGTERM or Ctrl-C."""
    from .app import ChatServer
    from .logs import setup_logging
    from .serve import serve

    config, source = _load(args)
    settings = config.server
    setup_logging(args.log_level or settings.log_level, args.log_format or settings.log_format)
    chat = ChatServer(config, source)
    serve(chat, args.host or settings.host, settings.port if args.port is None else args.port)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a config (plugins, their settings and the bots' included) without serving; print warnings."""
    from .advice import config_warnings
    from .app import ChatServer

    config, source = _load(args)
    chat = ChatServer(config, source)
    print(
        f"{source}: OK ({len(config.rooms)} rooms, {len(config.users)} users, {len(config.bots)} bots, "
        f"{len(chat.plugins.info)} plugins, {len(chat.plugins.types)} message types)"
    )
    warnings = config_warnings(chat)
    if warnings:
        lines = "\n".join(f"  - {w}" for w in warnings)
        print(f"{source}: {len(warnings)} warning{'s' * (len(warnings) > 1)}\n{lines}", file=sys.stderr)
    return 1 if warnings and args.strict else 0


def cmd_token(args: argparse.Namespace) -> int:
    """Print a signed JWT for a user."""
    from .core.identity import issue_token

    secret = os.environ.get(args.secret_env)
    if not secret:
        raise CommandError(f"set {args.secret_env} to the server's JWT secret first")
    rooms = [r for r in args.rooms.split(",") if r] if args.rooms else None
    print(issue_token(secret, args.id, args.name, Role(args.role), args.ttl, rooms, issuer=args.issuer))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List plugins: name, origin, message types, bots (without a config: what is installed)."""
    from .core.plugin_host import PluginHost

    config, source = _load(args, required=False)
    host = PluginHost()
    host.load(config.plugins, source)
    infos = sorted(host.info.values(), key=lambda i: (i.origin != "built-in", i.name))
    if args.json:
        print(json.dumps([vars(i) for i in infos], indent=2))
        return 0
    for info in infos:
        print(f"{info.name}  ({info.origin})")
        if info.types:
            print(f"    types: {', '.join(info.types)}")
        if info.bots:
            print(f"    bots:  {', '.join(info.bots)}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print every message type's value as JSON Schema (without a config: the installed types)."""
    from .app import ChatServer
    from .http import schemas

    config, source = _load(args, required=False)
    found = schemas(ChatServer(config, source).plugins.types)
    if args.type:
        if args.type not in found:
            hint = f"; to read the config {args.type}, give --config {args.type}" if Path(args.type).is_file() else ""
            raise CommandError(f"no message type {args.type!r}; known: {', '.join(found)}{hint}")
        found = found[args.type]
    print(json.dumps(found, indent=2, ensure_ascii=False))
    return 0


def _add_config(p: argparse.ArgumentParser, positional: bool, optional: str = "") -> None:
    """The config file as ``--config FILE`` and, where the command has no other positional, as ``FILE``."""
    where = f"(default: $ROOMCHAT_CONFIG or {default_config_path()}{optional})"
    if positional:
        p.add_argument("config_file", nargs="?", metavar="FILE", help=f"the config file {where}")
    p.add_argument("--config", metavar="FILE", help=f"the config file, as FILE does {where}" if positional
                   else f"the config file {where}")


def add_data_option(p: argparse.ArgumentParser) -> None:
    """``--data DIR``: where the database goes when the config sets no ``storage.url``."""
    p.add_argument("--data", metavar="DIR",
                   help="keep the database in DIR/roomchat.sqlite3 when the config sets no storage.url "
                        "(default: $ROOMCHAT_DATA_DIR, else data/ in the config file's folder)")


def _roomchat_version() -> str:
    try:
        return version("roomchat")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from . import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``roomchat`` command line."""
    parser = argparse.ArgumentParser(prog="roomchat", description="A Socket.IO room chat server with typed messages.")
    parser.add_argument("--version", action="version", version=f"roomchat {_roomchat_version()}",
                        help="print roomchat's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="what to do; `roomchat COMMAND --help` tells more")
    no_file = "; without one, the built-ins and installed packages"

    p = sub.add_parser("serve", help="run the server",
                       description="Serve a config until SIGTERM or Ctrl-C (docs: README, Operations).")
    _add_config(p, positional=True)
    p.add_argument("--host", help="address to listen on (default: server.host)")
    p.add_argument("--port", type=int, help="port to listen on; 0 picks a free one (default: server.port)")
    p.add_argument("--log-level", choices=LOG_LEVELS, help="how much to log (default: server.log_level)")
    p.add_argument("--log-format", choices=["text", "json"],
                   help="key=value lines or JSON objects (default: server.log_format)")
    add_data_option(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("check", help="validate a config file and exit",
                       description="Validate a config as `roomchat serve` would (plugins, their settings, bots and "
                                   "their settings, question banks) without serving; then warn about what cannot "
                                   "work (a room nobody can enter, say). Exit code 2 on errors.")
    _add_config(p, positional=True)
    p.add_argument("--strict", action="store_true", help="exit with code 1 when there are warnings")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("token", help="issue a signed token (JWT) for a user",
                       description="Print a signed token (JWT, HS256) for a user; the secret is read from "
                                   "the environment variable --secret-env names.")
    p.add_argument("--id", type=int, required=True, help="the user's ID")
    p.add_argument("--name", required=True, help="the user's display name")
    p.add_argument("--role", choices=[r.value for r in Role], default="STUDENT", help="the user's role (default: STUDENT)")
    p.add_argument("--rooms", help="comma-separated rooms the token allows (default: any)")
    p.add_argument("--ttl", type=float, default=24 * 3600, help="seconds until it expires (default: one day)")
    p.add_argument("--secret-env", default="ROOMCHAT_JWT_SECRET",
                   help="the variable holding the secret (default: ROOMCHAT_JWT_SECRET)")
    p.add_argument("--issuer", default="roomchat", help="the iss claim, as auth.jwt_issuer (default: roomchat)")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("plugins", help="list installed plugins, their types and bots",
                       description="List the plugins a config loads (built-ins, installed packages, plugins.load): "
                                   "their origin, message types and bot kinds. Without a config file, what is "
                                   "installed.")
    _add_config(p, positional=True, optional=no_file)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("schema", help="print message types' value schemas (JSON Schema)",
                       description="Print each message type's value as JSON Schema, as GET /schema serves it. "
                                   "Without a config file, the installed types.")
    p.add_argument("type", nargs="?", metavar="TYPE", help="only this type")
    _add_config(p, positional=False, optional=no_file)
    p.set_defaults(func=cmd_schema)

    from .botcli import add_bot_parser

    add_bot_parser(sub, LOG_LEVELS)  # roomchat bot run [KIND] --config ... | --url --token --room ...
    from .storagecli import add_storage_parsers

    add_storage_parsers(sub, _add_config, _load, add_data_option)  # roomchat db upgrade|status, export, purge
    return parser


def _command(args: argparse.Namespace) -> str:
    sub = getattr(args, "bot_command", None)
    return f"roomchat {args.command}" + (f" {sub}" if sub else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``roomchat`` command."""
    args = build_parser().parse_args(argv)
    args.checkable = getattr(args, "config", None) if args.command == "bot" else None
    try:
        return args.func(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        if args.checkable is not None and exc.source == args.checkable:
            print(f"Fix the file and run `roomchat check {args.checkable}` to validate it.", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"{_command(args)}: {exc}", file=sys.stderr)
        return 2
    except MissingPackage as exc:
        print(f"roomchat: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # anything not behind require(): still one line, not a traceback
        print(f"roomchat: {MissingPackage(_command(args), exc.name or str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
