"""The focal point's nomination page and the member's registration form.

Each opens from a private link (server/tokens.py ``link_token``): the first
visit keeps the token in a cookie scoped to the page's path and redirects to
the bare path, so the token leaves the address bar and the history. Every
change is a registration command run by the server through the kernel
(rooms/registration_commands.py), after the link was checked here: a focal
point reaches only their own delegation, a member only their registration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from rooms.commands import Command
from rooms.errors import Refused
from rooms.registration import Gender, Need, State
from rooms.registration_commands import (
    MAX_NOTE_BYTES,
    AcceptConditions,
    CompleteRegistration,
    FocalDecline,
    FocalNominate,
    FocalWithdraw,
    RecordNoteVerbale,
)
from server import models
from server.auth import token_key
from server.forms import FormRefused, checked_form, first_problem, page, text
from server.i18n import PAGE_LANGUAGES, choose_language, format_moment, language_label
from server.localized import pick
from server.secretariat import desk_id
from server.security import cookie_is_secure

FOCAL_COOKIE = "tribune_focal"
MEMBER_COOKIE = "tribune_member"


def _keep_link(request: Request, cookie: str, path: str) -> Response:
    response = RedirectResponse(path, status_code=303)
    secure = cookie_is_secure(request.app.state.tribune.settings.base_url)
    response.set_cookie(
        cookie,
        request.path_params["token"],
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
        max_age=90 * 86400,
    )
    return response


async def _run(request: Request, event_id: int, command: Command) -> None:
    tribune = request.app.state.tribune
    await tribune.kernel.execute_for_server(await desk_id(tribune.reader, tribune.sessionmaker, event_id), command)


def _invalid(request: Request) -> Response:
    return page(request, "invalid_link.html", {}, status_code=404)


# --- the focal point ---------------------------------------------------------------


async def open_nomination_link(request: Request) -> Response:
    async with request.app.state.tribune.reader() as db:
        if await _delegation_by(db, request.path_params["token"]) is None:
            return _invalid(request)
    return _keep_link(request, FOCAL_COOKIE, "/nominate")


async def _delegation_by(db: Any, token: str | None) -> models.Delegation | None:
    key = token_key(token)
    if key is None:
        return None
    found: models.Delegation | None = await db.scalar(
        select(models.Delegation).where(models.Delegation.focal_token_hash == key)
    )
    return found


async def nomination_page(request: Request, refusal: Refused | None = None, status: int = 200) -> Response:
    language = choose_language(request)
    async with request.app.state.tribune.reader() as db:
        delegation = await _delegation_by(db, request.cookies.get(FOCAL_COOKIE))
        if delegation is None:
            return _invalid(request)
        event = await db.get(models.Event, delegation.event_id)
        assert event is not None
        rows = (
            await db.execute(
                select(models.Participant, models.Registration)
                .join(models.Registration, models.Registration.participant_id == models.Participant.id)
                .where(models.Participant.delegation_id == delegation.id)
                .order_by(models.Participant.id)
            )
        ).all()
        notes = (
            await db.scalars(
                select(models.NoteVerbale)
                .where(models.NoteVerbale.delegation_id == delegation.id)
                .order_by(models.NoteVerbale.id)
            )
        ).all()
    limit = delegation.member_limit or event.max_delegation_members
    members = [
        {
            "id": person.id,
            "name": person.name,
            "title": person.title,
            "email": person.email,
            "state": registration.state,
            "sponsorship": registration.sponsorship,
            "reject_reason": registration.reject_reason,
            "holds_place": registration.state not in (State.REJECTED, State.WITHDRAWN),
        }
        for person, registration in rows
    ]
    context = {
        "event_title": _title(event, language),
        "delegation": {"name": delegation.name, "limit": limit, "declined": delegation.invitation == "declined"},
        "members": members,
        "places_left": max(0, limit - sum(1 for m in members if m["holds_place"])),
        "notes": [{"reference": n.reference, "dated": n.dated.isoformat(), "file_name": n.file_name} for n in notes],
        "deadline": format_moment(event.nominations_close_at, event.timezone, language),
        "deadline_sponsored": format_moment(event.sponsored_nominations_close_at, event.timezone, language),
        "mail_languages": [language_label(code, language) for code in PAGE_LANGUAGES],
        "refusal": refusal,
        "today": date.today().isoformat(),
    }
    return page(request, "nominate.html", context, status_code=status)


async def _focal_action(
    request: Request, build: Callable[[models.Delegation, Any], Command], max_bytes: int
) -> Response:
    async with request.app.state.tribune.reader() as db:
        delegation = await _delegation_by(db, request.cookies.get(FOCAL_COOKIE))
    if delegation is None:
        return _invalid(request)

    async def command() -> Command:
        form = await checked_form(request, max_bytes)
        built = build(delegation, form)
        if isinstance(built, RecordNoteVerbale) and form.get("file") is not None:
            built = await _with_file(built, form.get("file"))
        return built

    return await _submit(request, delegation.event_id, command, nomination_page, "/nominate")


async def _submit(
    request: Request,
    event_id: int,
    command: Callable[[], Awaitable[Command]],
    page: Callable[[Request, Refused, int], Awaitable[Response]],
    back: str,
) -> Response:
    """Run the form's command; a refusal shows the page again with the reason
    in its language, a success goes ``back`` (POST, then GET)."""
    try:
        await _run(request, event_id, await command())
    except FormRefused as refused:
        return await page(request, Refused(refused.code, refused.code), refused.status)
    except ValidationError as error:
        return await page(request, Refused("invalid", first_problem(error)), 400)
    except Refused as refused:
        return await page(request, refused, 409)
    return RedirectResponse(back, status_code=303)


async def _with_file(command: RecordNoteVerbale, upload: Any) -> RecordNoteVerbale:
    if not isinstance(upload, UploadFile) or not upload.filename:
        return command
    data = await upload.read(MAX_NOTE_BYTES + 1)
    if len(data) > MAX_NOTE_BYTES:
        raise FormRefused("too_large", 413)
    if not data.startswith(b"%PDF-"):
        raise Refused("not_pdf", "The note verbale must be a PDF file.")
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
    return command.model_copy(update={"file_name": name, "file_type": "application/pdf", "file_data": data})


def _note(delegation: models.Delegation, form: Any) -> Command:
    return RecordNoteVerbale.model_validate(
        {
            "id": "note",
            "type": "record_note_verbale",
            "delegation_id": delegation.id,
            "reference": text(form, "reference"),
            "dated": text(form, "dated") or None,
        }
    )


def _nominate(delegation: models.Delegation, form: Any) -> Command:
    return FocalNominate(
        id="nominate",
        type="focal_nominate",
        delegation_id=delegation.id,
        name=text(form, "name"),
        title=text(form, "title"),
        email=text(form, "email"),
        language=text(form, "language") or "en",
        sponsorship=form.get("sponsorship") == "yes",
    )


def _decline(delegation: models.Delegation, form: Any) -> Command:
    return FocalDecline(id="decline", type="focal_decline", delegation_id=delegation.id)


def _withdraw(delegation: models.Delegation, form: Any) -> Command:
    return FocalWithdraw(
        id="withdraw",
        type="focal_withdraw",
        delegation_id=delegation.id,
        participant_id=_optional_id(form, "participant_id") or 0,
    )


async def record_note(request: Request) -> Response:
    return await _focal_action(request, _note, MAX_NOTE_BYTES + 64 * 1024)


async def nominate(request: Request) -> Response:
    return await _focal_action(request, _nominate, 64 * 1024)


async def withdraw(request: Request) -> Response:
    return await _focal_action(request, _withdraw, 64 * 1024)


async def decline(request: Request) -> Response:
    return await _focal_action(request, _decline, 64 * 1024)


# --- the member ----------------------------------------------------------------------


async def open_registration_link(request: Request) -> Response:
    async with request.app.state.tribune.reader() as db:
        if await _registration_by(db, request.path_params["token"]) is None:
            return _invalid(request)
    return _keep_link(request, MEMBER_COOKIE, "/register")


async def _registration_by(db: Any, token: str | None) -> models.Registration | None:
    key = token_key(token)
    if key is None:
        return None
    found: models.Registration | None = await db.scalar(
        select(models.Registration).where(models.Registration.token_hash == key)
    )
    return found


async def registration_page(request: Request, refusal: Refused | None = None, status: int = 200) -> Response:
    language = choose_language(request)
    async with request.app.state.tribune.reader() as db:
        registration = await _registration_by(db, request.cookies.get(MEMBER_COOKIE))
        if registration is None:
            return _invalid(request)
        person = await db.get(models.Participant, registration.participant_id)
        event = await db.get(models.Event, registration.event_id)
        assert person is not None and event is not None
        delegation = await db.get(models.Delegation, person.delegation_id) if person.delegation_id else None
        sessions = (
            await db.scalars(
                select(models.Session)
                .where(models.Session.event_id == event.id, models.Session.kind.not_in(_NO_FLOOR))
                .order_by(models.Session.starts_at, models.Session.id)
            )
        ).all()
    context = {
        "event_title": _title(event, language),
        "me": {"name": person.name, "title": person.title, "delegation": delegation.name if delegation else None},
        "registration": registration,
        "editable": registration.state in (State.INVITED, State.NOMINATED, State.PENDING),
        "sessions": [
            {
                "id": s.id,
                "title": pick(s.titles or {"": s.title}, language).text or s.title,
                "when": format_moment(s.starts_at, event.timezone, language),
            }
            for s in sessions
        ],
        "languages": [language_label(code, language) for code in event.languages or PAGE_LANGUAGES],
        "genders": [gender.value for gender in Gender],
        "needs": [need.value for need in Need],
        "refusal": refusal,
    }
    return page(request, "register.html", context, status_code=status)


# Sessions nobody speaks in take no question nor request to speak.
_NO_FLOOR = ("secretariat", "breakout", "break", "lunch", "reception", "visit", "site_visit")


async def _member_action(request: Request, build: Callable[[models.Registration, Any], Command]) -> Response:
    async with request.app.state.tribune.reader() as db:
        registration = await _registration_by(db, request.cookies.get(MEMBER_COOKIE))
    if registration is None:
        return _invalid(request)

    async def command() -> Command:
        return build(registration, await checked_form(request))

    return await _submit(request, registration.event_id, command, registration_page, "/register")


def _optional_id(form: Any, name: str) -> int | None:
    value = text(form, name)
    return int(value) if value.isdigit() and len(value) < 10 else None


def _complete(registration: models.Registration, form: Any) -> Command:
    question = text(form, "question_text")
    return CompleteRegistration(
        id="register",
        type="complete_registration",
        participant_id=registration.participant_id,
        gender=text(form, "gender") or None,
        needs=form.getlist("needs"),
        needs_note=text(form, "needs_note"),
        languages=form.getlist("languages"),
        question_session_id=_optional_id(form, "question_session") if question else None,
        question_text=question or None,
        question_language=text(form, "question_language") or None,
        speak_session_id=_optional_id(form, "speak_session") if form.get("speak") == "yes" else None,
        speak_language=text(form, "speak_language") or None,
        accepts_conditions=form.get("accepts_conditions") == "yes",
    )


def _accept(registration: models.Registration, form: Any) -> Command:
    return AcceptConditions(id="accept", type="accept_conditions", participant_id=registration.participant_id)


async def complete(request: Request) -> Response:
    return await _member_action(request, _complete)


async def accept(request: Request) -> Response:
    return await _member_action(request, _accept)


# --- shared -----------------------------------------------------------------------------


def _title(event: models.Event, language: str) -> str:
    return pick(event.titles or {"": event.title}, language).text or event.title


routes = [
    Route("/nominate/{token}", open_nomination_link),
    Route("/nominate", nomination_page),
    Route("/nominations/note", record_note, methods=["POST"]),
    Route("/nominations/members", nominate, methods=["POST"]),
    Route("/nominations/withdraw", withdraw, methods=["POST"]),
    Route("/nominations/decline", decline, methods=["POST"]),
    Route("/register/{token}", open_registration_link),
    Route("/register", registration_page),
    Route("/registration/complete", complete, methods=["POST"]),
    Route("/registration/accept", accept, methods=["POST"]),
]
