"""Forms posted from the pages: CSRF protection, size limits, and rendering a
page with its form token.

CSRF is a double submit: a random token in a ``SameSite=Strict`` cookie and
the same token in a hidden field of every form; a POST whose field does not
match the cookie changes nothing (a forged form from another site cannot read
the cookie). Private links (focal point, member) are kept in cookies by path
after their first opening, so their tokens leave the address bar.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from server.i18n import render
from server.security import cookie_is_secure

CSRF_COOKIE = "tribune_csrf"
CSRF_FIELD = "csrf"
# A form with a note verbale's scan is the largest the pages take.
MAX_FORM_BYTES = 6 * 1024 * 1024


class FormRefused(Exception):
    """A posted form that is refused before anything is read from it.
    ``code`` names the reason for the page (translated there)."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def _token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE)
    if token and 20 <= len(token) <= 100:
        return token
    cached: str | None = request.scope.get("tribune.csrf")
    if cached is None:
        cached = secrets.token_urlsafe(24)
        request.scope["tribune.csrf"] = cached
    return cached


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """``render`` with the form token the page's forms carry."""
    token = _token(request)
    response = render(request, name, {**context, "csrf": token}, status_code=status_code)
    if request.cookies.get(CSRF_COOKIE) != token:
        secure = cookie_is_secure(request.app.state.tribune.settings.base_url)
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure)
    return response


async def checked_form(request: Request, max_bytes: int = 64 * 1024) -> FormData:
    """The posted form, once its size and its CSRF token are checked."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise FormRefused("too_large", 413)
    try:
        form = await request.form(max_files=1, max_fields=100)
    except Exception:  # a body the parser cannot read: refused the same way
        raise FormRefused("bad_form", 400) from None
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
        raise FormRefused("csrf", 403)
    return form


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def first_problem(error: ValidationError) -> str:
    """The first thing wrong with a form, as "field: what", for the page to show."""
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem.get("loc", ()))
    return f"{where}: {problem.get('msg', '')}"
