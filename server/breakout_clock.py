"""What the server does for breakout groups on its own: end them when their
time is up (whichever process sees it first; the others are refused, as
nothing is meeting any more), and once they ended, tell each group's pages
to go back to the plenary (``close_breakout``, run in each group)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rooms.breakout_commands import CloseBreakout, EndBreakouts
from rooms.commands import Emitted
from rooms.errors import Refused
from server import models
from server.kernel import Kernel

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0


class BreakoutClock:
    def __init__(self, reader: async_sessionmaker[AsyncSession], kernel: Kernel) -> None:
        self.reader = reader
        self.kernel = kernel
        self.tasks: set[asyncio.Task[None]] = set()

    def committed(self, session_id: int, emitted: list[Emitted]) -> None:
        for event in emitted:
            if event.type == "breakouts_ended":
                group_ids = [group["id"] for group in event.data["groups"]]
                task = asyncio.get_running_loop().create_task(self._close(session_id, group_ids))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _close(self, plenary_id: int, group_ids: list[int]) -> None:
        for group_id in group_ids:
            try:
                await self.kernel.execute_for_server(
                    group_id, CloseBreakout(id="closed", type="close_breakout", plenary_id=plenary_id)
                )
            except Exception:
                log.exception("could not send group %s back to the plenary", group_id)

    async def end_due(self) -> None:
        now = self.kernel.clock()
        async with self.reader() as db:
            due = list(
                await db.scalars(
                    select(models.Session.id).where(
                        models.Session.breakout_ends_at.is_not(None), models.Session.breakout_ends_at <= now
                    )
                )
            )
        for plenary_id in due:
            try:
                await self.kernel.execute_for_server(plenary_id, EndBreakouts(id="time", type="end_breakouts"))
            except Refused:
                pass  # another process ended them first

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                await self.end_due()
            except Exception:
                log.exception("could not end the breakout groups whose time is up")

    async def drain(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
