"""Opening the database: SQLAlchemy's asyncio engine, the schema migrated, errors made ``StorageUnavailable``.

SQLite (the default) runs in WAL mode with ``synchronous=NORMAL``: a commit is
in the file once it returns, so a killed process loses nothing committed (a
power cut may lose the last commits; docs/storage.md). This process uses one
SQLite connection, so its writes never wait on each other, and every write
transaction starts with ``BEGIN IMMEDIATE``, so one in another process (the
``roomchat`` commands) waits its turn (``busy_timeout``) instead of failing.

PostgreSQL (several servers) goes through asyncpg with a small pool whose
connections are checked before use, so a restarted database is reconnected to.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..logs import event
from .config import sqlite_file
from .errors import StorageError, StorageUnavailable

log = logging.getLogger("roomchat.storage")

VERSION_TABLE = "roomchat_schema_version"
MIGRATIONS = Path(__file__).parent / "migrations"
CONNECT_TIMEOUT = 5.0  # seconds to reach PostgreSQL, or to wait for another process's SQLite write lock
MIGRATION_LOCK = 0x726F6F6D  # "room": the PostgreSQL advisory lock servers starting together take to migrate

_FULL = ("database or disk is full", "disk full", "no space left", "could not extend file")


def shown_url(url: str | URL) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def unavailable(exc: BaseException, url: str) -> StorageUnavailable:
    """The ``StorageUnavailable`` for a driver's or the network's error."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    full = any(marker in detail.lower() for marker in _FULL)
    what = "is full" if full else "cannot be used"
    return StorageUnavailable(f"the database {url} {what}: {detail}", full=full)


class Database:
    """An open database: the engine, its dialect, and transactions whose errors are ``StorageUnavailable``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name  # "sqlite" or "postgresql"
        self.url = shown_url(engine.url)

    @asynccontextmanager
    async def transaction(self, readonly: bool = False) -> AsyncIterator[AsyncConnection]:
        """One transaction, committed when the block ends without an exception.

        Any failure of the database or of the way to it is raised as
        ``StorageUnavailable``; a bug in a statement as ``StorageError``.
        """
        try:
            async with self.engine.connect() as conn:
                if readonly:
                    await conn.execution_options(roomchat_readonly=True)
                async with conn.begin():
                    yield conn
        except (DBAPIError, OSError, TimeoutError, ConnectionError) as exc:
            raise unavailable(exc, self.url) from exc
        except SQLAlchemyError as exc:  # not the database's state: a statement we got wrong
            raise StorageError(f"the database {self.url} refused a statement: {exc}") from exc

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT, which knows ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as postgresql_insert

            return postgresql_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def greatest(self, *values: Any) -> Any:
        """The largest of several SQL values (``max(a, b)`` in SQLite, ``greatest`` in PostgreSQL)."""
        return func.greatest(*values) if self.dialect == "postgresql" else func.max(*values)

    async def revision(self) -> str | None:
        """The schema revision the database is at (None: never migrated)."""
        def current(sync_conn: Connection) -> str | None:
            from alembic.migration import MigrationContext

            return MigrationContext.configure(sync_conn, opts={"version_table": VERSION_TABLE}).get_current_revision()

        async with self.transaction(readonly=True) as conn:
            return await conn.run_sync(current)

    async def upgrade(self, target: str = "head") -> tuple[str | None, str | None]:
        """Run the migrations up to ``target``; (revision before, revision after).

        Servers starting together on one PostgreSQL take turns (an advisory lock
        held by the migration's transaction); on SQLite the write lock does that.
        """
        async with self.transaction() as conn:
            if self.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            return await conn.run_sync(_upgrade, target)

    async def open(self, migrate: bool = True) -> None:
        """Make an SQLite file's folder, reach the database, and with ``migrate`` bring its schema up to date.

        Raises ``StorageUnavailable`` when the database cannot be reached (or
        its folder made), ``StorageError`` when its schema is newer than this
        roomchat knows.
        """
        file = sqlite_file(str(self.engine.url))
        if file is not None:
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageUnavailable(f"the database {self.url} cannot be used: cannot make its folder "
                                         f"{file.parent}: {exc.strerror or exc}") from exc
        if not migrate:
            await self.revision()  # reach it, at least
            return
        before, after = await self.upgrade()
        if before != after:
            event(log, "storage_migrated", url=self.url, before=before, after=after)

    async def close(self) -> None:
        """Close every connection."""
        await self.engine.dispose()


def _upgrade(sync_conn: Connection, target: str) -> tuple[str | None, str | None]:
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from alembic.migration import MigrationContext

    def revision() -> str | None:
        return MigrationContext.configure(sync_conn, opts={"version_table": VERSION_TABLE}).get_current_revision()

    from alembic.util import CommandError

    before = revision()
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = sync_conn
    try:
        command.upgrade(config, target)
    except CommandError as exc:  # a revision this roomchat does not know: a newer one migrated the database
        raise StorageError(f"cannot migrate the database from revision {before} to {target}: {exc} "
                           "(was it migrated by a newer roomchat?)") from None
    return before, revision()


def head_revision() -> str:
    """The newest revision this roomchat knows."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def create_engine(url: str) -> AsyncEngine:
    """The asyncio engine for a driver URL (``roomchat.storage.config.driver_url``); it connects on first use."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60,
                                     connect_args={"timeout": CONNECT_TIMEOUT})
        _sqlite_settings(engine)
        return engine
    return create_async_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True, pool_timeout=CONNECT_TIMEOUT,
                               connect_args={"timeout": CONNECT_TIMEOUT, "command_timeout": 30})


def _sqlite_settings(engine: AsyncEngine) -> None:
    @sa_event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # roomchat says BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={int(CONNECT_TIMEOUT * 1000)}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa_event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get("roomchat_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def database(url: str) -> Database:
    """The database of a driver URL, not connected yet (``Database.open`` connects): what a server builds first."""
    return Database(create_engine(url))


async def open_database(url: str, migrate: bool = True) -> Database:
    """Connect to a driver URL and, with ``migrate``, bring the schema up to date.

    Raises ``StorageUnavailable`` when the database cannot be reached, and
    ``StorageError`` when its schema is newer than this roomchat knows.
    """
    db = database(url)
    try:
        await db.open(migrate)
        return db
    except BaseException:
        await db.close()
        raise
