"""Loading a session's floor from the database and storing what a command changed."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.delegations import Tier
from rooms.floor import Floor, FloorRules, Kind, Request, Speech, Status
from server import models


def rules_of(session: models.Session) -> FloorRules:
    return FloorRules(
        precedence=tuple(Tier(tier) for tier in session.precedence),
        time_limits={Tier(tier): limit for tier, limit in session.time_limits.items()},
        point_of_order_limit=session.point_of_order_limit,
        right_of_reply_limit=session.right_of_reply_limit,
    )


@dataclass
class StoredFloor:
    """A floor with the rows it was read from, so changes go back to the same rows."""

    floor: Floor
    request_rows: dict[int, models.SpeakingRequest] = field(default_factory=dict)
    speech_rows: dict[int, models.Speech] = field(default_factory=dict)


async def load_floor(db: AsyncSession, session: models.Session) -> StoredFloor:
    names = dict(
        (await db.execute(select(models.Delegation.id, models.Delegation.name).where(
            models.Delegation.event_id == session.event_id))).all()
    )
    rows = (
        await db.scalars(
            select(models.SpeakingRequest)
            .where(
                models.SpeakingRequest.session_id == session.id,
                models.SpeakingRequest.status.in_([Status.WAITING, Status.SPEAKING]),
            )
            .order_by(models.SpeakingRequest.position, models.SpeakingRequest.id)
        )
    ).all()
    stored = StoredFloor(Floor(rules=rules_of(session), is_closed=session.is_list_closed))
    requests = {}
    for row in rows:
        request = _request_from(row, names.get(row.delegation_id, ""))
        requests[row.id] = request
        stored.request_rows[row.id] = row
        if row.status == Status.WAITING:
            stored.floor.waiting.append(request)
    speech_row = await db.scalar(
        select(models.Speech).where(models.Speech.session_id == session.id, models.Speech.ended_at.is_(None))
    )
    if speech_row is not None and speech_row.request_id in requests:
        stored.speech_rows[speech_row.id] = speech_row
        stored.floor.current = Speech(
            request=requests[speech_row.request_id],
            started_at=speech_row.started_at,
            limit_s=speech_row.limit_s,
            language=speech_row.language,
            paused_at=speech_row.paused_at,
            paused_s=speech_row.paused_s,
            id=speech_row.id,
        )
    return stored


def _request_from(row: models.SpeakingRequest, delegation_name: str) -> Request:
    return Request(
        id=row.id,
        delegation_id=row.delegation_id,
        delegation_name=delegation_name,
        tier=Tier(row.tier),
        kind=Kind(row.kind),
        requested_at=row.requested_at,
        speaker_name=row.speaker_name,
        speaker_id=row.speaker_id,
        requester_id=row.requester_id,
        language=row.language,
        note=row.note,
        is_in_room=row.is_in_room,
        status=Status(row.status),
        removed_reason=row.removed_reason,
    )


async def save_floor(db: AsyncSession, session: models.Session, stored: StoredFloor) -> None:
    """Write back every request and speech the command touched, and the order."""
    floor = stored.floor
    session.is_list_closed = floor.is_closed
    request_rows: list[tuple[Request, models.SpeakingRequest]] = []
    for request in _unique([*floor.touched_requests, *floor.waiting]):
        row = stored.request_rows.get(request.id) if request.id is not None else None
        if row is None:
            row = models.SpeakingRequest(session_id=session.id)
            db.add(row)
        _copy_request(request, row)
        row.position = floor.waiting.index(request) + 1 if request.status == Status.WAITING else None
        request_rows.append((request, row))
    await db.flush()
    for request, row in request_rows:
        request.id = row.id

    speech_rows: list[tuple[Speech, models.Speech]] = []
    for speech in _unique(floor.touched_speeches):
        row = stored.speech_rows.get(speech.id) if speech.id is not None else None
        if row is None:
            row = models.Speech(session_id=session.id)
            db.add(row)
        row.request_id = speech.request.id
        row.started_at = speech.started_at
        row.ended_at = speech.ended_at
        row.paused_at = speech.paused_at
        row.paused_s = speech.paused_s
        row.limit_s = speech.limit_s
        row.language = speech.language
        speech_rows.append((speech, row))
    await db.flush()
    for speech, row in speech_rows:
        speech.id = row.id


def _unique(items: list) -> list:
    # The same object may be touched twice in one command; write it once.
    return list({id(item): item for item in items}.values())


def _copy_request(request: Request, row: models.SpeakingRequest) -> None:
    row.delegation_id = request.delegation_id
    row.tier = request.tier.value
    row.kind = request.kind.value
    row.status = request.status.value
    row.requested_at = request.requested_at
    row.speaker_id = request.speaker_id
    row.requester_id = request.requester_id
    row.speaker_name = request.speaker_name
    row.language = request.language
    row.note = request.note
    row.is_in_room = request.is_in_room
    row.removed_reason = request.removed_reason
