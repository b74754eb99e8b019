"""The projector view of a session: /sessions/{id}/screen.

Read-only and live: the current speaker with the countdown, the next
speakers, the question on air, large enough for the back of a hall. It opens
with the join link of anyone who may enter the session (the demo has a
"Room screen" observer for it) and shows only what everyone may see,
whoever's link it is, so a moderator's laptop can drive the projector too.
The page's language (``?lang=``) is the language the topics are shown in.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.i18n import render
from server.pages import _not_found, _session_context


async def screen_page(request: Request) -> Response:
    context = await _session_context(request)
    if context is None:
        return _not_found(request)
    status = 200 if context["actor"] is not None else 403
    return render(request, "screen.html", context, status_code=status)


routes = [Route("/sessions/{session_id:int}/screen", screen_page, name="screen")]
