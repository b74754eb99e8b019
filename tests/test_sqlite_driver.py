"""The SQLite driver's hops to aiosqlite's thread (server/sqlite_driver.py):
BEGIN and the writes marked deferrable go with the next statement or the
COMMIT, in order, and a transaction still stands or falls as a whole."""

from __future__ import annotations

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.db import create_engine, deferrable

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


async def test_deferred_writes_go_with_the_next_read_which_sees_them(engine, hops):
    await rows(engine)  # the pool's connection is open
    hops.clear()
    async with engine.begin() as connection:
        await connection.execute(INSERT, {"k": 1, "v": "a"})
        await connection.execute(UPDATE, {"k": 1, "v": "b"})
        assert hops == []  # BEGIN IMMEDIATE and both writes wait
        seen = (await connection.execute(text("SELECT v FROM t WHERE k = 1"))).scalar()
        assert seen == "b" and hops == ["_run_after"]
        await connection.execute(INSERT, {"k": 2, "v": "c"})
    # The last write with the COMMIT; no ROLLBACK when the connection goes back.
    assert hops == ["_run_after", "_commit_after"]
    assert await rows(engine) == [(1, "b"), (2, "c")]


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
