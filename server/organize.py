"""The organizer's console (``/organize``): the event, its programme and
delegations, invitations, registrations, the outbox and the lists.

Who may use it: a participant with the organizer role for the whole event
(their join link's cookie). Registration decisions are commands through the
kernel in the event's secretariat session (rooms/registration_commands.py),
so every organizer's console follows them live; editing the event itself
writes the same rows ``tribune load`` writes and moves the event's revision,
as a load does.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from rooms.actor import Actor
from rooms.agenda import MAX_REPLIES, MAX_REPLY_SECONDS, MIN_REPLY_SECONDS
from rooms.budgets import MAX_BUDGET_SECONDS
from rooms.commands import Command
from rooms.committees import CommitteeRole, Membership
from rooms.delegations import DEFAULT_PRECEDENCE, Tier
from rooms.errors import Refused
from rooms.floor import DEFAULT_TIME_LIMITS
from rooms.registration import Figures, Gender, State
from rooms.registration_commands import (
    EMAIL,
    ApproveRegistration,
    DecideSponsorship,
    InviteDelegation,
    NominateMember,
    RejectRegistration,
    SendLink,
    WithdrawRegistration,
)
from rooms.roles import Role
from server import models, tokens
from server.attendance import connected_now
from server.auth import COOKIE, actor_in, participant_by_token
from server.committee_roles import committee_of, derive_committee_roles
from server.csv_import import MAX_CSV_BYTES, CsvImportError, import_csv
from server.event_export import EventExportError, export_event
from server.forms import FormRefused, checked_form, first_problem, page, text
from server.i18n import PAGE_LANGUAGES, choose_language, format_moment, language_label
from server.keys import base_key
from server.localized import pick
from server.mail import enqueue
from server.mail_links import marker, resolve
from server.models import utcnow
from server.participant_list import (
    attendance_csv,
    attendance_rows,
    attendance_xlsx,
    participant_rows,
    participants_csv,
    participants_xlsx,
)
from server.revocation import revoke_in
from server.secretariat import desk_id, desk_of

KINDS = [tier.value for tier in DEFAULT_PRECEDENCE]
SESSION_KINDS = ["opening", "meeting", "panel", "closing", "break", "lunch", "reception", "visit"]


class NotOrganizer(Exception):
    pass


async def _organizer(request: Request) -> tuple[models.Participant, models.Session, Actor]:
    """The signed-in organizer, their event's desk, and them as its actor."""
    tribune = request.app.state.tribune
    async with tribune.reader() as db:
        participant = await participant_by_token(db, request.cookies.get(COOKIE))
    if participant is None or not any(r.role == Role.ORGANIZER and r.session_id is None for r in participant.roles):
        raise NotOrganizer()
    desk_session_id = await desk_id(tribune.reader, tribune.sessionmaker, participant.event_id)
    async with tribune.reader() as db:
        desk = await db.get(models.Session, desk_session_id)
    assert desk is not None
    actor = actor_in(participant, desk)
    if actor is None:
        raise NotOrganizer()
    return participant, desk, actor


def _forbidden(request: Request) -> Response:
    return page(request, "organize_forbidden.html", {}, status_code=403)


async def console(
    request: Request, refusal: Refused | None = None, status: int = 200, imported: Imported | None = None
) -> Response:
    try:
        participant, desk, _ = await _organizer(request)
    except NotOrganizer:
        return _forbidden(request)
    language = choose_language(request)
    tribune = request.app.state.tribune
    async with tribune.reader() as db:
        context = await _console_context(db, participant.event_id, language, tribune.settings)
    context |= {"refusal": refusal, "imported": imported, "desk_session_id": desk.id, "me": {"name": participant.name}}
    return page(request, "organize.html", context, status_code=status)


async def _console_context(db: AsyncSession, event_id: int, language: str, settings: Any) -> dict[str, Any]:
    event = await db.get(models.Event, event_id)
    assert event is not None
    zone = ZoneInfo(event.timezone)
    delegations = (await db.scalars(select(models.Delegation).where(models.Delegation.event_id == event_id))).all()
    order = {kind: index for index, kind in enumerate(KINDS)}
    delegations = sorted(delegations, key=lambda d: (order.get(d.kind, 99), d.name.casefold()))
    rows = (
        await db.execute(
            select(models.Participant, models.Registration)
            .join(models.Registration, models.Registration.participant_id == models.Participant.id)
            .where(models.Registration.event_id == event_id)
            .order_by(models.Participant.delegation_id, models.Participant.id)
        )
    ).all()
    by_delegation: dict[int | None, list[dict[str, Any]]] = {}
    for person, registration in rows:
        by_delegation.setdefault(person.delegation_id, []).append(_registration_view(person, registration))
    notes = (
        await db.execute(
            select(
                models.NoteVerbale.id,
                models.NoteVerbale.delegation_id,
                models.NoteVerbale.reference,
                models.NoteVerbale.dated,
                models.NoteVerbale.file_name,
            )
            .join(models.Delegation, models.Delegation.id == models.NoteVerbale.delegation_id)
            .where(models.Delegation.event_id == event_id)
            .order_by(models.NoteVerbale.id)
        )
    ).all()
    notes_of: dict[int, list[dict[str, Any]]] = {}
    for note_id, delegation_id, reference, dated, file_name in notes:
        notes_of.setdefault(delegation_id, []).append(
            {"id": note_id, "reference": reference, "dated": dated.isoformat(), "file_name": file_name}
        )
    people = (
        await db.scalars(
            select(models.Participant)
            .where(models.Participant.event_id == event_id)
            .options(selectinload(models.Participant.roles), selectinload(models.Participant.delegation))
            .order_by(models.Participant.name)
        )
    ).all()
    registered = {person.id: registration.state for person, registration in rows}
    sessions = (
        await db.scalars(
            select(models.Session)
            .where(models.Session.event_id == event_id, models.Session.kind != "secretariat")
            .order_by(models.Session.starts_at, models.Session.id)
        )
    ).all()
    agenda = (
        await db.scalars(
            select(models.AgendaItem)
            .where(models.AgendaItem.event_id == event_id)
            .order_by(models.AgendaItem.position, models.AgendaItem.id)
        )
    ).all()
    committees = (
        await db.scalars(
            select(models.Committee)
            .where(models.Committee.event_id == event_id)
            .options(selectinload(models.Committee.memberships))
            .order_by(models.Committee.id)
        )
    ).all()
    online = await connected_now(db, [s.id for s in sessions], utcnow())
    names = {p.id: p.name for p in people}
    topics_of: dict[int, list[str]] = {}
    for topic in await db.scalars(
        select(models.QuestionTopic)
        .where(models.QuestionTopic.session_id.in_([s.id for s in sessions]))
        .order_by(models.QuestionTopic.position)
    ):
        topics_of.setdefault(topic.session_id, []).append(pick(topic.texts, language).text)
    outbox = (
        await db.scalars(
            select(models.OutboxMessage)
            .where(models.OutboxMessage.event_id == event_id)
            .order_by(models.OutboxMessage.id.desc())
            .limit(50)
        )
    ).all()
    outbox_count = await db.scalar(
        select(func.count()).select_from(models.OutboxMessage).where(models.OutboxMessage.event_id == event_id)
    )
    base_url = settings.base_url
    messages = [
        {
            "id": m.id,
            "kind": m.kind,
            "recipient": m.recipient,
            "language": m.language,
            "subject": m.subject,
            "body": await resolve(db, m.body, settings.secret, base_url),
            "sent": m.sent_at is not None,
            "attempts": m.attempts,
            "error": m.last_error,
        }
        for m in outbox
    ]
    placed = [r for people in by_delegation.values() for r in people if r["holds_place"]]
    figures = Figures(
        delegations=len({r["delegation_id"] for r in placed if r["delegation_id"] is not None}),
        members=len(placed),
        approved=sum(1 for r in placed if r["state"] == State.APPROVED),
        pending=sum(1 for r in placed if r["state"] == State.PENDING),
        women=sum(1 for r in placed if r["gender"] == Gender.WOMAN),
        with_disabilities=sum(1 for r in placed if r["needs"] or r["needs_note"]),
        sponsored=sum(1 for r in placed if r["sponsorship"] in ("requested", "approved", "accepted")),
    )
    return {
        "event": {
            "slug": event.slug,
            "title": pick(event.titles or {"": event.title}, language).text or event.title,
            "titles": event.titles or {"en": event.title},
            "timezone": event.timezone,
            "venue": event.venue or "",
            "max_members": event.max_delegation_members,
            "languages": event.languages or [],
            "nominations_close": _local_input(event.nominations_close_at, zone),
            "sponsored_close": _local_input(event.sponsored_nominations_close_at, zone),
            "nominations_close_text": format_moment(event.nominations_close_at, event.timezone, language),
            "sponsored_close_text": format_moment(event.sponsored_nominations_close_at, event.timezone, language),
        },
        "figures": figures,
        "delegations": [
            {
                "id": d.id,
                "key": d.key,
                "name": d.name,
                "kind": d.kind,
                "limit": d.member_limit or event.max_delegation_members,
                "own_limit": d.member_limit,
                "invitation": d.invitation,
                "focal": {"name": d.focal_name, "email": d.focal_email, "language": d.focal_language}
                if d.focal_name
                else None,
                "members": by_delegation.get(d.id, []),
                "notes": notes_of.get(d.id, []),
            }
            for d in delegations
        ],
        "unattached": by_delegation.get(None, []),
        "sessions": [
            {
                "id": s.id,
                "key": s.key,
                "title": pick(s.titles or {"": s.title}, language).text or s.title,
                "kind": s.kind,
                "room": s.room or "",
                "starts": s.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "ends": s.ends_at.astimezone(zone).strftime("%H:%M"),
                "date": s.starts_at.astimezone(zone).strftime("%Y-%m-%d"),
                "start_time": s.starts_at.astimezone(zone).strftime("%H:%M"),
                "limits": s.time_limits or {},
                "point_of_order": s.point_of_order_limit,
                "right_of_reply": s.right_of_reply_limit,
                "moderated": s.questions_moderated,
                "topics": topics_of.get(s.id, []),
                "online": sorted(names.get(pid, "?") for pid in online.get(s.id, ())),
                "item_ids": list(s.item_ids or []),
            }
            for s in sessions
        ],
        "people": [
            {
                "id": p.id,
                "key": p.key,
                "name": p.name,
                "delegation": p.delegation.name if p.delegation else None,
                "roles": sorted({r.role for r in p.roles}),
                "email": p.email,
                "registration": registered.get(p.id),
            }
            for p in people
        ],
        "outbox": messages,
        "outbox_count": outbox_count or 0,
        "mail_languages": [language_label(code, language) for code in PAGE_LANGUAGES],
        "kinds": KINDS,
        "roles": ROLES,
        "committees": [
            {
                "key": c.key,
                "name": pick(c.names or {"": c.name}, language).text or c.name,
                "terms": [
                    {
                        "state": m.organisation_name,
                        "role": m.role,
                        "start": m.start_date.isoformat(),
                        "end": m.end_date.isoformat(),
                    }
                    for m in c.memberships
                ],
            }
            for c in committees
        ],
        "agenda": [
            {
                "id": item.id,
                "key": item.key,
                "title": pick(item.titles or {"": item.title}, language).text or item.title,
                "reply_limits": ", ".join(str(limit) for limit in item.reply_limits),
                "hold": item.hold_replies_to_day_end,
                "budget_minutes": round((item.budgets or {}).get("per_delegation", 0) / 60, 2) or "",
            }
            for item in agenda
        ],
        "offered_languages": [language_label(code, language) for code in OFFERED],
        "event_languages": [language_label(code, language) for code in event.languages or []],
        "session_kinds": SESSION_KINDS,
    }


def _registration_view(person: models.Participant, registration: models.Registration) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "title": person.title,
        "email": person.email,
        "delegation_id": person.delegation_id,
        "state": registration.state,
        "holds_place": registration.state not in (State.REJECTED, State.WITHDRAWN),
        "sponsorship": registration.sponsorship,
        "reject_reason": registration.reject_reason,
        "gender": registration.gender,
        "needs": registration.accessibility,
        "needs_note": registration.accessibility_note,
        "languages": registration.languages,
        "question": registration.question_text,
        "speaks": registration.speak_session_id is not None,
    }


def _local_input(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


# --- registration decisions: commands through the kernel ---------------------------------


async def _decide(request: Request, build: Callable[[Any, Any], Command]) -> Response:
    try:
        _, _, actor = await _organizer(request)
    except NotOrganizer:
        return _forbidden(request)
    try:
        form = await checked_form(request)
        await request.app.state.tribune.kernel.execute(actor, build(request, form))
    except FormRefused as refused:
        return await console(request, Refused(refused.code, refused.code), refused.status)
    except ValidationError as error:
        return await console(request, Refused("invalid", first_problem(error)), 400)
    except Refused as refused:
        return await console(request, refused, 409)
    return RedirectResponse(f"/organize#{text(form, 'back') or 'registrations'}", status_code=303)


def _participant_id(request: Request) -> int:
    return int(request.path_params["participant_id"])


async def decide(request: Request) -> Response:
    action = request.path_params["action"]
    builders: dict[str, Callable[[Any, Any], Command]] = {
        "approve": lambda r, f: ApproveRegistration(
            id="a", type="approve_registration", participant_id=_participant_id(r)
        ),
        "reject": lambda r, f: RejectRegistration(
            id="r", type="reject_registration", participant_id=_participant_id(r), reason=text(f, "reason")
        ),
        "withdraw": lambda r, f: WithdrawRegistration(
            id="w", type="withdraw_registration", participant_id=_participant_id(r)
        ),
        "sponsor-yes": lambda r, f: DecideSponsorship(
            id="s", type="decide_sponsorship", participant_id=_participant_id(r), approve=True
        ),
        "sponsor-no": lambda r, f: DecideSponsorship(
            id="s", type="decide_sponsorship", participant_id=_participant_id(r), approve=False
        ),
        "send-link": lambda r, f: SendLink(id="l", type="send_link", participant_id=_participant_id(r)),
    }
    build = builders.get(action)
    if build is None:
        return page(request, "404.html", {}, status_code=404)
    return await _decide(request, build)


async def invite(request: Request) -> Response:
    return await _decide(
        request,
        lambda r, f: InviteDelegation.model_validate(
            {
                "id": "i",
                "type": "invite_delegation",
                "delegation_id": int(text(f, "delegation_id") or 0),
                "focal_name": text(f, "focal_name"),
                "focal_email": text(f, "focal_email"),
                "focal_language": text(f, "focal_language") or "en",
            }
        ),
    )


async def nominate(request: Request) -> Response:
    return await _decide(
        request,
        lambda r, f: NominateMember.model_validate(
            {
                "id": "n",
                "type": "nominate_member",
                "delegation_id": int(text(f, "delegation_id") or 0),
                "name": text(f, "name"),
                "title": text(f, "title"),
                "email": text(f, "email"),
                "language": text(f, "language") or "en",
                "sponsorship": f.get("sponsorship") == "yes",
            }
        ),
    )


# --- the event, its programme and delegations: the rows the event file writes ----------


async def _edit(
    request: Request,
    change: Callable[[AsyncSession, models.Event, Any], Awaitable[None]],
    *,
    moves_revision: bool = True,
) -> Response:
    try:
        participant, _, _ = await _organizer(request)
    except NotOrganizer:
        return _forbidden(request)
    try:
        form = await checked_form(request)
        async with request.app.state.tribune.sessionmaker() as db, db.begin():
            event = await db.get(models.Event, participant.event_id, with_for_update=True)
            assert event is not None
            await change(db, event, form)
            if moves_revision:
                # As a load does: what processes hold of the event is read again.
                event.revision += 1
    except FormRefused as refused:
        return await console(request, Refused(refused.code, refused.code), refused.status)
    except (ValueError, ValidationError) as error:
        return await console(request, Refused("invalid", str(error).splitlines()[0][:300]), 400)
    except Refused as refused:
        return await console(request, refused, 409)
    if request.app.state.tribune.mailer is not None:
        request.app.state.tribune.mailer.wake()
    return RedirectResponse(f"/organize#{text(form, 'back') or 'event'}", status_code=303)


def _key(value: str) -> str:
    if not value or len(value) > 100 or not all(c.isalnum() or c in "-_." for c in value) or not value[0].isalnum():
        raise ValueError(f"key: {value[:40]!r} is not a valid key (letters, digits, '-', '_' or '.')")
    return value


def _local(value: str, zone: ZoneInfo, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        raise ValueError(f"{field}: {value[:40]!r} is not a date and time") from None


def _bounded_int(value: str, field: str, low: int, high: int) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{field}: a whole number from {low} to {high}")
    return int(value)


def _required(value: str, field: str, most: int = 300) -> str:
    if not value or len(value) > most:
        raise ValueError(f"{field}: required, at most {most} characters")
    return value


async def edit_event(request: Request) -> Response:
    async def change(db: AsyncSession, event: models.Event, form: Any) -> None:
        zone = ZoneInfo(event.timezone)
        title = _required(text(form, "title"), "title")
        language = choose_language(request)
        event.titles = {**(event.titles or {}), language: title}
        event.title = event.titles.get("en") or title
        event.venue = text(form, "venue")[:300] or None
        languages = [code for code in form.getlist("languages") if code in OFFERED]
        if form.get("languages_shown") and not languages:
            raise ValueError("languages: at least one")
        if languages:
            event.languages = languages
        event.max_delegation_members = _bounded_int(text(form, "max_members"), "max_members", 1, 1000) or 3
        event.nominations_close_at = _local(text(form, "nominations_close"), zone, "nominations_close")
        event.sponsored_nominations_close_at = _local(text(form, "sponsored_close"), zone, "sponsored_close")

    return await _edit(request, change)


async def add_session(request: Request) -> Response:
    async def change(db: AsyncSession, event: models.Event, form: Any) -> None:
        zone = ZoneInfo(event.timezone)
        key = _key(text(form, "key"))
        if await db.scalar(
            select(models.Session.id).where(models.Session.event_id == event.id, models.Session.key == key)
        ):
            raise ValueError(f"key: a session {key!r} exists already")
        day = text(form, "date")
        starts = _local(f"{day}T{text(form, 'starts')}", zone, "starts")
        ends = _local(f"{day}T{text(form, 'ends')}", zone, "ends")
        if starts is None or ends is None or ends <= starts:
            raise ValueError("ends: a session ends after it starts")
        kind = text(form, "kind") or "meeting"
        if kind not in SESSION_KINDS:
            raise ValueError("kind: unknown kind of session")
        title = _required(text(form, "title"), "title")
        db.add(
            models.Session(
                event_id=event.id,
                key=key,
                title=title,
                titles={choose_language(request): title},
                descriptions={},
                kind=kind,
                room=text(form, "room")[:200] or None,
                starts_at=starts,
                ends_at=ends,
                is_hybrid=True,
                precedence=list(KINDS),
                time_limits={tier.value: limit for tier, limit in DEFAULT_TIME_LIMITS.items()},
                point_of_order_limit=60,
                right_of_reply_limit=120,
                last_seq=0,
                is_list_closed=False,
                waiting_order=[],
            )
        )

    return await _edit(request, change)


async def add_delegation(request: Request) -> Response:
    async def change(db: AsyncSession, event: models.Event, form: Any) -> None:
        key = _key(text(form, "key"))
        kind = text(form, "kind")
        Tier(kind)  # a ValueError for an unknown kind
        # A key the event has already changes that delegation, as loading the event file would.
        row = await db.scalar(
            select(models.Delegation).where(models.Delegation.event_id == event.id, models.Delegation.key == key)
        )
        if row is None:
            row = models.Delegation(event_id=event.id, key=key)
            db.add(row)
        row.name = _required(text(form, "name"), "name", 200)
        row.kind = kind
        row.member_limit = _bounded_int(text(form, "member_limit"), "member_limit", 1, 1000)

    return await _edit(request, change)


ROLES = [role.value for role in Role]
# The languages an event may offer: the pages' four and International Sign.
OFFERED = [*PAGE_LANGUAGES, "ils"]


async def add_person(request: Request) -> Response:
    """Someone the event file would list: a chair, an interpreter (with their
    booth and the languages they work from), a delegate, the room's screen."""
    secret = request.app.state.tribune.settings.secret

    async def change(db: AsyncSession, event: models.Event, form: Any) -> None:
        name = _required(text(form, "name"), "name", 200)
        key = _key(text(form, "key") or base_key(name, "participant"))
        if await db.scalar(
            select(models.Participant.id).where(models.Participant.event_id == event.id, models.Participant.key == key)
        ):
            raise ValueError(f"key: a person {key!r} exists already")
        roles = [role for role in form.getlist("roles") if role in ROLES] or [Role.PARTICIPANT.value]
        delegation_id = _bounded_int(text(form, "delegation_id"), "delegation_id", 1, 2**31 - 1)
        if delegation_id is not None:
            delegation = await db.get(models.Delegation, delegation_id)
            if delegation is None or delegation.event_id != event.id:
                raise ValueError("delegation_id: no such delegation")
        email = text(form, "email")
        if email and not EMAIL.match(email):
            raise ValueError("email: not an e-mail address")
        language = text(form, "language") or None
        if language is not None and language not in PAGE_LANGUAGES:
            raise ValueError("language: one of ar, en, es, fr")
        booth = text(form, "booth") or None
        if Role.INTERPRETER.value in roles and booth not in (event.languages or []):
            raise ValueError("booth: an interpreter works into one of the event's languages")
        person = models.Participant(
            event_id=event.id,
            key=key,
            name=name,
            title=text(form, "title")[:200] or None,
            delegation_id=delegation_id,
            email=email or None,
            language=language,
            token_version=1,
            token_hash=tokens.token_hash(tokens.join_token(secret, event.slug, key, 1)),
            roles=[models.ParticipantRole(role=role) for role in roles],
        )
        db.add(person)
        await db.flush()
        if Role.INTERPRETER.value in roles and booth:
            works_from = [
                code for code in form.getlist("works_from") if code in (event.languages or []) and code != booth
            ]
            db.add(
                models.LanguageAssignment(
                    event_id=event.id,
                    participant_id=person.id,
                    role="interpreter",
                    language=booth,
                    works_from=works_from,
                )
            )

    return await _edit(request, change)


async def edit_agenda_item(request: Request) -> Response:
    """An agenda item, added or changed by its key: its title in the page's
    language, its rights of reply (seconds by order) and its budget per delegation."""

    async def change(db: AsyncSession, event: models.Event, form: Any) -> None:
        key = _key(text(form, "key"))
        title = _required(text(form, "title"), "title")
        limits = [part.strip() for part in text(form, "reply_limits").split(",") if part.strip()]
        if len(limits) > MAX_REPLIES or not all(
            part.isdigit() and MIN_REPLY_SECONDS <= int(part) <= MAX_REPLY_SECONDS for part in limits
        ):
            raise ValueError(
                f"reply_limits: up to {MAX_REPLIES} numbers of seconds from {MIN_REPLY_SECONDS} to {MAX_REPLY_SECONDS}"
            )
        minutes = text(form, "budget_minutes")
        budget = None
        if minutes:
            try:
                budget = round(float(minutes) * 60)
            except ValueError:
                budget = 0
            if not 1 <= budget <= MAX_BUDGET_SECONDS:
                raise ValueError("budget_minutes: from 1 second to 24 hours")
        row = await db.scalar(
            select(models.AgendaItem).where(models.AgendaItem.event_id == event.id, models.AgendaItem.key == key)
        )
        if row is None:
            count = await db.scalar(
                select(func.count()).select_from(models.AgendaItem).where(models.AgendaItem.event_id == event.id)
            )
            row = models.AgendaItem(event_id=event.id, key=key, titles={}, position=count or 0, budgets={})
            db.add(row)
        row.titles = {**(row.titles or {}), choose_language(request): title}
        row.title = row.titles.get("en") or title
        row.reply_limits = [int(part) for part in limits]
        row.hold_replies_to_day_end = form.get("hold") == "yes"
        budgets = dict(row.budgets or {})
        if budget is None:
            budgets.pop("per_delegation", None)
        else:
            budgets["per_delegation"] = budget
        row.budgets = budgets

    return await _edit(request, change)


async def add_membership(request: Request) -> Response:
    """A committee (made on first use of its key) and one State's term in it,
    checked against its other terms (two chairs on one date are refused); the
    committee's meetings then take their roles from it (server/committee_roles.py)."""

    async def change(db: AsyncSession, event: models.Event, form: Any) -> None:
        key = _key(text(form, "committee_key"))
        committee = await db.scalar(
            select(models.Committee)
            .where(models.Committee.event_id == event.id, models.Committee.key == key)
            .options(selectinload(models.Committee.memberships))
        )
        if committee is None:
            name = _required(text(form, "committee_name"), "committee_name")
            committee = models.Committee(event_id=event.id, key=key, name=name, names={}, memberships=[])
            db.add(committee)
        delegation = await db.get(
            models.Delegation, _bounded_int(text(form, "delegation_id"), "delegation_id", 1, 2**31 - 1) or 0
        )
        if delegation is None or delegation.event_id != event.id:
            raise ValueError("delegation_id: no such delegation")
        try:
            role = CommitteeRole(text(form, "role"))
            start, end = date.fromisoformat(text(form, "start")), date.fromisoformat(text(form, "end"))
        except ValueError:
            raise ValueError("role, start, end: a role and two dates") from None
        term = Membership(delegation.key, delegation.name, role, start, end)
        existing = committee_of(committee, list(committee.memberships))
        existing.add(term)  # Refused: two chairs on one date, overlapping terms, an end before the start
        committee.memberships.append(
            models.CommitteeMembership(
                position=len(committee.memberships),
                organisation_key=delegation.key,
                organisation_name=delegation.name,
                names={},
                role=role.value,
                start_date=start,
                end_date=end,
            )
        )
        await db.flush()
        await derive_committee_roles(db, event)

    return await _edit(request, change)


async def edit_session(request: Request) -> Response:
    """A session's floor rules and moderation, and a guiding question added."""

    async def change(db: AsyncSession, event: models.Event, form: Any) -> None:
        session = await db.get(models.Session, request.path_params["session_id"])
        if session is None or session.event_id != event.id or session.kind == "secretariat":
            raise Refused("not_found", "No such session in this event.")
        zone = ZoneInfo(event.timezone)
        title = _required(text(form, "title"), "title")
        session.titles = {**(session.titles or {}), choose_language(request): title}
        session.title = session.titles.get("en") or title
        kind = text(form, "kind") or session.kind
        if kind not in SESSION_KINDS and kind != session.kind:
            raise ValueError("kind: unknown kind of session")
        session.kind = kind
        session.room = text(form, "room")[:200] or None
        day = text(form, "date")
        starts = _local(f"{day}T{text(form, 'starts')}", zone, "starts")
        ends = _local(f"{day}T{text(form, 'ends')}", zone, "ends")
        if starts is None or ends is None or ends <= starts:
            raise ValueError("ends: a session ends after it starts")
        session.starts_at, session.ends_at = starts, ends
        session.time_limits = {
            kind: _bounded_int(text(form, f"limit_{kind}"), f"limit_{kind}", 10, 3600) for kind in KINDS
        }
        session.point_of_order_limit = _bounded_int(text(form, "point_of_order"), "point_of_order", 10, 3600)
        session.right_of_reply_limit = _bounded_int(text(form, "right_of_reply"), "right_of_reply", 10, 3600)
        session.questions_moderated = form.get("moderated") == "yes"
        if form.get("items_shown"):
            chosen = {int(value) for value in form.getlist("items") if str(value).isdigit()}
            items = (
                await db.scalars(
                    select(models.AgendaItem)
                    .where(models.AgendaItem.event_id == event.id, models.AgendaItem.id.in_(chosen))
                    .order_by(models.AgendaItem.position, models.AgendaItem.id)
                )
            ).all()
            session.item_ids = [item.id for item in items]
            if session.current_item_id not in session.item_ids:
                session.current_item_id = session.item_ids[0] if session.item_ids else None
        topic = text(form, "topic")
        if topic:
            if len(topic) > 500:
                raise ValueError("topic: at most 500 characters")
            count = await db.scalar(
                select(func.count())
                .select_from(models.QuestionTopic)
                .where(models.QuestionTopic.session_id == session.id)
            )
            db.add(
                models.QuestionTopic(
                    session_id=session.id,
                    key=f"topic-{(count or 0) + 1}",
                    position=(count or 0) + 1,
                    texts={choose_language(request): topic},
                )
            )

    return await _edit(request, change)


async def new_event(request: Request) -> Response:
    """A new event, with the organizer who made it as its first organizer
    (their cookie then opens it; the old event's link still opens the old one)."""
    try:
        participant, _, _ = await _organizer(request)
    except NotOrganizer:
        return _forbidden(request)
    secret = request.app.state.tribune.settings.secret
    try:
        form = await checked_form(request)
        slug = _key(text(form, "slug"))
        zone_name = text(form, "timezone") or "UTC"
        try:
            ZoneInfo(zone_name)
        except Exception:
            raise ValueError(f"timezone: unknown time zone {zone_name[:40]!r}") from None
        title = _required(text(form, "title"), "title")
        async with request.app.state.tribune.sessionmaker() as db, db.begin():
            if await db.scalar(select(models.Event.id).where(models.Event.slug == slug)):
                raise ValueError(f"slug: an event {slug!r} exists already")
            event = models.Event(
                slug=slug,
                title=title,
                titles={choose_language(request): title},
                descriptions={},
                description="",
                timezone=zone_name,
                venue=text(form, "venue")[:300] or None,
                languages=["ar", "en", "es", "fr"],
                max_delegation_members=3,
                revision=1,
            )
            db.add(event)
            await db.flush()
            token = tokens.join_token(secret, slug, participant.key, 1)
            db.add(
                models.Participant(
                    event_id=event.id,
                    key=participant.key,
                    name=participant.name,
                    email=participant.email,
                    token_version=1,
                    token_hash=tokens.token_hash(token),
                    roles=[models.ParticipantRole(role=Role.ORGANIZER.value)],
                )
            )
            await desk_of(db, event.id)
    except FormRefused as refused:
        return await console(request, Refused(refused.code, refused.code), refused.status)
    except ValueError as error:
        return await console(request, Refused("invalid", str(error)[:300]), 400)
    # The organizer continues in the new event, as its organizer.
    return RedirectResponse(f"/join/{token}?to=organize", status_code=303)


async def note_file(request: Request) -> Response:
    try:
        participant, _, _ = await _organizer(request)
    except NotOrganizer:
        return _forbidden(request)
    async with request.app.state.tribune.reader() as db:
        row = (
            await db.execute(
                select(models.NoteVerbale.file_name, models.NoteVerbale.file_data)
                .join(models.Delegation, models.Delegation.id == models.NoteVerbale.delegation_id)
                .where(
                    models.NoteVerbale.id == request.path_params["note_id"],
                    models.Delegation.event_id == participant.event_id,
                )
            )
        ).first()
    if row is None or row[1] is None:
        return page(request, "404.html", {}, status_code=404)
    return Response(
        row[1],
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="note-verbale.pdf"', "X-Content-Type-Options": "nosniff"},
    )


async def send_join_link(request: Request) -> Response:
    """E-mail a person their join link (a marker in the outbox: server/mail_links.py)."""

    async def change(db: AsyncSession, event: models.Event, form: Any) -> None:
        person = await db.get(models.Participant, request.path_params["participant_id"])
        if person is None or person.event_id != event.id:
            raise Refused("not_found", "No such participant in this event.")
        if not person.email:
            raise Refused("no_email", "This person has no e-mail address.")
        language = person.language or "en"
        context = {
            "event_title": pick(event.titles or {"": event.title}, language).text or event.title,
            "name": person.name,
            "join_url": marker("join", person.id),
        }
        connection = await db.connection()
        await enqueue(
            connection,
            event_id=event.id,
            kind="join_link",
            to=person.email,
            language=language,
            context=context,
            now=utcnow(),
        )

    return await _edit(request, change, moves_revision=False)


async def revoke(request: Request) -> Response:
    """A new join link for the person: the old one opens nothing, their open
    sockets close within a second (server.hub.watch_access)."""
    secret = request.app.state.tribune.settings.secret

    async def change(db: AsyncSession, event: models.Event, form: Any) -> None:
        person = await db.get(models.Participant, request.path_params["participant_id"])
        if person is None or person.event_id != event.id:
            raise Refused("not_found", "No such participant in this event.")
        await revoke_in(db, secret, person.key, event.slug)

    return await _edit(request, change, moves_revision=False)


async def import_file(request: Request) -> Response:
    """Delegations or participants from a spreadsheet saved as CSV: every bad
    line listed, nothing written unless all are good (server/csv_import.py)."""
    try:
        participant, _, _ = await _organizer(request)
    except NotOrganizer:
        return _forbidden(request)
    tribune = request.app.state.tribune
    try:
        form = await checked_form(request, MAX_CSV_BYTES + 64 * 1024)
        what = text(form, "what")
        upload = form.get("file")
        if what not in ("delegations", "participants") or not isinstance(upload, UploadFile):
            raise ValueError("file: choose a CSV file of delegations or participants")
        data = await upload.read(MAX_CSV_BYTES + 1)
        async with tribune.reader() as db:
            event = await db.get(models.Event, participant.event_id)
            assert event is not None
        report = await import_csv(tribune.sessionmaker, event.slug, what, data, tribune.settings.secret)  # type: ignore[arg-type]
    except FormRefused as refused:
        return await console(request, Refused(refused.code, refused.code), refused.status)
    except CsvImportError as error:
        return await console(request, CsvRefused(error.problems), 400)
    except ValueError as error:
        return await console(request, Refused("invalid", str(error)[:300]), 400)
    return await console(request, imported=Imported(report.counts.created, report.counts.updated, what))


class CsvRefused(Refused):
    """A CSV file refused, with every bad line."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__("csv", "The file was not imported.")
        self.problems = problems[:200]


@dataclass(frozen=True)
class Imported:
    created: int
    updated: int
    what: str


async def event_file(request: Request) -> Response:
    """The event as an event file (``tribune export event``): it loads again to the same state."""
    try:
        participant, _, _ = await _organizer(request)
    except NotOrganizer:
        return _forbidden(request)
    async with request.app.state.tribune.reader() as db:
        event = await db.get(models.Event, participant.event_id)
        assert event is not None
    try:
        text_ = await export_event(request.app.state.tribune.reader, event.slug)
    except EventExportError as error:
        return await console(request, Refused("invalid", str(error)[:300]), 409)
    return Response(
        text_,
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{event.slug}.yaml"'},
    )


async def participants_file(request: Request) -> Response:
    """The list of participants, with their e-mails (the console is the organizers')."""
    try:
        participant, _, _ = await _organizer(request)
    except NotOrganizer:
        return _forbidden(request)
    async with request.app.state.tribune.reader() as db:
        event = await db.get(models.Event, participant.event_id)
        assert event is not None
        rows = await participant_rows(db, event.id)
    name = f"{event.slug}-participants"
    if request.path_params["format"] == "xlsx":
        return _download(participants_xlsx(rows, event.title, with_contacts=True), f"{name}.xlsx", XLSX)
    out = io.StringIO()
    participants_csv(rows, out, with_contacts=True)
    return _download(out.getvalue().encode(), f"{name}.csv", "text/csv; charset=utf-8")


async def attendance_file(request: Request) -> Response:
    try:
        participant, _, _ = await _organizer(request)
    except NotOrganizer:
        return _forbidden(request)
    tribune = request.app.state.tribune
    async with tribune.reader() as db:
        session = await db.get(models.Session, request.path_params["session_id"])
        if session is None or session.event_id != participant.event_id:
            return page(request, "404.html", {}, status_code=404)
        rows = await attendance_rows(db, session.id, tribune.kernel.clock())
    name = f"attendance-{session.key}"
    if request.path_params["format"] == "xlsx":
        return _download(attendance_xlsx(rows, f"{session.title}: attendance"), f"{name}.xlsx", XLSX)
    out = io.StringIO()
    attendance_csv(rows, out)
    return _download(out.getvalue().encode(), f"{name}.csv", "text/csv; charset=utf-8")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(data: bytes, filename: str, media_type: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


routes = [
    Route("/organize", console),
    Route("/organize/event", edit_event, methods=["POST"]),
    Route("/organize/events", new_event, methods=["POST"]),
    Route("/organize/sessions", add_session, methods=["POST"]),
    Route("/organize/delegations", add_delegation, methods=["POST"]),
    Route("/organize/invite", invite, methods=["POST"]),
    Route("/organize/nominate", nominate, methods=["POST"]),
    Route("/organize/registrations/{participant_id:int}/{action}", decide, methods=["POST"]),
    Route("/organize/notes/{note_id:int}", note_file),
    Route("/organize/import", import_file, methods=["POST"]),
    Route("/organize/participants.{format:str}", participants_file),
    Route("/organize/attendance/{session_id:int}.{format:str}", attendance_file),
    Route("/organize/event.yaml", event_file),
    Route("/organize/people", add_person, methods=["POST"]),
    Route("/organize/sessions/{session_id:int}", edit_session, methods=["POST"]),
    Route("/organize/agenda", edit_agenda_item, methods=["POST"]),
    Route("/organize/committees", add_membership, methods=["POST"]),
    Route("/organize/people/{participant_id:int}/send-link", send_join_link, methods=["POST"]),
    Route("/organize/people/{participant_id:int}/revoke", revoke, methods=["POST"]),
]
