"""High-rate events told in batches: a vote is recorded (and its voter told) at
once, while the counts everyone sees go out at most every so often per
session, in one event (``rooms.commands.Coalesced``).

After each commit the kernel hands over what the command recorded; for each
event a domain declared coalesced, the key it names waits here, and the
first one starts a timer. When it fires, the domain's command runs through
the kernel like any other (the server's own, ``execute_for_server``), under
the session lock, so the counts it reads are the database's and its event
takes its place in the log: live delivery, replay and snapshots agree.

What waits is in this process's memory: if the process dies before the
timer fires, those counts reach listeners with the next vote on the same
question or their next snapshot; every vote itself is already stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from rooms.commands import Command, Emitted, Registry
from rooms.errors import Refused

log = logging.getLogger(__name__)

RunForServer = Callable[[int, Command], Awaitable[object]]


class Coalescer:
    def __init__(self, registry: Registry, run: RunForServer, every_seconds: float) -> None:
        self.registry = registry
        self.run = run
        self.every_seconds = every_seconds
        # (session id, command name) -> keys waiting to be told.
        self.waiting: dict[tuple[int, str], set[int]] = {}
        self._timers: dict[tuple[int, str], asyncio.TimerHandle] = {}
        self._running: set[asyncio.Task[None]] = set()

    def committed(self, session_id: int, emitted: list[Emitted]) -> None:
        for event in emitted:
            rule = self.registry.coalesced.get(event.type)
            if rule is None:
                continue
            key = event.data.get(rule.key)
            if not isinstance(key, int):
                continue
            slot = (session_id, rule.command)
            self.waiting.setdefault(slot, set()).add(key)
            if slot not in self._timers:
                self._timers[slot] = asyncio.get_running_loop().call_later(self.every_seconds, self._due, slot)

    def _due(self, slot: tuple[int, str]) -> None:
        self._timers.pop(slot, None)
        task = asyncio.get_running_loop().create_task(self._tell(slot))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _tell(self, slot: tuple[int, str]) -> None:
        keys = self.waiting.pop(slot, set())
        if not keys:
            return
        session_id, name = slot
        command = self.registry[name].schema.model_validate({"id": "coalesced", "type": name, "ids": sorted(keys)})
        try:
            await self.run(session_id, command)
        except Refused as refused:
            log.warning("%s for session %s refused: %s", name, session_id, refused.message)
        except Exception:
            log.exception("%s for session %s failed", name, session_id)

    async def drain(self) -> None:
        """Tell what waits now (the server is stopping)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await asyncio.gather(*self._running, return_exceptions=True)
        for slot in list(self.waiting):
            await self._tell(slot)
