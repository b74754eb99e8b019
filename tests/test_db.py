"""The connections commands write on (server.db.Writers): on SQLite, kept
open between commands and lent again, clean; elsewhere, the pool's."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text

from server.db import Writers, create_engine


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def checkouts(engine) -> list[int]:
    """One entry per connection the pool lent."""
    lent: list[int] = []
    event.listen(engine.sync_engine.pool, "checkout", lambda *_: lent.append(1))
    return lent


def sqlite(engine) -> bool:
    return engine.dialect.name == "sqlite"


async def values(engine) -> list[str]:
    async with engine.connect() as connection:
        return [row.v for row in await connection.execute(text("SELECT v FROM t ORDER BY k"))]


async def test_commands_one_after_another_write_on_one_kept_connection(engine, checkouts):
    writers = Writers(engine)
    for k in range(5):
        async with writers.begin() as connection:
            await connection.execute(text("INSERT INTO t (k, v) VALUES (:k, 'x')"), {"k": k})
    assert await values(engine) == ["x"] * 5
    # SQLite: lent once, kept since; PostgreSQL: lent (and checked) for each command.
    assert len(checkouts) == (1 if sqlite(engine) else 5) + 1  # + the read above
    await writers.close()
    assert engine.sync_engine.pool.checkedout() == 0


async def test_commands_at_once_write_on_connections_of_their_own(engine):
    writers = Writers(engine, keep=2)
    both_in = asyncio.Barrier(3)

    async def command(k: int) -> int:
        async with writers.begin() as connection:
            await both_in.wait()
            return id(connection)

    one, other, third = await asyncio.gather(command(1), command(2), command(3))
    assert len({one, other, third}) == 3
    assert engine.sync_engine.pool.checkedout() == (2 if sqlite(engine) else 0)  # at most ``keep`` are kept
    await writers.close()
    assert engine.sync_engine.pool.checkedout() == 0


async def test_a_command_that_fails_leaves_nothing_and_its_kept_connection_clean(engine):
    writers = Writers(engine)
    with pytest.raises(RuntimeError):
        async with writers.begin() as connection:
            await connection.execute(text("INSERT INTO t (k, v) VALUES (1, 'refused')"))
            raise RuntimeError("refused")
    async with writers.begin() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar() == 0
        await connection.execute(text("INSERT INTO t (k, v) VALUES (2, 'kept')"))
    assert await values(engine) == ["kept"]
    await writers.close()


async def test_a_connection_that_broke_is_closed_not_lent_again(engine):
    writers = Writers(engine)
    async with writers.begin() as connection:
        first = connection
    with pytest.raises(RuntimeError):
        async with writers.begin() as connection:
            assert connection is first or not sqlite(engine)
            await connection.invalidate()  # as SQLAlchemy does when the database drops it
            raise RuntimeError("the database went away")
    async with writers.begin() as connection:
        assert connection is not first
        await connection.execute(text("INSERT INTO t (k, v) VALUES (1, 'after')"))
    assert await values(engine) == ["after"]
    await writers.close()
    assert engine.sync_engine.pool.checkedout() == 0
