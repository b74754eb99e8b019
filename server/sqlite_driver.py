"""SQLite through aiosqlite, one thread hop per statement.

aiosqlite runs SQLite in a thread of its own, and SQLAlchemy's adapter asks
that thread four times per statement: open a cursor, execute, fetch the
rows, close. Each hop is a wake-up of that thread and of the event loop,
and at four statements a command they cost more than SQLite did (about
0.6 ms a statement against 0.15). This adapter does the four in one hop.
It is SQLAlchemy's own aiosqlite dialect otherwise: ``server.db.create_engine``
gives it as the DBAPI module of every ``sqlite+aiosqlite`` engine.

A command's transaction makes more hops than its statements need: its
``BEGIN``, the writes whose result nobody reads (the event log, the
session's head), the ``COMMIT``, and the pool's ``ROLLBACK`` when the
connection goes back. Under load each hop waits for a core (the clients of
a big room take both), so these ride along instead: ``BEGIN`` and the
statements marked ``DEFERRABLE`` wait on the connection and go, in order,
in the same hop as the next statement that returns something, or the
``COMMIT`` (an error of theirs is raised there, and the transaction fails
as a whole all the same); a ``ROLLBACK`` or ``COMMIT`` with no transaction
open in SQLite makes no hop at all. Six hops a command became two or three.

It leans on one private method of aiosqlite (``Connection._execute``, which
queues a function for its thread), the one every public method of
aiosqlite goes through; tests run every statement of Tribune through it.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

_Result = tuple[Any, int, int | None, list[Any]]
# A statement waiting for the connection's next hop: (operation, parameters, many).
_Pending = tuple[str, Any, bool]

# The execution option that lets a statement wait for the next hop: for
# writes whose rowcount and lastrowid nobody reads (``server.db`` hands it
# to the cursor). Other databases ignore it.
DEFERRABLE = "tribune_deferrable"
# What server.db begins transactions with.
_BEGIN = frozenset({"BEGIN", "BEGIN IMMEDIATE"})


def _run_pending(connection: sqlite3.Connection, pending: list[_Pending]) -> None:
    for operation, parameters, many in pending:
        _run(connection, operation, parameters, many)


def _run_after(
    connection: sqlite3.Connection, pending: list[_Pending], operation: str, parameters: Any, many: bool
) -> _Result:
    _run_pending(connection, pending)
    return _run(connection, operation, parameters, many)


def _commit_after(connection: sqlite3.Connection, pending: list[_Pending]) -> None:
    _run_pending(connection, pending)
    connection.commit()


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Result:
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters if parameters is not None else ())
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor that holds what its statement returned, fetched in the same hop."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "deferrable")

    def __init__(self, adapt_connection: Any):
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized: Any = {}
        self._rows: collections.deque[Any] = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        # Set for the next statement by ``server.db`` when it is marked DEFERRABLE.
        self.deferrable = False

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        return None

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._run(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        adapt_connection = self._adapt_connection
        assert isinstance(adapt_connection, OneHopConnection)
        if self.deferrable or operation in _BEGIN:
            # Nothing of it is read: it goes with the next hop.
            self.deferrable = False
            adapt_connection.pending.append((operation, parameters, many))
            self._description, self._rowcount, self._lastrowid = None, -1, None
            self._rows = collections.deque()
            return
        connection = self._connection
        async with adapt_connection._execute_mutex:
            pending, adapt_connection.pending = adapt_connection.pending, []
            if pending:
                result = await connection._execute(_run_after, connection._conn, pending, operation, parameters, many)
            else:
                result = await connection._execute(_run, connection._conn, operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = result
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("pending",)
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any):
        super().__init__(dbapi, connection)
        # Statements not sent yet, in order (``OneHopCursor._run``).
        self.pending: list[_Pending] = []

    def _in_transaction(self) -> bool:
        # Read from the loop's thread while the connection's own is idle
        # (SQLAlchemy waits for each call): a flag, no statement.
        return bool(self._connection._connection and self._connection._connection.in_transaction)

    def commit(self) -> None:
        pending, self.pending = self.pending, []
        if all(operation in _BEGIN for operation, _, _ in pending) and not self._in_transaction():
            return  # an empty transaction: nothing to send
        try:
            await_(self._commit(pending))
        except Exception as error:
            self._handle_exception(error)

    async def _commit(self, pending: list[_Pending]) -> None:
        connection = self._connection
        async with self._execute_mutex:
            await connection._execute(_commit_after, connection._conn, pending)

    def rollback(self) -> None:
        # What was not sent is dropped with the rest.
        self.pending = []
        if self._in_transaction():
            super().rollback()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        # As SQLAlchemy's adapter does: the thread must not keep the process alive.
        connection._thread.daemon = True
        return OneHopConnection(self, await_(connection))


def one_hop_dbapi() -> OneHopDBAPI:
    """What ``create_async_engine(..., module=...)`` takes for a ``sqlite+aiosqlite`` URL."""
    return OneHopDBAPI(__import__("aiosqlite"), sqlite3)
