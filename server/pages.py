"""HTML pages (placeholder until the pages land)."""

from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Route

from server.auth import COOKIE


async def join(request):
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, request.path_params["token"], httponly=True, samesite="lax", max_age=60 * 60 * 24 * 30)
    return response


async def home(request):
    return PlainTextResponse("Tribune")


routes = [Route("/", home), Route("/join/{token}", join)]
