"""The data owners' commands: ``roomchat db upgrade``, ``roomchat db status``, ``roomchat export``, ``roomchat purge``.

Each reads ``storage.url`` from the config (``--config FILE``, else
``$ROOMCHAT_CONFIG`` or ``config/roomchat.yaml``, else the defaults); a
relative SQLite path is relative to the config file's folder. With no
``storage.url``, ``--data DIR`` or ``$ROOMCHAT_DATA_DIR`` says where the
default database is, as for ``roomchat serve``. They work while
servers run on the same database (docs/storage.md, "Commands").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from .errors import CommandError


def _storage(args: argparse.Namespace) -> tuple[str, str]:
    """(the driver URL, the config source) the command line names.

    ``args.load_config`` is the command line's config loader (cli.py's, handed
    to ``add_storage_parsers``): the same file rules as every command.
    """
    from .storage.config import driver_url

    config, source = args.load_config(args, required=False)
    base = Path(source).parent if Path(source).is_file() else None
    return driver_url(config.storage.url, base), source


def _run(work: Callable[[Any], Awaitable[int]], url: str, migrate: bool = True) -> int:
    """Open the database, run ``work(db)``, close it; a database that cannot be used is a one-line error."""
    from .storage.database import open_database
    from .storage.errors import StorageError

    async def main() -> int:
        db = await open_database(url, migrate=migrate)
        try:
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except StorageError as exc:
        raise CommandError(exc.reason) from None


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Bring the database's schema up to date (servers do it at start-up too)."""
    from .storage.database import shown_url

    url, _ = _storage(args)

    async def work(db: Any) -> int:
        before, after = await db.upgrade()
        if before == after:
            print(f"{shown_url(url)}: already at revision {after}")
        else:
            print(f"{shown_url(url)}: migrated from {before or 'an empty database'} to revision {after}")
        return 0

    return _run(work, url, migrate=False)


def cmd_db_status(args: argparse.Namespace) -> int:
    """Print the database's schema revision and this roomchat's; exit 1 when they differ."""
    from .storage.database import head_revision, shown_url

    url, _ = _storage(args)

    async def work(db: Any) -> int:
        current, head = await db.revision(), head_revision()
        state = "up to date" if current == head else "needs `roomchat db upgrade`"
        print(f"{shown_url(url)}: revision {current or '(none)'}; this roomchat's is {head}: {state}")
        return 0 if current == head else 1

    return _run(work, url, migrate=False)


def cmd_export(args: argparse.Namespace) -> int:
    """Write every kept message of a room as JSON Lines, oldest first."""
    from .storage.history import export_line
    from .storage.store import HistoryStore

    url, _ = _storage(args)
    out: TextIO = Path(args.out).open("w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115

    async def work(db: Any) -> int:
        count = 0
        async for record in HistoryStore(db).export(args.room):
            out.write(json.dumps(export_line(record), ensure_ascii=False) + "\n")
            count += 1
        print(f"roomchat export: {count} messages of room {args.room!r}", file=sys.stderr)
        return 0

    try:
        return _run(work, url)
    finally:
        if args.out:
            out.close()


def cmd_purge(args: argparse.Namespace) -> int:
    """Delete a user's messages from history (sent, and direct ones received); they are never replayed."""
    from .storage.ids import wall_clock_us
    from .storage.store import HistoryStore

    if args.user <= 0:
        raise CommandError(f"--user must be a user's ID, a positive integer (got {args.user})")
    url, _ = _storage(args)

    async def work(db: Any) -> int:
        count = await HistoryStore(db).purge(args.user, wall_clock_us())
        print(f"roomchat purge: {count} messages of user {args.user} deleted; the servers never replay them")
        return 0

    return _run(work, url)


def add_storage_parsers(sub: Any, add_config: Callable[..., None], load_config: Callable[..., Any],
                        add_data: Callable[..., None]) -> None:
    """Add ``db upgrade``, ``db status``, ``export`` and ``purge`` to the CLI's sub-commands.

    ``add_config`` adds the ``--config`` option and ``add_data`` the ``--data DIR`` one (as
    ``roomchat serve``'s); ``load_config(args, required=False)`` returns (Config, source) for a
    parsed command line.
    """
    db = sub.add_parser("db", help="the database: migrate it, show its schema revision",
                        description="The database of storage.url (docs/storage.md).")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND",
                               help="what to do; `roomchat db COMMAND --help` tells more")
    p = db_sub.add_parser("upgrade", help="migrate the database's schema to this roomchat's",
                          description="Run the schema's migrations on storage.url (servers run them at start-up "
                                      "too). Safe while servers run, and to run twice.")
    add_config(p, positional=False)
    add_data(p)
    p.set_defaults(func=cmd_db_upgrade, load_config=load_config)
    p = db_sub.add_parser("status", help="print the schema's revision; exit 1 when it needs an upgrade",
                          description="Print the database's schema revision and this roomchat's.")
    add_config(p, positional=False)
    add_data(p)
    p.set_defaults(func=cmd_db_status, load_config=load_config)

    p = sub.add_parser("export", help="write a room's history as JSON Lines",
                       description="Write every kept message of a room, oldest first, one JSON object a line: "
                                   "room, id, from, to (null for a broadcast), type, value, time (ms).")
    p.add_argument("--room", required=True, help="the room")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    add_config(p, positional=False)
    add_data(p)
    p.set_defaults(func=cmd_export, load_config=load_config)

    p = sub.add_parser("purge", help="delete a user's messages from history for good",
                       description="Delete every message a user sent, and every direct message to the user, "
                                   "from every room's history; running servers never replay them.")
    p.add_argument("--user", type=int, required=True, metavar="ID", help="the user's ID")
    add_config(p, positional=False)
    add_data(p)
    p.set_defaults(func=cmd_purge, load_config=load_config)
