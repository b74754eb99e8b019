"""The shared part of a session's snapshots, built once per state and kept a little while.

What every viewer's snapshot has in common at one ``seq`` (the event, the
session, the floor, the public questions with their votes...) is read from
the database and encoded once; each connecting socket adds only what is its
own (``server/snapshot.py``). Connects that arrive together at the same
state await the one build in progress instead of starting theirs.

An entry is keyed by the session, its ``last_seq`` and the event's
``revision`` (bumped by ``tribune load``, which changes people and titles
without a command, hence without a new seq). Entries for an older seq of a
session are dropped when a newer one is built; at most ``MAX_ENTRIES`` are
kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_ENTRIES = 64

Key = tuple[int, int, int]  # session id, last_seq, event revision


class BuildFailed(Exception):
    """The build another connect was doing failed: build again."""


class SharedCache(Generic[T]):
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._entries: dict[Key, asyncio.Future[T]] = {}
        # Observable by tests and benchmarks: builds started, and connects served by another's build.
        self.builds = 0
        self.shared = 0

    async def get(self, key: Key, build: Callable[[], Awaitable[T]]) -> T:
        """The shared part for ``key``: the one built or being built, else built here."""
        for _ in range(3):
            building = self._entries.get(key)
            if building is not None:
                self.shared += 1
                try:
                    # Shielded: a waiter that is cancelled must not cancel the build others await.
                    return await asyncio.shield(building)
                except BuildFailed:
                    continue  # whoever was building failed: try again (maybe building here)
            return await self._build(key, build)
        return await build()  # failing again and again: no sharing

    async def _build(self, key: Key, build: Callable[[], Awaitable[T]]) -> T:
        session_id, seq, _ = key
        newer = any(s == session_id and q > seq for s, q, _ in self._entries)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        if not newer:  # a connect that read an older seq is served, not cached
            for other in [k for k in self._entries if k[0] == session_id]:
                del self._entries[other]
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]  # the oldest
            self._entries[key] = future
        self.builds += 1
        try:
            value = await build()
        except BaseException:
            if self._entries.get(key) is future:
                del self._entries[key]
            future.set_exception(BuildFailed())
            future.exception()  # retrieved: no warning when nobody waited
            raise
        future.set_result(value)
        return value
