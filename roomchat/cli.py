"""``roomchat``: serve, check a config, issue a token, list plugins, print schemas."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .config import Config, default_config_path, load_config
from .errors import ConfigError
from .requires import MissingPackage
from .users import Role


def _load(path: str | None) -> tuple[Config, str]:
    source = str(path or default_config_path())
    return load_config(source), source


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the config until SIGTERM or Ctrl-C."""
    from .logs import setup_logging
    from .serve import serve
    from .server import ChatServer

    config, source = _load(args.config)
    settings = config.server
    setup_logging(args.log_level or settings.log_level, args.log_format or settings.log_format)
    chat = ChatServer(config, source)
    serve(chat, args.host or settings.host, settings.port if args.port is None else args.port)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a config (plugins and their settings included) without serving."""
    from .server import ChatServer

    config, source = _load(args.config)
    chat = ChatServer(config, source)
    print(
        f"{source}: OK ({len(config.rooms)} rooms, {len(config.users)} users, {len(config.bots)} bots, "
        f"{len(chat.plugins.info)} plugins, {len(chat.plugins.types)} message types)"
    )
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """Print a signed JWT for a user."""
    from .identity import issue_token

    secret = os.environ.get(args.secret_env)
    if not secret:
        print(f"roomchat token: set {args.secret_env} to the server's JWT secret first", file=sys.stderr)
        return 2
    rooms = [r for r in args.rooms.split(",") if r] if args.rooms else None
    print(issue_token(secret, args.id, args.name, Role(args.role), args.ttl, rooms, issuer=args.issuer))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List plugins: name, origin, message types, bots."""
    from .plugins import PluginHost

    config, source = _load(args.config)
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
    """Print every message type's value as JSON Schema."""
    from .http import schemas
    from .server import ChatServer

    config, source = _load(args.config)
    found = schemas(ChatServer(config, source))
    if args.type:
        if args.type not in found:
            print(f"roomchat schema: no message type {args.type!r}; known: {', '.join(found)}", file=sys.stderr)
            return 2
        found = found[args.type]
    print(json.dumps(found, indent=2, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``roomchat`` command line."""
    parser = argparse.ArgumentParser(prog="roomchat", description="A Socket.IO room chat server with typed messages.")
    sub = parser.add_subparsers(dest="command", required=True)
    config_help = f"config file (default: $ROOMCHAT_CONFIG or {default_config_path()})"

    p = sub.add_parser("serve", help="run the server")
    p.add_argument("--config", help=config_help)
    p.add_argument("--host", help="address to listen on (default: server.host)")
    p.add_argument("--port", type=int, help="port to listen on (default: server.port)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", choices=["text", "json"])
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("check", help="validate a config file and exit")
    p.add_argument("config", nargs="?", help=config_help)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("token", help="issue a signed token (JWT) for a user")
    p.add_argument("--id", type=int, required=True, help="the user's ID")
    p.add_argument("--name", required=True, help="the user's display name")
    p.add_argument("--role", choices=[r.value for r in Role], default="STUDENT")
    p.add_argument("--rooms", help="comma-separated rooms the token allows (default: any)")
    p.add_argument("--ttl", type=float, default=24 * 3600, help="seconds until it expires (default: one day)")
    p.add_argument("--secret-env", default="ROOMCHAT_JWT_SECRET", help="variable holding the secret")
    p.add_argument("--issuer", default="roomchat", help="the iss claim (auth.jwt_issuer)")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("plugins", help="list installed plugins, their types and bots")
    p.add_argument("--config", help=config_help)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("schema", help="print message types' value schemas (JSON Schema)")
    p.add_argument("type", nargs="?", help="only this type")
    p.add_argument("--config", help=config_help)
    p.set_defaults(func=cmd_schema)

    from .botrunner import add_bot_parser

    add_bot_parser(sub)  # roomchat bot run KIND --url --token --room ...
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``roomchat`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        print("Fix the file and run `roomchat check` to validate it.", file=sys.stderr)
        return 2
    except MissingPackage as exc:
        print(f"roomchat: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # anything not behind require(): still one line, not a traceback
        print(f"roomchat: {MissingPackage(f'roomchat {args.command}', exc.name or str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
