"""Event content in several languages: each viewer reads their own."""

from __future__ import annotations

import textwrap

import httpx
import pytest
from sqlalchemy import select

from server import models
from server.loader import EventFileError, load_event, parse_event
from server.localized import pick
from server.settings import Settings
from tests.conftest import SECRET, LiveServer, free_port

BILINGUAL = textwrap.dedent("""\
    event:
      slug: bilingual
      title: {en: Cooperation and assistance, fr: Coopération et assistance, ar: التعاون والمساعدة}
      description:
        en: Financing victim assistance.
        fr: Financer l'assistance aux victimes.
      timezone: Europe/Brussels
      languages: [ar, en, fr, es, ils]
    sessions:
      - key: panel
        title: {en: Panel discussion, fr: Table ronde}
        description: Moderated by Thailand.
        starts: "2020-12-04 13:45"
        ends: "2020-12-04 15:10"
        languages: [en, fr, ils]
      - key: closing
        title: Conclusions
        starts: "2020-12-04 15:10"
        ends: "2020-12-04 15:30"
    """)


def test_a_viewer_reads_their_language_then_the_unmarked_text_then_english():
    texts = {"en": "Opening", "fr": "Ouverture"}
    assert pick(texts, "fr").text == "Ouverture" and pick(texts, "fr").language == "fr"
    assert pick(texts, "ar").text == "Opening" and pick(texts, "ar").language == "en"
    assert pick({"": "Apertura", "en": "Opening"}, "ar").text == "Apertura"
    assert pick({"": "Apertura"}, "ar").language is None
    assert pick({"es": "Apertura"}, "ar").text == "Apertura"
    assert pick({}, "ar").text == ""


def _broken(old: str, new: str) -> EventFileError:
    with pytest.raises(EventFileError) as caught:
        parse_event(BILINGUAL.replace(old, new), "event.yaml")
    return caught.value


def test_unknown_language_empty_text_or_a_session_language_the_event_lacks_are_refused_with_their_line():
    error = _broken("fr: Table ronde", "xx: Table ronde")
    assert error.line == 11 and "unknown language 'xx'" in error.reason
    error = _broken("fr: Table ronde", "fr: ' '")
    assert error.line == 11 and "empty" in error.reason
    error = _broken("languages: [en, fr, ils]", "languages: [en, km]")
    assert error.line == 15 and "'km' is not one of the event's languages" in error.reason
    error = _broken("title: Conclusions", "title: [Conclusions]")
    assert error.line == 17 and "one text per language" in error.reason


async def test_loading_keeps_every_language_and_one_text_for_exports(db):
    await load_event(db, parse_event(BILINGUAL, "event.yaml"), SECRET)
    async with db() as session:
        event = await session.scalar(select(models.Event))
        panel, closing = (await session.scalars(select(models.Session).order_by(models.Session.key))).all()[::-1]
    assert event.titles["ar"] == "التعاون والمساعدة" and event.title == "Cooperation and assistance"
    assert panel.descriptions == {"": "Moderated by Thailand."}
    assert panel.languages == ["en", "fr", "ils"] and closing.languages is None
    assert closing.titles == {"": "Conclusions"}


@pytest.fixture
async def bilingual_server(database_url, db):
    await load_event(db, parse_event(BILINGUAL, "event.yaml"), SECRET)
    live = LiveServer(Settings(database_url=database_url, secret=SECRET, port=free_port()))
    await live.start()
    yield live
    await live.stop()


async def _programme(server, language: str) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        response = await http.get("/", params={"lang": language})
    assert response.status_code == 200
    return response.text


async def test_the_programme_is_in_the_viewers_language_and_marks_text_in_another(bilingual_server):
    french = await _programme(bilingual_server, "fr")
    assert ">Coopération et assistance</h2>" in french and "Financer l&#39;assistance" in french
    assert "Table ronde" in french and "Panel discussion" not in french

    arabic = await _programme(bilingual_server, "ar")
    assert ">التعاون والمساعدة</h2>" in arabic
    # No Arabic title for the panel: English, marked as such for screen readers
    # and laid out left to right inside the Arabic page.
    assert '<span lang="en" dir="ltr">Panel discussion</span>' in arabic
    # Text given without a language is isolated, not claimed to be Arabic.
    assert '<span dir="auto">Conclusions</span>' in arabic


async def test_the_programme_says_which_languages_each_session_is_interpreted_into(bilingual_server):
    page = await _programme(bilingual_server, "en")
    panel, closing = page.split('<li class="session-item">')[1:]
    assert "Panel discussion" in panel and "Conclusions" in closing
    # Named in the page's language: "French", not "Français", on an English page.
    assert "Interpreted into" in panel and ">French<" in panel and ">Arabic<" not in panel
    assert ">Arabic<" in closing and ">Spanish<" in closing and "Français" not in panel + closing
