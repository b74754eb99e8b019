"""The committee page: its member States and their terms, the chair of today
highlighted, and its meetings with the State chairing each (seed 004).

``/committees/KEY`` shows the committee of that key in the latest event that
has one; ``?event=SLUG`` names the event.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import models
from server.committee_roles import committee_of
from server.i18n import choose_language, render
from server.localized import pick


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def committee_page(request: Request) -> Response:
    language = choose_language(request)
    async with request.app.state.tribune.reader() as db:
        query = (
            select(models.Committee, models.Event)
            .join(models.Event, models.Event.id == models.Committee.event_id)
            .where(models.Committee.key == request.path_params["key"])
            .order_by(models.Event.id.desc())
        )
        slug = request.query_params.get("event")
        if slug is not None:
            query = query.where(models.Event.slug == slug)
        found = (await db.execute(query.limit(1))).first()
        if found is None:
            return render(request, "404.html", status_code=404)
        row, event = found
        terms = list(
            await db.scalars(
                select(models.CommitteeMembership)
                .where(models.CommitteeMembership.committee_id == row.id)
                .order_by(models.CommitteeMembership.position, models.CommitteeMembership.id)
            )
        )
        meetings = list(
            await db.scalars(
                select(models.Session)
                .where(models.Session.committee_id == row.id)
                .order_by(models.Session.starts_at, models.Session.id)
            )
        )
    committee = committee_of(row, terms)
    zone = _zone(event.timezone)
    today = request.app.state.tribune.kernel.clock().astimezone(zone).date()
    chair = committee.chair_on(today)
    name = pick(row.names or {"": row.name}, language)
    names = {term.organisation_key: pick(term.names or {"": term.organisation_name}, language) for term in terms}
    members = []
    for term, membership in zip(terms, committee.memberships, strict=True):
        state = pick(term.names or {"": term.organisation_name}, language)
        members.append(
            {
                "name": state.text,
                "name_lang": state.language,
                "role": membership.role.value,
                "years": membership.years,
                "start_iso": membership.start.isoformat(),
                "end_iso": membership.end.isoformat(),
                "is_current_chair": chair is not None and membership == chair,
                "is_serving": membership.on(today),
            }
        )
    sessions: list[dict[str, Any]] = []
    for session in meetings:
        day = session.starts_at.astimezone(zone).date()
        chaired_by = committee.chair_on(day)
        title = pick(session.titles or {"": session.title}, language)
        chair_name = names.get(chaired_by.organisation_key) if chaired_by is not None else None
        sessions.append(
            {
                "id": session.id,
                "title": title.text,
                "title_lang": title.language,
                "date": format_date(day, format="long", locale=language),
                "date_iso": day.isoformat(),
                "chair": chair_name.text if chair_name is not None else None,
                "chair_lang": chair_name.language if chair_name is not None else None,
            }
        )
    context = {
        "committee": {"key": row.key, "name": name.text, "name_lang": name.language},
        "event_slug": event.slug,
        "today": format_date(today, format="long", locale=language),
        "members": members,
        "meetings": sessions,
    }
    return render(request, "committee.html", context)


routes = [Route("/committees/{key}", committee_page, name="committee")]
