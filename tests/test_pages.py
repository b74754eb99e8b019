"""The HTML pages, fetched over HTTP from a live server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from rooms.delegations import DEFAULT_PRECEDENCE
from rooms.floor import DEFAULT_TIME_LIMITS
from server import models
from server.auth import COOKIE
from server.cli import DEMO_FILE, DEMO_SLUG, demo_links
from server.db import create_engine, migrate, sessionmaker
from server.i18n import parse_accept_language
from server.landing import landing_for, meeting_session
from server.links import participant_links
from server.loader import load_event_file
from server.settings import Settings
from tests.conftest import SECRET, LiveServer, free_port


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


# ---- where a join link lands ---------------------------------------------------


FLOOR_RULES = {
    "precedence": [tier.value for tier in DEFAULT_PRECEDENCE],
    "time_limits": {tier.value: limit for tier, limit in DEFAULT_TIME_LIMITS.items()},
}


def _programme(*hours: tuple[int, int]) -> list[models.Session]:
    """Sessions on 4 December 2020, one per (start, end) hour pair, in order."""
    day = datetime(2020, 12, 4, tzinfo=UTC)
    return [
        models.Session(id=index + 1, starts_at=day + timedelta(hours=start), ends_at=day + timedelta(hours=end))
        for index, (start, end) in enumerate(hours)
    ]


def test_the_meeting_is_in_the_session_on_now_else_the_next_else_the_last_active():
    sessions = _programme((9, 10), (10, 12), (14, 15))
    day = datetime(2020, 12, 4, tzinfo=UTC)
    assert meeting_session(sessions, day + timedelta(hours=11), {}) == 2
    assert meeting_session(sessions, day + timedelta(hours=13), {}) == 3
    assert meeting_session(sessions, day + timedelta(hours=8), {}) == 1
    later = day + timedelta(days=1)
    assert meeting_session(sessions, later, {}) == 1
    assert meeting_session(sessions, later, {1: day + timedelta(hours=9), 2: day + timedelta(hours=11)}) == 2
    assert meeting_session([], later, {}) is None


def test_a_person_lands_on_the_meeting_or_the_nearest_session_they_may_enter():
    sessions = _programme((9, 10), (10, 12), (14, 15))
    assert landing_for(sessions, 2, {1, 2, 3}) == 2
    assert landing_for(sessions, 2, {1, 3}) == 3
    assert landing_for(sessions, 2, {1}) == 1
    assert landing_for(sessions, 2, set()) is None


async def test_chair_and_delegates_land_where_the_floor_moved_last(server, world, db, connect):
    """After the event, everyone's link lands on the session last used: the
    chair of another session does not end up alone on their console."""
    async with db() as s, s.begin():
        opening = models.Session(
            event_id=world.event_id,
            key="opening",
            title="Opening",
            starts_at=datetime(2020, 12, 4, 12, 0, tzinfo=UTC),
            ends_at=datetime(2020, 12, 4, 12, 30, tzinfo=UTC),
            **FLOOR_RULES,
        )
        s.add(opening)
    async with client(server) as http:
        # Nothing has happened yet: the first session of the programme.
        france = await http.get(f"/join/{world.tokens['france']}")
        assert france.headers["location"] == f"/sessions/{opening.id}"
    chair_socket = await connect("chair")
    assert (await chair_socket.command("close_list"))["type"] == "ack"
    await chair_socket.close()
    async with client(server) as http:
        chair = await http.get(f"/join/{world.tokens['chair']}")
        france = await http.get(f"/join/{world.tokens['france']}")
    assert chair.headers["location"] == f"/sessions/{world.session_id}/moderate"
    assert france.headers["location"] == f"/sessions/{world.session_id}"


async def test_the_demo_links_land_the_moderator_and_delegates_on_one_session(database_url):
    """The links `tribune serve --demo` prints: the moderator's console and
    every participant's page are the same session, at once."""
    engine = create_engine(database_url)
    await migrate(engine)
    maker = sessionmaker(engine)
    settings = Settings(database_url=database_url, secret=SECRET, port=free_port())
    try:
        await load_event_file(maker, DEMO_FILE, SECRET)
        lines = demo_links(await participant_links(maker, settings, DEMO_SLUG), settings.base_url)
    finally:
        await engine.dispose()
    printed = "\n".join(lines).splitlines()
    urls = [line.strip() for line in printed if line.strip().startswith(f"{settings.base_url}/join/")]
    assert len(urls) >= 5
    live = LiveServer(settings)
    await live.start()
    try:
        landed = []
        async with client(live) as http:
            for url in urls:
                response = await http.get(url.removeprefix(settings.base_url))
                assert response.status_code == 303
                landed.append(response.headers["location"])
    finally:
        await live.stop()
    console, *others = landed
    assert console.endswith("/moderate")
    session = console.removesuffix("/moderate")
    # Delegates on the session's page, interpreters and the captioner in its
    # booth, the room's computer on its projector view.
    pages = {location.removesuffix("/booth").removesuffix("/screen") for location in others if "/sessions/" in location}
    assert pages == {session}
    assert f"{session}/booth" in others and f"{session}/screen" in others


# ---- without a join link -------------------------------------------------------


async def test_without_a_join_link_the_session_page_says_so_and_offers_nothing_that_fails(server, world):
    async with client(server) as http:
        response = await http.get(f"/sessions/{world.session_id}")
    assert response.status_code == 200
    assert "Open your personal join link first" in response.text
    for live_part in ('id="ask-form"', 'id="speakers"', "Nobody has the floor", "participant.js"):
        assert live_part not in response.text


async def test_outside_the_session_the_page_says_you_are_not_invited(server, world, db):
    async with db() as s, s.begin():
        other = models.Session(
            event_id=world.event_id,
            key="closed-door",
            title="Closed-door meeting",
            starts_at=datetime(2020, 12, 4, 16, 0, tzinfo=UTC),
            ends_at=datetime(2020, 12, 4, 17, 0, tzinfo=UTC),
            **FLOOR_RULES,
        )
        s.add(other)
        await s.flush()
        france = await s.get(models.Participant, world.participants["france"])
        france.session_ids = [world.session_id]
    async with client(server, cookies={COOKIE: world.tokens["france"]}) as http:
        response = await http.get(f"/sessions/{other.id}")
    assert "You are not invited to this session" in response.text
    assert 'id="ask-form"' not in response.text


async def test_the_spoken_language_is_chosen_not_guessed_from_the_page(server, world):
    async with client(server, cookies={COOKIE: world.tokens["france"]}) as http:
        page = (await http.get(f"/sessions/{world.session_id}", params={"lang": "ar"})).text
    select = re.search(r'<select id="ask-language".*?</select>', page, re.S).group(0)
    assert "required" in select
    assert "selected" in re.search(r"<option[^>]*>", select).group(0)  # the empty "choose" option
    assert re.search(r'<option value="ar"[^>]*selected', select) is None


async def test_dates_and_hours_follow_the_page_language(server, world):
    async with client(server) as http:
        french = (await http.get("/", params={"lang": "fr"})).text
        spanish = (await http.get("/", params={"lang": "es"})).text
        arabic = (await http.get("/", params={"lang": "ar"})).text
    assert "vendredi 4 décembre 2020" in french
    assert "viernes, 4 de diciembre de 2020" in spanish
    assert "الجمعة" in arabic and "ديسمبر" in arabic


async def test_a_break_is_listed_without_a_floor_to_follow(server, world, db):
    async with db() as s, s.begin():
        panel = await s.get(models.Session, world.session_id)
        lunch = models.Session(
            event_id=world.event_id,
            key="lunch",
            title="Lunch break",
            kind="break",
            starts_at=panel.ends_at,
            ends_at=panel.ends_at + timedelta(hours=1),
            precedence=panel.precedence,
            time_limits=panel.time_limits,
        )
        s.add(lunch)
        await s.flush()
        lunch_id = lunch.id
    async with client(server, cookies={COOKIE: world.tokens["chair"]}) as http:
        page = (await http.get("/")).text
    item = page[page.index("Lunch break") :]
    item = item[: item.index("</li>")]
    assert "Interpreted into" not in item and f"/sessions/{lunch_id}" not in item
    panel_item = page[page.index(">Panel<") :]
    assert "Interpreted into" in panel_item[: panel_item.index("</li>")]
