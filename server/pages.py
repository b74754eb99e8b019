"""HTML pages: the programme, the participant page and the moderator console.

The pages are server-rendered shells; the live parts (floor, timer, buttons)
are drawn by the plain JS modules in static/ from the WebSocket's messages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from rooms.actor import Actor
from rooms.roles import Role, runs_floor
from server import models
from server.auth import COOKIE, actor_in, participant_by_token
from server.i18n import choose_language, language_label, render
from server.landing import landing_for, last_activity, meeting_session
from server.localized import pick
from server.models import utcnow
from server.secretariat import KIND, is_desk
from server.security import cookie_is_secure

COOKIE_MAX_AGE = 60 * 60 * 24 * 30


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _content(row: models.Event | models.Session, language: str) -> dict[str, Any]:
    """The title and description in the viewer's language, and the language each is in."""
    title = pick(row.titles or {"": row.title}, language)
    description = pick(row.descriptions or ({"": row.description} if row.description else {}), language)
    return {
        "title": title.text,
        "title_lang": title.language,
        "description": description.text,
        "description_lang": description.language,
    }


# Kinds of programme item where nobody takes the floor: no list of speakers
# to follow and nothing to interpret (docs/event-format.md).
WITHOUT_FLOOR = frozenset({"break", "lunch", "reception", "visit", "site_visit"})


def _session_view(
    session: models.Session,
    event: models.Event,
    language: str,
    actor: Actor | None,
    items: dict[int, models.AgendaItem] | None = None,
) -> dict[str, Any]:
    zone = _zone(event.timezone)
    taken_up = [items[item_id] for item_id in session.item_ids or [] if items and item_id in items]
    current = items.get(session.current_item_id) if items and session.current_item_id is not None else None
    return {
        # The agenda items it takes up (rooms/agenda.py), and the one under discussion.
        "agenda_items": [{"id": item.id, "title": _item_title(item, language)} for item in taken_up],
        "current_item": _item_title(current, language) if current is not None else None,
        "id": session.id,
        **_content(session, language),
        "kind": session.kind,
        "has_floor": session.kind not in WITHOUT_FLOOR,
        "languages": _languages(session.languages if session.languages is not None else event.languages, language),
        "room": session.room,
        "date": format_date(session.starts_at.astimezone(zone), format="full", locale=language),
        "starts": format_time(session.starts_at, format="HH:mm", tzinfo=zone, locale=language),
        "ends": format_time(session.ends_at, format="HH:mm", tzinfo=zone, locale=language),
        "starts_iso": session.starts_at.isoformat(),
        "ends_iso": session.ends_at.isoformat(),
        "may_enter": actor is not None,
        "runs_floor": actor is not None and runs_floor(actor.roles),
    }


def _item_title(item: models.AgendaItem, language: str) -> str:
    return pick(item.titles or {"": item.title}, language).text or item.title


async def agenda_of(db: AsyncSession, event_ids: list[int]) -> dict[int, models.AgendaItem]:
    rows = await db.scalars(select(models.AgendaItem).where(models.AgendaItem.event_id.in_(event_ids)))
    return {row.id: row for row in rows}


def _languages(codes: list[str] | None, language: str) -> list[dict[str, str]]:
    return [language_label(code, language) for code in codes or []]


async def _me(db: AsyncSession, request: Request) -> models.Participant | None:
    return await participant_by_token(db, request.cookies.get(COOKIE))


def delegation_name(delegation: models.Delegation, language: str) -> str:
    """A delegation's name in the viewer's language (the event file may give several)."""
    return pick(delegation.names or {"": delegation.name}, language).text or delegation.name


def _me_view(participant: models.Participant | None, language: str = "en") -> dict[str, Any] | None:
    if participant is None:
        return None
    return {
        "name": participant.name,
        "delegation": delegation_name(participant.delegation, language) if participant.delegation else None,
        "organizes": any(r.role == Role.ORGANIZER and r.session_id is None for r in participant.roles),
    }


async def home(request: Request) -> Response:
    language = choose_language(request)
    async with request.app.state.tribune.reader() as db:
        participant = await _me(db, request)
        events = (
            await db.scalars(
                select(models.Event).options(selectinload(models.Event.sessions)).order_by(models.Event.id)
            )
        ).all()
        items = await agenda_of(db, [event.id for event in events])
        committees = {row.id: row for row in await db.scalars(select(models.Committee))}
        programme = []
        for event in events:
            sessions = []
            for session in event.sessions:
                if is_desk(session) or session.parent_id is not None:
                    continue  # the secretariat's desk and breakout groups are in no programme
                actor = actor_in(participant, session) if participant is not None else None
                view = _session_view(session, event, language, actor, items)
                committee = committees.get(session.committee_id) if session.committee_id is not None else None
                if committee is not None:
                    name = pick(committee.names or {"": committee.name}, language)
                    view["committee"] = {"key": committee.key, "name": name.text, "name_lang": name.language}
                sessions.append(view)
            programme.append(
                {
                    **_content(event, language),
                    "slug": event.slug,
                    "timezone": event.timezone,
                    "venue": event.venue,
                    "online_url": event.online_url,
                    "languages": _languages(event.languages, language),
                    "sessions": sessions,
                    "is_mine": participant is not None and participant.event_id == event.id,
                }
            )
    return render(request, "home.html", {"events": programme, "me": _me_view(participant, language)})


async def join(request: Request) -> Response:
    """A personal join link: remember the token in a cookie and take the person
    into the session the meeting is in (server/landing.py); those who run its
    floor land on the console."""
    token = request.path_params["token"]
    target = "/"
    async with request.app.state.tribune.reader() as db:
        participant = await participant_by_token(db, token)
        if participant is None:
            return render(request, "invalid_link.html", status_code=404)
        sessions = (
            await db.scalars(
                select(models.Session)
                .where(
                    models.Session.event_id == participant.event_id,
                    models.Session.kind != KIND,
                    models.Session.parent_id.is_(None),
                )
                .order_by(models.Session.starts_at, models.Session.id)
            )
        ).all()
        actors = {s.id: a for s in sessions if (a := actor_in(participant, s)) is not None}
        now = request.app.state.tribune.kernel.clock()
        meeting = meeting_session(sessions, now, await last_activity(db, [s.id for s in sessions]))
        chosen = landing_for(sessions, meeting, set(actors))
        if request.query_params.get("to") == "organize":
            target = "/organize"
        elif chosen is not None:
            # ?to=screen: the room's computer, which shows the projector view.
            page = "/screen" if request.query_params.get("to") == "screen" else _console(actors[chosen])
            target = f"/sessions/{chosen}" + page
    response = RedirectResponse(target, status_code=303)
    secure = cookie_is_secure(request.app.state.tribune.settings.base_url)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", max_age=COOKIE_MAX_AGE, secure=secure)
    return response


def _console(actor: Actor) -> str:
    """The page a person works from: the booth, the moderator console, or the session."""
    if actor.runs_floor:
        return "/moderate"
    if {Role.INTERPRETER, Role.CAPTIONER} & actor.roles:
        return "/booth"
    return ""


async def _session_context(request: Request) -> dict[str, Any] | None:
    """The session, its event and the cookie's standing there; None if no such session."""
    language = choose_language(request)
    async with request.app.state.tribune.reader() as db:
        session = await db.get(models.Session, request.path_params["session_id"])
        if session is None:
            return None
        event = await db.get(models.Event, session.event_id)
        participant = await _me(db, request)
        actor = actor_in(participant, session) if participant is not None else None
        delegations = (
            await db.scalars(
                select(models.Delegation).where(models.Delegation.event_id == event.id).order_by(models.Delegation.name)
            )
        ).all()
        breakouts = await breakout_context(db, session, participant)
        return {
            "breakouts": breakouts,
            # Typed names go in the page as text, not in its JSON (static/breakouts.js reads them).
            "breakout_names": breakouts.pop("names", {}),
            "delegations": [{"id": d.id, "name": delegation_name(d, language)} for d in delegations],
            "event": {
                "id": event.id,
                **_content(event, language),
                "timezone": event.timezone,
                "languages": _languages(event.languages, language),
            },
            "session": _session_view(session, event, language, actor, await agenda_of(db, [event.id])),
            "me": _me_view(participant, language),
            "actor": actor,
        }


async def breakout_context(
    db: AsyncSession, session: models.Session, participant: models.Participant | None
) -> dict[str, Any]:
    """What the pages show of breakout groups (static/breakouts.js keeps it live):
    in a group, the group and its plenary; in a plenary, the groups meeting."""
    me = participant.id if participant is not None else None
    if session.parent_id is not None:
        plenary = await db.get(models.Session, session.parent_id)
        assert plenary is not None
        # Its name is in the page as text (the session's title), not in this JSON.
        return {
            "group": {"id": session.id, "closed": session.closed_at is not None},
            "plenary": {"id": plenary.id},
            "ends_at": plenary.breakout_ends_at.isoformat() if plenary.breakout_ends_at else None,
            "me": me,
        }
    groups = (
        await db.scalars(
            select(models.Session)
            .where(models.Session.parent_id == session.id, models.Session.closed_at.is_(None))
            .order_by(models.Session.id)
        )
    ).all()
    members: dict[int, list[int]] = {group.id: [] for group in groups}
    if groups:
        for participant_id, group_id in await db.execute(
            select(models.ParticipantRole.participant_id, models.ParticipantRole.session_id).where(
                models.ParticipantRole.session_id.in_(list(members))
            )
        ):
            if group_id is not None:
                members[group_id].append(participant_id)
    # Groups that ended a moment ago: those coming back are told what happens next.
    recently = await db.scalar(
        select(models.Session.id).where(
            models.Session.parent_id == session.id,
            models.Session.closed_at > utcnow() - timedelta(minutes=10),
        )
    )
    return {
        "names": {g.id: g.title for g in groups},
        "plenary": {"id": session.id},
        "recently_ended": not groups and recently is not None,
        "ends_at": session.breakout_ends_at.isoformat() if session.breakout_ends_at else None,
        "open_choice": session.breakout_choice,
        "groups": [
            # Their names are in the page as text (_breakouts.html), not in this JSON.
            {"id": g.id, "members": sorted(members[g.id]), "rapporteur_id": g.rapporteur_id}
            for g in groups
        ],
        "me": me,
    }


def _not_found(request: Request) -> Response:
    return render(request, "404.html", status_code=404)


async def participant_page(request: Request) -> Response:
    context = await _session_context(request)
    if context is None:
        return _not_found(request)
    return render(request, "session.html", context)


async def moderator_page(request: Request) -> Response:
    context = await _session_context(request)
    if context is None:
        return _not_found(request)
    actor = context["actor"]
    status = 200 if actor is not None and actor.runs_floor else 403
    return render(request, "moderate.html", context, status_code=status)


routes = [
    Route("/", home, name="home"),
    Route("/join/{token}", join, name="join"),
    Route("/sessions/{session_id:int}", participant_page, name="session"),
    Route("/sessions/{session_id:int}/moderate", moderator_page, name="moderate"),
]
