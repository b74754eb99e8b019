"""SQLite through aiosqlite, with as few thread hops as a command needs: none.

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

Hops are gone altogether for a command's own transaction (``BEGIN
IMMEDIATE``): once it holds SQLite's writer lock, nothing it sends can wait
for another connection (in WAL mode readers never block a writer), so its
statements and its COMMIT run on the event loop itself, with no thread to
wake. Taking the lock is the one step that may wait: it is tried on the loop
without waiting, and when another connection (or process) holds the lock,
the transaction's first hop goes to the thread as before and waits there,
the loop free meanwhile. The COMMIT's wait for the disk (0.2-1 ms) holds
the loop: in the thread it came back later still, as the thread waits for
the GIL while the loop writes a big room's event. Read-only transactions
(snapshots, replays, the big reads) stay on the thread.

What is left of a command's cost is SQLAlchemy's machinery per statement,
greater than SQLite's own work: the writes nobody reads skip it
(``write_later``: compiled once per statement and set of parameters, the
values stored as their types say, then held back as above), and so does the
read that opens every command (``read_now``: compiled once, run on the loop
once the writer lock is held, each column loaded as its type says).

It leans on one private method of aiosqlite (``Connection._execute``, which
queues a function for its thread), the one every public method of
aiosqlite goes through; tests run every statement of Tribune through it.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Generator
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
# What server.db begins transactions with: a write transaction takes the writer lock.
_BEGIN_WRITE = "BEGIN IMMEDIATE"
_BEGIN = frozenset({"BEGIN", _BEGIN_WRITE})
# How long a connection waits for SQLite's writer lock, in the thread.
BUSY_TIMEOUT_MS = 30_000
_BUSY = 5  # SQLITE_BUSY, the primary result code of a lock held elsewhere


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


def _try_begin_write(connection: sqlite3.Connection) -> bool:
    """Take the writer lock at once, or say it is held elsewhere (never wait)."""
    connection.execute("PRAGMA busy_timeout=0")
    try:
        connection.execute(_BEGIN_WRITE)
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorcode", _BUSY) & 0xFF == _BUSY:
            return False
        raise
    finally:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return True


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


# Per (statement, dialect, parameter names): the SQL; in the order of its
# placeholders, each parameter's name and how its type stores it, or the
# value stored for a literal of the statement itself (``where(id == 3)``);
# and for a select, how each column it reads is loaded.
_Placeholder = tuple[str, Callable[[Any], Any] | None] | tuple[None, Any]
_Prepared = tuple[str, tuple[_Placeholder, ...], tuple[Callable[[Any], Any] | None, ...]]
_PREPARED: dict[tuple[Any, Any, frozenset[str]], _Prepared | None] = {}


# Statements are built once, at import: more than this many means some are
# built per call, and the cache would only grow.
_MAX_PREPARED = 1000


def _prepared(statement: Any, dialect: Any, names: frozenset[str]) -> _Prepared | None:
    key = (statement, dialect, names)
    if key not in _PREPARED:
        if len(_PREPARED) >= _MAX_PREPARED:
            _PREPARED.clear()
        _PREPARED[key] = _prepare(statement, dialect, names)
    return _PREPARED[key]


def _prepare(statement: Any, dialect: Any, names: frozenset[str]) -> _Prepared | None:
    compiled = statement.compile(dialect=dialect, column_keys=sorted(names))
    binds = compiled.binds
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or not compiled.positiontup
        or any(bind.expanding or bind.literal_execute or bind.callable for bind in binds.values())
    ):
        return None  # defaults to compute, lists to expand: SQLAlchemy's own path does it
    placeholders: list[_Placeholder] = []
    for name in compiled.positiontup:
        process = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if name in names:
            placeholders.append((name, process))
        else:
            value = binds[name].value
            placeholders.append((None, process(value) if process else value))
    # How each column read is turned into its Python value (a select's only).
    columns = getattr(statement, "selected_columns", ()) if statement.is_select else ()
    results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
    return compiled.string, tuple(placeholders), results


def _values(placeholders: tuple[_Placeholder, ...], row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        stored if name is None else stored(row[name]) if stored else row[name] for name, stored in placeholders
    )


class _Done:
    """An awaitable that is already done: SQLAlchemy's async execution
    insists that a statement awaits something, and a statement run on the
    loop needs to await nothing else."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


_DONE = _Done()


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
            if self._run_now(operation, parameters, many=False):
                await_(_DONE)
            else:
                await_(self._run_in_thread(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            if self._run_now(operation, seq_of_parameters, many=True):
                await_(_DONE)
            else:
                await_(self._run_in_thread(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def _run_now(self, operation: Any, parameters: Any, many: bool) -> bool:
        """Do what needs no waiting, without leaving the caller's greenlet
        (each trip out to the loop and back costs more than a statement):
        hold a statement back, or run it on the loop. False: it must go to
        the thread."""
        adapt_connection = self._adapt_connection
        assert isinstance(adapt_connection, OneHopConnection)
        if self.deferrable or operation in _BEGIN:
            # Nothing of it is read: it goes with the next hop.
            self.deferrable = False
            if operation in _BEGIN:
                adapt_connection.writing = operation == _BEGIN_WRITE
            adapt_connection.pending.append((operation, parameters, many))
            self._took((None, -1, None, []))
            return True
        if adapt_connection._execute_mutex.locked():
            return False
        pending, adapt_connection.pending = adapt_connection.pending, []
        result = adapt_connection.run_on_loop(pending, operation, parameters, many)
        if result is None:
            adapt_connection.pending = pending
            return False
        self._took(result)
        return True

    async def _run_in_thread(self, operation: Any, parameters: Any, many: bool) -> None:
        adapt_connection = self._adapt_connection
        assert isinstance(adapt_connection, OneHopConnection)
        connection = self._connection
        async with adapt_connection._execute_mutex:
            pending, adapt_connection.pending = adapt_connection.pending, []
            self._took(await connection._execute(_run_after, connection._conn, pending, operation, parameters, many))

    def _took(self, result: _Result) -> None:
        self._description, self._rowcount, self._lastrowid, rows = result
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("pending", "writing")
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any):
        super().__init__(dbapi, connection)
        # Statements not sent yet, in order (``OneHopCursor._run``).
        self.pending: list[_Pending] = []
        # The open transaction was begun IMMEDIATE: it holds the writer lock.
        self.writing = False

    def write_later(self, statement: Any, dialect: Any, parameters: dict[str, Any] | list[dict[str, Any]]) -> bool:
        """Hold back a write whose result nobody reads, compiled once, without
        SQLAlchemy's machinery per statement. False: it needs that machinery
        (a default to compute, rows that differ in their parameters)."""
        rows = parameters if isinstance(parameters, list) else [parameters]
        if not rows:
            return True
        if any(row.keys() != rows[0].keys() for row in rows[1:]):
            return False
        prepared = _prepared(statement, dialect, frozenset(rows[0]))
        if prepared is None:
            return False
        sql, placeholders, _ = prepared
        values = [_values(placeholders, row) for row in rows]
        if len(values) == 1:
            self.pending.append((sql, values[0], False))
        else:
            self.pending.append((sql, values, True))
        return True

    def read_now(self, statement: Any, dialect: Any, parameters: dict[str, Any]) -> list[tuple[Any, ...]] | None:
        """The rows of a select, compiled once and read on the loop without
        SQLAlchemy's machinery per statement, when this connection holds the
        writer lock (or takes it at once). None: SQLAlchemy's own path reads
        it (a lock to wait for, a statement it must compile each time)."""
        if self._execute_mutex.locked():
            return None
        prepared = _prepared(statement, dialect, frozenset(parameters))
        if prepared is None:
            return None
        sql, placeholders, results = prepared
        pending, self.pending = self.pending, []
        result = self.run_on_loop(pending, sql, _values(placeholders, parameters), False)
        if result is None:
            self.pending = pending
            return None
        rows = result[3]
        if any(results):
            return [tuple(load(value) if load else value for load, value in zip(results, row)) for row in rows]
        return rows

    def begin_later(self, begin: str) -> None:
        """``BEGIN`` or ``BEGIN IMMEDIATE``, sent with the next statement or the COMMIT."""
        self.pending.append((begin, None, False))
        self.writing = begin == _BEGIN_WRITE

    def _in_transaction(self) -> bool:
        # Read from the loop's thread while the connection's own is idle
        # (SQLAlchemy waits for each call): a flag, no statement.
        return bool(self._connection._connection and self._connection._connection.in_transaction)

    def _holds_writer_lock(self) -> bool:
        # Only a transaction begun IMMEDIATE is open on it: server.db begins
        # every transaction explicitly, and read-only ones stay deferred.
        connection = self._connection._connection
        return connection is not None and connection.in_transaction and self.writing

    def run_on_loop(self, pending: list[_Pending], operation: str, parameters: Any, many: bool) -> _Result | None:
        """Run in the loop's thread what cannot wait for a lock; None: it may, the thread runs it."""
        connection = self._connection._connection
        if connection is None:
            return None
        if pending and pending[0][0] == _BEGIN_WRITE and not connection.in_transaction:
            if not _try_begin_write(connection):
                return None  # another writer: wait for it in the thread, the loop free
            return _run_after(connection, pending[1:], operation, parameters, many)
        if self._holds_writer_lock():
            return _run_after(connection, pending, operation, parameters, many)
        return None

    def commit(self) -> None:
        pending, self.pending = self.pending, []
        if all(operation in _BEGIN for operation, _, _ in pending) and not self._in_transaction():
            self.writing = False
            return  # an empty transaction: nothing to send
        try:
            if self._holds_writer_lock():
                _commit_after(self._connection._conn, pending)
            else:
                await_(self._commit(pending))
        except Exception as error:
            self._handle_exception(error)
        finally:
            self.writing = False

    async def _commit(self, pending: list[_Pending]) -> None:
        connection = self._connection
        async with self._execute_mutex:
            await connection._execute(_commit_after, connection._conn, pending)

    def rollback(self) -> None:
        # What was not sent is dropped with the rest.
        self.pending = []
        self.writing = False
        if self._in_transaction():
            super().rollback()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        # Its own thread opens it; the loop's thread runs the writes (``run_on_loop``),
        # never at the same time: SQLAlchemy waits for each call on a connection.
        kw["check_same_thread"] = False
        kw.setdefault("timeout", BUSY_TIMEOUT_MS / 1000)
        connection = self.aiosqlite.connect(*arg, **kw)
        # As SQLAlchemy's adapter does: the thread must not keep the process alive.
        connection._thread.daemon = True
        return OneHopConnection(self, await_(connection))


def one_hop_dbapi() -> OneHopDBAPI:
    """What ``create_async_engine(..., module=...)`` takes for a ``sqlite+aiosqlite`` URL."""
    return OneHopDBAPI(__import__("aiosqlite"), sqlite3)
