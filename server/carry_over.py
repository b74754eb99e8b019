"""What a member asked for when registering, filed once they are approved.

Seed 001: "participants may submit a question when registering, or ask to
take the floor". Both wait on the registration until the secretariat
approves it; then the server files them as the member, through the kernel
in the session they chose: the question lands on its board (pre-submitted
while the session has not started), the request to speak on its list of
speakers, in the language they chose. Each is filed once: the registration
keeps the question's and the request's ids.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rooms.actor import Actor
from rooms.commands import Command, Emitted
from rooms.errors import Refused
from rooms.floor_commands import RequestFloor
from rooms.question_commands import SubmitQuestion
from server import models
from server.auth import current_actor
from server.kernel import Kernel

log = logging.getLogger(__name__)


class CarryOver:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], reader: async_sessionmaker[AsyncSession], kernel: Kernel
    ) -> None:
        self.sessionmaker = sessionmaker
        # No transaction stays open across a command: in SQLite, a connection
        # reading while another writes could not write after it.
        self.reader = reader
        self.kernel = kernel
        self.tasks: set[asyncio.Task[None]] = set()

    def committed(self, session_id: int, emitted: list[Emitted]) -> None:
        for event in emitted:
            if event.type == "registration" and event.data.get("change") == "approved":
                registration: dict[str, Any] = event.data["registration"]
                task = asyncio.get_running_loop().create_task(self.file(registration["id"]))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def file(self, participant_id: int) -> None:
        try:
            await self._file(participant_id)
        except Exception:
            log.exception("could not file what participant %s asked for when registering", participant_id)

    async def _file(self, participant_id: int) -> None:
        async with self.reader() as db:
            registration = await db.get(models.Registration, participant_id)
            if registration is None or registration.state != "approved":
                return
            question = speak = None
            if registration.question_text and registration.question_session_id and registration.question_id is None:
                question = await _actor(db, participant_id, registration.question_session_id)
                text, language = registration.question_text, registration.question_language or "en"
            if registration.speak_session_id and registration.speaking_request_id is None:
                speak = await _actor(db, participant_id, registration.speak_session_id)
                speak_language = registration.speak_language
        if question is not None:
            command: Command = SubmitQuestion(id="registration", type="submit_question", text=text, language=language)
            if await self._run(question, command):
                await self._keep(participant_id, question_id=await self._last(models.Question, question))
        if speak is not None:
            command = RequestFloor(id="registration", type="request_floor", language=speak_language)
            if await self._run(speak, command):
                await self._keep(participant_id, speaking_request_id=await self._last(models.SpeakingRequest, speak))

    async def _run(self, actor: Actor, command: Command) -> bool:
        try:
            await self.kernel.execute(actor, command)
        except Refused as refused:
            log.warning("%s of participant %s refused: %s", command.type, actor.participant_id, refused.code)
            return False
        return True

    async def _last(self, model: type[models.Question] | type[models.SpeakingRequest], actor: Actor) -> int | None:
        author = models.Question.author_id if model is models.Question else models.SpeakingRequest.requester_id
        async with self.reader() as db:
            found: int | None = await db.scalar(
                select(model.id)
                .where(model.session_id == actor.session_id, author == actor.participant_id)
                .order_by(model.id.desc())
            )
            return found

    async def _keep(self, participant_id: int, **ids: int | None) -> None:
        # Bookkeeping only (no one sees it): that it was filed, so it is filed once.
        async with self.sessionmaker() as db, db.begin():
            await db.execute(
                update(models.Registration).where(models.Registration.participant_id == participant_id).values(**ids)
            )


async def _actor(db: AsyncSession, participant_id: int, session_id: int) -> Actor | None:
    session = await db.get(models.Session, session_id)
    return None if session is None else await current_actor(db, participant_id, session)
