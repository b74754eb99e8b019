"""The floor in the database: load what a command needs, write back what it changed.

The waiting order is one list of ids on the session row, so a command
writes the rows it touched and that list, never the whole list of speakers.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from rooms.agenda import AgendaItem, Replies
from rooms.budgets import Budgets, budget_groups
from rooms.delegations import Tier
from rooms.floor import AGENDA_COUNTS, Floor, FloorRules, Kind, Request, Speech, Status
from server import models
from server.db import deferrable, write_later
from server.state import Access, Store

_R = models.SpeakingRequest
_S = models.Speech
_COLUMNS = (
    _R.id,
    _R.delegation_id,
    _R.tier,
    _R.kind,
    _R.status,
    _R.requested_at,
    _R.speaker_id,
    _R.requester_id,
    _R.speaker_name,
    _R.language,
    _R.note,
    _R.is_in_room,
    _R.removed_reason,
    models.Delegation.name,
    _R.agenda_item_id,
    _R.limit_s,
    _R.is_override,
)


# Built once; the SET clause follows the parameters given.
# Rows this session holds: their rowcount is not read (server.db.deferrable).
_UPDATE_REQUEST = deferrable(update(_R).where(_R.id == bindparam("_id")))
_UPDATE_SPEECH = deferrable(update(_S).where(_S.id == bindparam("_id")))
# The VALUES follow the parameters given: building the statement per request
# cost a tenth of a command's CPU.
_INSERT_REQUEST = insert(_R).returning(_R.id)
_INSERT_SPEECH = insert(_S).returning(_S.id)


def rules_of(session: models.Session) -> FloorRules:
    return FloorRules(
        precedence=tuple(Tier(tier) for tier in session.precedence),
        time_limits={Tier(tier): limit for tier, limit in session.time_limits.items()},
        point_of_order_limit=session.point_of_order_limit,
        right_of_reply_limit=session.right_of_reply_limit,
    )


async def load_floor(db: AsyncSession | AsyncConnection, session: models.Session, *, waiting: bool = True) -> Floor:
    """The floor; without ``waiting``, only the speech (the list stays empty
    and must not be written back: see ``save_floor``'s ``with_order``)."""
    statuses = [Status.WAITING.value, Status.SPEAKING.value] if waiting else [Status.SPEAKING.value]
    rows = (
        await db.execute(
            select(*_COLUMNS)
            .join(models.Delegation, models.Delegation.id == _R.delegation_id)
            .where(_R.session_id == session.id, _R.status.in_(statuses))
        )
    ).all()
    requests = {row[0]: _request_from(row) for row in rows}
    floor = Floor(rules=rules_of(session), is_closed=session.is_list_closed)
    floor.waiting = [requests[request_id] for request_id in session.waiting_order if request_id in requests]
    speech_row = (
        await db.execute(
            select(_S.id, _S.request_id, _S.started_at, _S.limit_s, _S.language, _S.paused_at, _S.paused_s).where(
                _S.session_id == session.id, _S.ended_at.is_(None)
            )
        )
    ).first()
    if speech_row is not None and speech_row.request_id in requests:
        floor.current = Speech(
            request=requests[speech_row.request_id],
            started_at=speech_row.started_at,
            limit_s=speech_row.limit_s,
            language=speech_row.language,
            paused_at=speech_row.paused_at,
            paused_s=speech_row.paused_s,
            id=speech_row.id,
        )
    return floor


# Enum calls cost a microsecond each; a dict lookup, a tenth (150 rows a command).
_TIERS = {tier.value: tier for tier in Tier}
_KINDS = {kind.value: kind for kind in Kind}
_STATUSES = {status.value: status for status in Status}


def _request_from(row: Any) -> Request:
    return Request(
        id=row.id,
        delegation_id=row.delegation_id,
        delegation_name=row.name,
        tier=_TIERS[row.tier],
        kind=_KINDS[row.kind],
        requested_at=row.requested_at,
        speaker_name=row.speaker_name,
        speaker_id=row.speaker_id,
        requester_id=row.requester_id,
        language=row.language,
        note=row.note,
        is_in_room=row.is_in_room,
        status=_STATUSES[row.status],
        removed_reason=row.removed_reason,
        agenda_item_id=row.agenda_item_id,
        limit_s=row.limit_s,
        is_override=row.is_override,
    )


async def save_floor(db: AsyncConnection, session: models.Session, floor: Floor, *, with_order: bool = True) -> None:
    """Write the requests and speeches a command touched, and the order
    (unless the list was not loaded)."""
    for request in _unique(floor.touched_requests):
        values = _request_values(request)
        if request.id is None:
            request.id = await db.scalar(_INSERT_REQUEST, {"session_id": session.id, **values})
        else:
            await write_later(db, _UPDATE_REQUEST, {"_id": request.id, **values})
    for speech in _unique(floor.touched_speeches):
        values = {
            "request_id": speech.request.id,
            "started_at": speech.started_at,
            "ended_at": speech.ended_at,
            "paused_at": speech.paused_at,
            "paused_s": speech.paused_s,
            "limit_s": speech.limit_s,
            "language": speech.language,
        }
        if speech.id is None:
            speech.id = await db.scalar(_INSERT_SPEECH, {"session_id": session.id, **values})
        else:
            await write_later(db, _UPDATE_SPEECH, {"_id": speech.id, **values})
    floor.touched_requests.clear()
    floor.touched_speeches.clear()
    session.is_list_closed = floor.is_closed
    if floor.replies:
        session.current_item_id = floor.item_id
    for item_id, budgets in floor.budgets.items():
        if budgets.added:
            await db.execute(update(_A).where(_A.id == item_id).values(budget_added_s=budgets.additional_s))
            budgets.added = False
    if not with_order:
        return
    order = floor.order()
    if order != session.waiting_order:
        session.waiting_order = order


def _unique(items: list[Any]) -> list[Any]:
    # The same object may be touched twice in one command; write it once.
    return list({id(item): item for item in items}.values())


def _request_values(request: Request) -> dict[str, Any]:
    return {
        "delegation_id": request.delegation_id,
        "tier": request.tier.value,
        "kind": request.kind.value,
        "status": request.status.value,
        "requested_at": request.requested_at,
        "speaker_id": request.speaker_id,
        "requester_id": request.requester_id,
        "speaker_name": request.speaker_name,
        "language": request.language,
        "note": request.note,
        "is_in_room": request.is_in_room,
        "removed_reason": request.removed_reason,
        "agenda_item_id": request.agenda_item_id,
        "limit_s": request.limit_s,
        "is_override": request.is_override,
    }


class FloorStore(Store[Floor]):
    """The floor, kept between commands: the list of speakers and the speech."""

    kind = Floor
    session_columns = ("waiting_order", "is_list_closed", "current_item_id")

    @classmethod
    async def load(cls, tx: Access, parts: tuple[int, ...]) -> FloorStore:
        floor = await load_floor(tx.connection, tx.session)
        await load_agenda(tx.connection, tx.session, floor)
        return cls(floor)

    async def extend(self, tx: Access, parts: tuple[int, ...]) -> None:
        if AGENDA_COUNTS in parts and self.state.replies:
            await _count_replies(tx.connection, self.state)

    async def save(self, tx: Access) -> None:
        await save_floor(tx.connection, tx.session, self.state)

    def has_changes(self, tx: Access) -> bool:
        floor, session = self.state, tx.session
        return bool(
            floor.touched_requests
            or floor.touched_speeches
            or floor.is_closed != session.is_list_closed
            or floor.order() != list(session.waiting_order)
            or (bool(floor.replies) and floor.item_id != session.current_item_id)
            or any(budgets.added for budgets in floor.budgets.values())
        )


_A = models.AgendaItem
_REPLIES_MADE = (Status.WAITING.value, Status.SPEAKING.value, Status.DONE.value)


async def load_agenda(db: AsyncSession | AsyncConnection, session: models.Session, floor: Floor) -> None:
    """The items the session takes up, with the rights of reply each delegation
    has made on them in every session of the event (rooms/agenda.py)."""
    if not session.item_ids:
        return
    rows = (
        await db.execute(
            select(
                _A.id,
                _A.key,
                _A.title,
                _A.reply_limits,
                _A.hold_replies_to_day_end,
                _A.budgets,
                _A.budget_added_s,
                _A.titles,
            ).where(_A.id.in_(list(session.item_ids)))
        )
    ).all()
    for item_id, key, title, limits, hold, _, _, titles in rows:
        floor.replies[item_id] = Replies(
            AgendaItem(item_id, key, title, tuple(limits), hold, tuple(sorted((titles or {}).items())))
        )
    with_budgets = [(item_id, config, added) for item_id, _, _, _, _, config, added, _ in rows if config]
    if with_budgets:
        await _load_budgets(db, session, floor, with_budgets)
    await _count_replies(db, floor)
    held = [replies for replies in floor.replies.values() if replies.item.hold_replies_to_day_end]
    if held:
        await _hold_until_day_end(db, session, held)
    floor.item_id = session.current_item_id if session.current_item_id in floor.replies else None


async def _count_replies(db: AsyncSession | AsyncConnection, floor: Floor) -> None:
    """The rights of reply each delegation made on the session's items, in every session."""
    for replies in floor.replies.values():
        replies.used.clear()
    counts = await db.execute(
        select(_R.agenda_item_id, _R.delegation_id, func.count())
        .where(
            _R.agenda_item_id.in_(list(floor.replies)),
            _R.kind == Kind.RIGHT_OF_REPLY.value,
            _R.status.in_(_REPLIES_MADE),
            _R.is_override.is_(False),
        )
        .group_by(_R.agenda_item_id, _R.delegation_id)
    )
    for on_item, delegation_id, count in counts:
        if on_item is not None:
            floor.replies[on_item].used[delegation_id] = count


async def _load_budgets(
    db: AsyncSession | AsyncConnection,
    session: models.Session,
    floor: Floor,
    items: list[tuple[int, dict[str, Any], int]],
) -> None:
    """Each item's groups, and what their delegations spoke on it in every session (pauses excluded)."""
    _D = models.Delegation
    delegations = {
        row.id: (row.key, row.name, row.kind)
        for row in await db.execute(select(_D.id, _D.key, _D.name, _D.kind).where(_D.event_id == session.event_id))
    }
    for item_id, config, added in items:
        floor.budgets[item_id] = Budgets(budget_groups(config, delegations), additional_s=added)
    spoken = await db.execute(
        select(_R.agenda_item_id, _R.delegation_id, _S.started_at, _S.ended_at, _S.paused_s)
        .join(_S, _S.request_id == _R.id)
        .where(
            _R.agenda_item_id.in_(list(floor.budgets)),
            _R.kind != Kind.POINT_OF_ORDER.value,
            _S.ended_at.is_not(None),
        )
    )
    for on_item, delegation_id, started, ended, paused in spoken:
        if on_item is not None and ended is not None:
            floor.budgets[on_item].spoke(delegation_id, (ended - started).total_seconds() - (paused or 0.0))


async def _hold_until_day_end(db: AsyncSession | AsyncConnection, session: models.Session, held: list[Replies]) -> None:
    """Replies on these items wait for the last session of the day (the event's zone) taking them up."""
    zone_name = await db.scalar(select(models.Event.timezone).where(models.Event.id == session.event_id))
    zone = ZoneInfo(zone_name or "UTC")
    day = session.starts_at.astimezone(zone).date()
    rows = (
        await db.execute(
            select(models.Session.id, models.Session.starts_at, models.Session.item_ids).where(
                models.Session.event_id == session.event_id, models.Session.parent_id.is_(None)
            )
        )
    ).all()
    for replies in held:
        same_day = [
            (starts, session_id)
            for session_id, starts, item_ids in rows
            if replies.item.id in (item_ids or []) and starts.astimezone(zone).date() == day
        ]
        last_start, last_id = max(same_day)
        replies.held_until = None if last_id == session.id else last_start
