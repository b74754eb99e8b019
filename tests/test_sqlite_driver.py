"""The SQLite driver's hops to aiosqlite's thread (server/sqlite_driver.py):
a write transaction runs on the loop once it holds the writer lock, and
waits in the thread when another connection holds it; reads go to the
thread; BEGIN and the writes marked deferrable go with the next statement
or the COMMIT, in order, and a transaction still stands or falls as a whole."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiosqlite
import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from server.db import create_engine, deferrable, read_now, sessionmaker, write_later
from server.models import UTCDateTime, utcnow

INSERT = deferrable(text("INSERT INTO t (k, v) VALUES (:k, :v)"))
UPDATE = deferrable(text("UPDATE t SET v = :v WHERE k = :k"))


@pytest.fixture
async def engine(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/driver.db")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def hops(monkeypatch):
    """The functions sent to SQLite's thread, by name, in order."""
    sent: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


async def rows(engine) -> list[tuple]:
    async with engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(text("SELECT k, v FROM t ORDER BY k"))]


async def test_a_write_transaction_runs_on_the_loop_and_its_deferred_writes_go_with_the_next_read(engine, hops):
    await rows(engine)  # the pool's connection is open
    hops.clear()
    async with engine.begin() as connection:
        await connection.execute(INSERT, {"k": 1, "v": "a"})
        await connection.execute(UPDATE, {"k": 1, "v": "b"})
        seen = (await connection.execute(text("SELECT v FROM t WHERE k = 1"))).scalar()
        assert seen == "b"  # the read saw the writes held back before it
        await connection.execute(INSERT, {"k": 2, "v": "c"})
    # BEGIN IMMEDIATE took the writer lock at once: no statement and no COMMIT went to the thread.
    assert hops == []
    assert await rows(engine) == [(1, "b"), (2, "c")]


async def test_a_read_only_transaction_reads_in_the_thread(engine, hops):
    async with engine.begin() as connection:
        await connection.execute(INSERT, {"k": 1, "v": "a"})
    hops.clear()
    async with sessionmaker(engine, read_only=True)() as db:
        assert (await db.execute(text("SELECT v FROM t WHERE k = 1"))).scalar() == "a"
    assert hops[:1] == ["_run_after"]  # then the pool's ROLLBACK ends the read


async def test_a_transaction_waits_for_the_writer_lock_in_the_thread_and_the_loop_runs_meanwhile(engine, hops):
    await rows(engine)
    first = await engine.connect()
    await first.begin()
    await first.execute(text("INSERT INTO t (k, v) VALUES (1, 'first')"))  # holds the writer lock
    hops.clear()

    async def second() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (k, v) VALUES (2, 'second')"))

    waiting = asyncio.create_task(second())
    ticks = 0
    for _ in range(10):  # the loop is free while the second waits for the lock
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 10 and not waiting.done()
    # Its BEGIN IMMEDIATE and statement went to the thread to wait (after opening a second connection).
    assert hops[-1] == "_run_after"
    await first.commit()
    await first.close()
    await asyncio.wait_for(waiting, 5)
    assert await rows(engine) == [(1, "first"), (2, "second")]


async def test_a_deferred_write_that_fails_fails_the_whole_transaction_at_commit(engine):
    async with engine.begin() as connection:
        await connection.execute(INSERT, {"k": 1, "v": "a"})
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(INSERT, {"k": 2, "v": "b"})
            await connection.execute(INSERT, {"k": 1, "v": "again"})  # the same key: refused at COMMIT
    assert await rows(engine) == [(1, "a")]
    # The connection is usable afterwards: no transaction was left open.
    async with engine.begin() as connection:
        await connection.execute(INSERT, {"k": 3, "v": "c"})
    assert await rows(engine) == [(1, "a"), (3, "c")]


async def test_what_was_not_sent_is_dropped_on_rollback(engine, hops):
    await rows(engine)
    hops.clear()
    with pytest.raises(RuntimeError):
        async with engine.begin() as connection:
            await connection.execute(INSERT, {"k": 1, "v": "a"})
            raise RuntimeError("refused")
    assert hops == []  # nothing reached SQLite: no transaction to roll back
    async with engine.connect() as connection:
        await connection.begin()
        await connection.execute(text("SELECT 1"))  # the transaction is open in SQLite
        await connection.execute(INSERT, {"k": 2, "v": "b"})
        await connection.rollback()
    assert await rows(engine) == []


async def test_an_empty_transaction_makes_no_hop(engine, hops):
    await rows(engine)
    hops.clear()
    async with engine.begin():
        pass
    assert hops == []


METADATA = MetaData()
TYPED = Table(
    "typed",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(40)),
    Column("at", UTCDateTime),
    Column("when", UTCDateTime, default=utcnow),
    Column("order", JSON),
    Column("flag", Boolean),
)


async def test_writes_held_back_without_sqlalchemys_machinery_are_stored_as_sqlalchemy_stores_them(engine, hops):
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
    at = datetime(2026, 12, 5, 21, 30, 15, 123456, tzinfo=UTC)
    row = {"name": "Côte d'Ivoire", "at": at, "when": at, "order": [3, 1, 2], "flag": True}
    async with engine.begin() as connection:
        await connection.execute(insert(TYPED), {"id": 1, **row})  # SQLAlchemy's own path
        await write_later(connection, deferrable(insert(TYPED)), [{"id": 2, **row}, {"id": 3, **row}])
        # No value for "when": its Python default is filled in by SQLAlchemy's path.
        await write_later(
            connection, deferrable(insert(TYPED)), {"id": 4, "name": None, "at": None, "order": None, "flag": False}
        )
        changed = deferrable(update(TYPED).where(TYPED.c.id == 3))
        await write_later(connection, changed, {"order": {"b": [1]}, "flag": False})
    async with engine.connect() as connection:
        stored = {r.id: r._asdict() for r in await connection.execute(select(TYPED))}
    assert stored[2] == {**stored[1], "id": 2}
    assert stored[1]["at"] == at and stored[1]["order"] == [3, 1, 2] and stored[1]["flag"] is True
    assert stored[3]["order"] == {"b": [1]} and stored[3]["flag"] is False and stored[3]["at"] == at
    assert stored[4]["when"] is not None and stored[4]["name"] is None and stored[4]["order"] is None


async def test_a_read_on_the_loop_returns_what_sqlalchemys_path_returns(engine, hops):
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
    at = datetime(2026, 12, 6, 9, 15, 0, 654321, tzinfo=UTC)
    async with engine.begin() as connection:
        await connection.execute(insert(TYPED), {"id": 1, "name": "Perú", "at": at, "order": [2, 1], "flag": True})
        await connection.execute(insert(TYPED), {"id": 2, "name": "Mali", "at": None, "order": None, "flag": False})
    wanted = select(TYPED.c.id, TYPED.c.name, TYPED.c.at, TYPED.c.order, TYPED.c.flag).where(
        TYPED.c.id <= bindparam("up_to"), TYPED.c.name != "nobody"
    )
    async with engine.connect() as connection:
        expected = [tuple(row) for row in await connection.execute(wanted.order_by(TYPED.c.id), {"up_to": 2})]
    hops.clear()
    through_sqlalchemy: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: through_sqlalchemy.append(args[2]))
    async with engine.begin() as connection:
        await write_later(connection, deferrable(update(TYPED).where(TYPED.c.id == 2)), {"name": "Mali"})
        read = await read_now(connection, wanted.order_by(TYPED.c.id), {"up_to": 2})
        none = await read_now(connection, wanted, {"up_to": 0})
    assert hops == []  # read on the loop, with the BEGIN and the write held back before it
    assert through_sqlalchemy == []  # compiled once, not executed by SQLAlchemy
    assert read == expected
    assert read[0][2] == at and read[0][3] == [2, 1] and read[0][4] is True and read[1][2] is None
    assert none == []


async def test_a_read_that_must_wait_for_the_writer_lock_goes_by_sqlalchemys_path(engine, hops):
    await rows(engine)
    first = await engine.connect()
    await first.begin()
    await first.execute(text("INSERT INTO t (k, v) VALUES (1, 'first')"))  # holds the writer lock
    table = Table("t", MetaData(), Column("k", Integer, primary_key=True), Column("v", String))

    async def second() -> list:
        async with engine.begin() as connection:
            return list(await read_now(connection, select(table.c.v).where(table.c.k == bindparam("k")), {"k": 1}))

    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.05)
    assert not waiting.done() and hops[-1] == "_run_after"  # it waits in the thread, the loop free
    await first.commit()
    await first.close()
    assert [tuple(row) for row in await asyncio.wait_for(waiting, 5)] == [("first",)]
