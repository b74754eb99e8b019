"""SQLite through aiosqlite, one thread hop per statement.

aiosqlite runs SQLite in a thread of its own, and SQLAlchemy's adapter asks
that thread four times per statement: open a cursor, execute, fetch the
rows, close. Each hop is a wake-up of that thread and of the event loop,
and at four statements a command they cost more than SQLite did (about
0.6 ms a statement against 0.15). This adapter does the four in one hop.
It is SQLAlchemy's own aiosqlite dialect otherwise: ``server.db.create_engine``
gives it as the DBAPI module of every ``sqlite+aiosqlite`` engine.

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

    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: Any):
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized: Any = {}
        self._rows: collections.deque[Any] = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

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
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            result = await connection._execute(_run, connection._conn, operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = result
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        # As SQLAlchemy's adapter does: the thread must not keep the process alive.
        connection._thread.daemon = True
        return OneHopConnection(self, await_(connection))


def one_hop_dbapi() -> OneHopDBAPI:
    """What ``create_async_engine(..., module=...)`` takes for a ``sqlite+aiosqlite`` URL."""
    return OneHopDBAPI(__import__("aiosqlite"), sqlite3)
