"""Engine, transactions and schema migrations."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.sql.expression import Executable

from server.sqlite_driver import BUSY_TIMEOUT_MS, DEFERRABLE, OneHopConnection, OneHopCursor, one_hop_dbapi

MIGRATIONS = Path(__file__).parent / "migrations"

E = TypeVar("E", bound=Executable)


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        module = {"module": one_hop_dbapi()} if url.startswith("sqlite+aiosqlite") else {}
        engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **module)
        _sqlite_write_lock_on_begin(engine)
        _deferrable_writes(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _sqlite_write_lock_on_begin(engine: AsyncEngine) -> None:
    # SQLite serialises commands with its writer lock: BEGIN IMMEDIATE takes it
    # at the start of the transaction, so two commands on one session never
    # interleave their read and write (the pysqlite default defers BEGIN).
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        # Reads (snapshots, replays) need no lock: in WAL mode a deferred
        # transaction reads one consistent state of the database, and a
        # thousand people joining at once do not queue on the writer lock.
        reading = connection.get_execution_options().get(READ_ONLY, False)
        begin = "BEGIN" if reading else "BEGIN IMMEDIATE"
        dbapi_connection = connection.connection.dbapi_connection
        if isinstance(dbapi_connection, OneHopConnection):
            # It goes with the transaction's first statement, without a
            # statement's machinery of its own (a command's most frequent cost).
            dbapi_connection.begin_later(begin)
        else:
            connection.exec_driver_sql(begin)


READ_ONLY = "tribune_read_only"


def _deferrable_writes(engine: AsyncEngine) -> None:
    # A statement marked with ``deferrable`` may wait for the transaction's
    # next hop to SQLite's thread (server.sqlite_driver).
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _mark(_connection: Any, cursor: Any, _statement: Any, _parameters: Any, context: Any, _many: bool) -> None:
        if isinstance(cursor, OneHopCursor) and context is not None and context.execution_options.get(DEFERRABLE):
            cursor.deferrable = True


def deferrable(statement: E) -> E:
    """``statement`` marked as a write whose result (rowcount, last row id)
    nobody reads: on SQLite it goes to the database with the next statement
    or the commit, in order, instead of on a hop of its own."""
    return statement.execution_options(**{DEFERRABLE: True})


async def write_later(
    connection: AsyncConnection, statement: Executable, parameters: dict[str, Any] | list[dict[str, Any]]
) -> None:
    """Execute ``statement``, a write marked ``deferrable``, in ``connection``'s
    transaction. On SQLite it is compiled once and waits for the next hop
    without SQLAlchemy's execution machinery: a command's few writes cost
    more there than in SQLite (server.sqlite_driver)."""
    dbapi_connection = connection.sync_connection.connection.dbapi_connection if connection.sync_connection else None
    if isinstance(dbapi_connection, OneHopConnection) and dbapi_connection.write_later(
        statement, connection.dialect, parameters
    ):
        return
    await connection.execute(statement, parameters)


async def read_now(
    connection: AsyncConnection, statement: Executable, parameters: dict[str, Any]
) -> Sequence[Sequence[Any]]:
    """The rows ``statement``, a select, reads in ``connection``'s transaction.
    On SQLite, once the transaction holds the writer lock, it is compiled once
    and read without SQLAlchemy's machinery per statement, which costs a
    command's first read more than SQLite does (server.sqlite_driver)."""
    dbapi_connection = connection.sync_connection.connection.dbapi_connection if connection.sync_connection else None
    if isinstance(dbapi_connection, OneHopConnection):
        rows = dbapi_connection.read_now(statement, connection.dialect, parameters)
        if rows is not None:
            return rows
    return (await connection.execute(statement, parameters)).all()


class Writers:
    """The connections commands write on: on SQLite, kept open between commands.

    Borrowing a connection from SQLAlchemy's pool and giving it back cost a
    command about 0.17 ms of CPU, a quarter of what the rest of it costs. A
    SQLite connection is a handle on a file: it does not go stale, so a few
    are kept here, each free one taken by the next command (others, beyond
    ``keep``, come from the pool and go back to it). Elsewhere the pool lends
    them, and checks each one it lends (a server restart drops them all)."""

    def __init__(self, engine: AsyncEngine, keep: int = 2):
        self._engine = engine
        self._keep = keep if engine.dialect.name == "sqlite" else 0
        self._free: list[AsyncConnection] = []

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction on a connection of its own, committed when the block ends."""
        connection = self._free.pop() if self._free else await self._engine.connect()
        try:
            async with connection.begin():
                yield connection
        finally:
            if len(self._free) < self._keep and not connection.invalidated and not connection.in_transaction():
                self._free.append(connection)
            else:
                await connection.close()

    async def close(self) -> None:
        """Give the kept connections back (before the engine is disposed)."""
        free, self._free, self._keep = self._free, [], 0
        for connection in free:
            await connection.close()


def sessionmaker(engine: AsyncEngine, *, read_only: bool = False) -> async_sessionmaker[AsyncSession]:
    """Transactions on ``engine``; ``read_only`` ones never write and take no lock.

    A read sees one state of the database from its first statement to its
    last, so a snapshot is exactly the state at the ``last_seq`` it read:
    SQLite's deferred transactions in WAL mode do so, PostgreSQL's at
    REPEATABLE READ (a read-only one never fails to serialize)."""
    if not read_only:
        return async_sessionmaker(engine, expire_on_commit=False)
    options: dict[str, object] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    bind = engine.execution_options(**options)
    return async_sessionmaker(bind, expire_on_commit=False)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema up to date (``tribune serve`` and every CLI command do)."""

    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)
