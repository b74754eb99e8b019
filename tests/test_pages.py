"""The HTML pages, fetched over HTTP from a live server."""

from __future__ import annotations

import re

import httpx
import pytest

from server.auth import COOKIE
from server.i18n import parse_accept_language


def client(server, **kwargs) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, timeout=10, **kwargs)


def html_attrs(page: str) -> tuple[str, str]:
    match = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', page)
    assert match, page[:200]
    return match.group(1), match.group(2)


async def test_programme_lists_the_session(server, world):
    async with client(server) as http:
        response = await http.get("/")
    assert response.status_code == 200
    assert "Test event" in response.text
    assert f'href="/sessions/{world.session_id}"' in response.text
    assert "Panel" in response.text
    # 12:30 UTC is 13:30 in Brussels in December.
    assert "13:30" in response.text
    assert f"/sessions/{world.session_id}/moderate" not in response.text  # nobody signed in


async def test_programme_shows_who_you_are_and_moderate_only_to_floor_runners(server, world):
    async with client(server, cookies={COOKIE: world.tokens["chair"]}) as http:
        page = (await http.get("/")).text
    assert "Chair of the Committee" in page
    assert f"/sessions/{world.session_id}/moderate" in page
    async with client(server, cookies={COOKIE: world.tokens["france"]}) as http:
        page = (await http.get("/")).text
    assert "Delegate of France" in page
    assert f"/sessions/{world.session_id}/moderate" not in page


async def test_join_sets_the_cookie_and_redirects_to_the_first_session(server, world):
    async with client(server) as http:
        response = await http.get(f"/join/{world.tokens['france']}")
        assert response.status_code == 303
        assert response.headers["location"] == f"/sessions/{world.session_id}"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={world.tokens['france']}")
        assert "httponly" in cookie.lower()
        assert http.cookies.get(COOKIE) == world.tokens["france"]
        page = await http.get(f"/sessions/{world.session_id}")
    assert "Delegate of France" in page.text


async def test_join_takes_whoever_runs_the_floor_to_the_console(server, world):
    async with client(server) as http:
        response = await http.get(f"/join/{world.tokens['chair']}")
    assert response.headers["location"] == f"/sessions/{world.session_id}/moderate"


async def test_unknown_join_link_sets_no_cookie(server):
    async with client(server) as http:
        response = await http.get("/join/not-a-token")
    assert response.status_code == 404
    assert "set-cookie" not in response.headers
    assert "join link is not valid" in response.text


async def test_participant_page_renders(server, world):
    async with client(server, cookies={COOKIE: world.tokens["france"]}) as http:
        response = await http.get(f"/sessions/{world.session_id}")
    assert response.status_code == 200
    assert html_attrs(response.text) == ("en", "ltr")
    page = response.text
    assert "List of speakers" in page
    assert 'role="alert"' in page
    assert 'id="tribune-strings"' in page
    assert "/static/participant.js" in page
    # The event's languages are offered for the speech.
    assert 'value="fr"' in page and 'value="ar"' in page


async def test_moderator_console_for_floor_runners_only(server, world):
    async with client(server, cookies={COOKIE: world.tokens["chair"]}) as http:
        response = await http.get(f"/sessions/{world.session_id}/moderate")
    assert response.status_code == 200
    assert html_attrs(response.text) == ("en", "ltr")
    assert "/static/moderate.js" in response.text
    assert "Give the floor to the next speaker" in response.text

    async with client(server, cookies={COOKIE: world.tokens["france"]}) as http:
        response = await http.get(f"/sessions/{world.session_id}/moderate")
    assert response.status_code == 403
    assert "You do not run the floor in this session" in response.text
    assert "/static/moderate.js" not in response.text


@pytest.mark.parametrize(
    ("how", "lang", "direction"),
    [
        ({"params": {"lang": "ar"}}, "ar", "rtl"),
        ({"params": {"lang": "fr"}}, "fr", "ltr"),
        ({"headers": {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}}, "es", "ltr"),
        ({"cookies": {"lang": "ar"}}, "ar", "rtl"),
        ({"params": {"lang": "xx"}}, "en", "ltr"),
    ],
)
async def test_page_language_and_direction(server, world, how, lang, direction):
    cookies = how.get("cookies", {})
    async with client(server, cookies=cookies) as http:
        for path in ("/", f"/sessions/{world.session_id}", f"/sessions/{world.session_id}/moderate"):
            response = await http.get(path, params=how.get("params"), headers=how.get("headers"))
            assert html_attrs(response.text) == (lang, direction), path


async def test_explicit_language_is_remembered(server, world):
    async with client(server) as http:
        response = await http.get("/", params={"lang": "ar"})
        assert http.cookies.get("lang") == "ar"
        response = await http.get(f"/sessions/{world.session_id}")
    assert html_attrs(response.text) == ("ar", "rtl")


async def test_french_pages_are_translated(server, world):
    async with client(server, cookies={COOKIE: world.tokens["france"]}) as http:
        response = await http.get(f"/sessions/{world.session_id}", params={"lang": "fr"})
    assert "Liste des orateurs" in response.text
    assert "À la parole" in response.text


async def test_unknown_session_is_404(server, world):
    async with client(server) as http:
        for path in ("/sessions/999999", "/sessions/999999/moderate"):
            response = await http.get(path)
            assert response.status_code == 404
            assert html_attrs(response.text)[1] == "ltr"
            assert "This session does not exist" in response.text


async def test_static_assets_are_served(server):
    async with client(server) as http:
        for name in ("tribune.js", "participant.js", "moderate.js", "tribune.css"):
            response = await http.get(f"/static/{name}")
            assert response.status_code == 200, name


def test_accept_language_parsing():
    assert parse_accept_language("fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5") == ["fr", "fr", "en"]
    assert parse_accept_language("en;q=0.1, ar") == ["ar", "en"]
    assert parse_accept_language("es;q=0") == []
    assert parse_accept_language(None) == []
