"""The interpreter's console at /sessions/{id}/booth (also the captioner's).

A server-rendered shell like the other pages; static/booth.js draws the
booth from the snapshot and the events, and uses static/media.js (the media
socket) for what the interpreter hears and their microphone.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rooms.roles import Role
from server.i18n import render
from server.pages import _not_found, _session_context

WORKS_HERE = frozenset({Role.INTERPRETER, Role.CAPTIONER})


async def booth_page(request: Request) -> Response:
    context = await _session_context(request)
    if context is None:
        return _not_found(request)
    actor = context["actor"]
    allowed = actor is not None and bool(WORKS_HERE & actor.roles)
    return render(request, "booth.html", {**context, "allowed": allowed}, status_code=200 if allowed else 403)


routes = [Route("/sessions/{session_id:int}/booth", booth_page, name="booth")]
