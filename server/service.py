"""The one mutation path: authorise, apply the domain rule, persist, publish.

Every change to a session goes through ``FloorService.execute``. Commands on
one session are serialised by the database (row lock on the session in
PostgreSQL, the writer lock taken at BEGIN in SQLite), so several server
processes can run the same meeting. The event is written to the session's
log in the same transaction as the change, and published on the bus only
after the commit: the bus is the fast path, the log is the truth.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from interpretation.languages import is_known
from rooms.delegations import Tier
from rooms.errors import Refused
from rooms.floor import Change, Floor, Request
from rooms.roles import may
from server import models, protocol
from server.auth import Actor
from server.bus import Bus
from server.floor_store import load_floor, save_floor
from server.models import utcnow
from server.views import floor_view, iso, request_view, speech_view


class FloorService:
    def __init__(self, sessionmaker: async_sessionmaker, bus: Bus, clock: Callable[[], datetime] = utcnow):
        self.sessionmaker = sessionmaker
        self.bus = bus
        self.clock = clock

    async def execute(self, actor: Actor, command) -> int:
        """Apply one command for ``actor``; return the seq of the event it made.

        Raises ``Refused`` (nothing changed) when a rule or a permission says no.
        """
        if not may(actor.roles, command.type):
            raise Refused("forbidden", f"Your role in this session does not allow '{command.type}'.")
        _check_languages(command)
        async with self.sessionmaker() as db, db.begin():
            session = await db.scalar(
                select(models.Session).where(models.Session.id == actor.session_id).with_for_update()
            )
            if session is None:
                raise Refused("not_found", "This session no longer exists.")
            stored = await load_floor(db, session)
            now = self.clock()
            change = await _apply(db, stored.floor, command, actor, now)
            await save_floor(db, session, stored)
            session.last_seq += 1
            seq = session.last_seq
            payload = json.dumps(
                {
                    "type": change.type,
                    "seq": seq,
                    "at": iso(now),
                    "actor": {"id": actor.participant_id, "name": actor.name},
                    "data": _change_data(change, stored.floor, now),
                    "floor": floor_view(stored.floor, now),
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
            db.add(
                models.SessionEvent(
                    session_id=session.id,
                    seq=seq,
                    type=change.type,
                    audience="all",
                    actor_id=actor.participant_id,
                    created_at=now,
                    payload=payload,
                )
            )
        await self.bus.publish(actor.session_id, seq, "all", payload)
        return seq


def _check_languages(command) -> None:
    language = getattr(command, "language", None)
    if language is not None and not is_known(language):
        raise Refused("invalid", f"Unknown language code {language!r}.")


async def _apply(db, floor: Floor, command, actor: Actor, now: datetime) -> Change:
    match command:
        case protocol.RequestFloor():
            if actor.delegation_id is None:
                raise Refused("no_delegation", "Only a member of a delegation can ask for the floor.")
            for_self = command.on_behalf == "self"
            return floor.request(
                Request(
                    delegation_id=actor.delegation_id,
                    delegation_name=actor.delegation_name or "",
                    tier=actor.tier,
                    kind=command.kind,
                    requested_at=now,
                    speaker_name=actor.name if for_self else actor.delegation_name,
                    speaker_id=actor.participant_id if for_self else None,
                    requester_id=actor.participant_id,
                    language=command.language,
                    note=command.note,
                )
            )
        case protocol.AddSpeaker():
            delegation = await db.get(models.Delegation, command.delegation_id)
            if delegation is None or delegation.event_id != actor.event_id:
                raise Refused("not_found", f"No delegation {command.delegation_id} in this event.")
            return floor.request(
                Request(
                    delegation_id=delegation.id,
                    delegation_name=delegation.name,
                    tier=Tier(delegation.kind),
                    kind=command.kind,
                    requested_at=now,
                    speaker_name=command.speaker_name,
                    language=command.language,
                    note=command.note,
                    is_in_room=True,
                )
            )
        case protocol.Withdraw():
            return floor.withdraw(command.request_id, actor.participant_id, actor.delegation_id)
        case protocol.DeclareLanguage():
            return floor.declare_language(
                command.language,
                actor.participant_id,
                actor.delegation_id,
                runs_floor=actor.runs_floor,
                request_id=command.request_id,
            )
        case protocol.GiveFloor():
            return floor.give_floor(now, command.request_id)
        case protocol.EndSpeech():
            return floor.end_speech(now)
        case protocol.PauseSpeech():
            return floor.pause(now)
        case protocol.ResumeSpeech():
            return floor.resume(now)
        case protocol.MoveRequest():
            return floor.move(command.request_id, command.position)
        case protocol.Reorder():
            return floor.reorder(list(command.request_ids))
        case protocol.RemoveRequest():
            return floor.remove(command.request_id, command.reason)
        case protocol.CloseList():
            return floor.close()
        case protocol.ReopenList():
            return floor.reopen()
    raise Refused("unknown_type", f"'{command.type}' changes nothing on the floor.")


def _change_data(change: Change, floor: Floor, now: datetime) -> dict:
    data = dict(change.data)
    if change.request is not None:
        data["request"] = request_view(change.request, floor)
    if change.speech is not None:
        data["speech"] = speech_view(change.speech, now)
    if change.ended is not None:
        data["ended"] = speech_view(change.ended, now)
        data["ended"]["duration_s"] = data["ended"]["elapsed_s"]
    return data
