"""Page languages: pick a locale per request, and one Jinja2 environment per locale.

Each locale gets its own environment with its Babel catalog installed
(``install_gettext_translations``), so rendering never swaps translations on a
shared environment while another request is using it. A missing catalog falls
back to ``NullTranslations``: the English source text.

Catalogs are read from their ``.po`` files when first used: there is no
compiled ``.mo`` to forget to rebuild after editing a translation.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from rooms.languages import LANGUAGE_NAMES, RTL_LANGUAGES

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
LOCALE_DIR = HERE / "locale"

# The languages the pages are offered in, in the order of the switcher.
PAGE_LANGUAGES = ("ar", "en", "fr", "es")
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "lang"


def parse_accept_language(header: str | None) -> list[str]:
    """Primary language subtags from an Accept-Language header, best first."""
    if not header:
        return []
    weighted = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = tag.strip().split("-")[0].lower()
        if code and code != "*" and quality > 0:
            weighted.append((-quality, index, code))
    return [code for _, _, code in sorted(weighted)]


def choose_language(request: Request) -> str:
    """``?lang=``, then the ``lang`` cookie, then Accept-Language, then English."""
    candidates = [request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)]
    candidates += parse_accept_language(request.headers.get("accept-language"))
    for code in candidates:
        if code in PAGE_LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def text_direction(language: str) -> str:
    return "rtl" if language in RTL_LANGUAGES else "ltr"


def N_(text: str) -> str:
    """Marks a text for extraction; it is translated where it is shown."""
    return text


# A sign language is named through the catalog; the others by Babel's locale
# data. Languages are named in the page's language ("French booth" on an
# English page), except in the language picker, where each names itself.
SIGN_LANGUAGE_NAMES = {"ils": N_("International Sign")}


@cache
def language_name(code: str, page_language: str) -> str:
    """A language's name in the page's language."""
    if code in SIGN_LANGUAGE_NAMES:
        return str(translations(page_language).gettext(SIGN_LANGUAGE_NAMES[code]))
    name = str(Locale.parse(page_language).languages.get(code) or "")
    if not name:
        return LANGUAGE_NAMES.get(code, code)
    # Babel writes them as inside a sentence ("français"); the pages show them as labels.
    return name[:1].upper() + name[1:]


def language_names(page_language: str) -> dict[str, str]:
    """Every known language's name in the page's language, for the page scripts (``language.<code>``)."""
    return {f"language.{code}": language_name(code, page_language) for code in LANGUAGE_NAMES}


def language_label(code: str, page_language: str) -> dict[str, str]:
    """A language as the pages show it: its code, its name, and the language
    that name is written in (for the ``lang`` attribute)."""
    return {"code": code, "name": language_name(code, page_language), "lang": page_language}


def format_moment(moment: datetime | None, zone: str, language: str) -> str:
    """A moment (a deadline, a session's start) as the language writes a date
    and an hour, in the event's zone, named so nobody reads it as their own."""
    if moment is None:
        return ""
    tz = ZoneInfo(zone)
    day = format_skeleton("yMMMMd", moment, tzinfo=tz, locale=language)
    hour = format_skeleton("Hm", moment, tzinfo=tz, locale=language)
    return f"{day}, {hour} ({zone})"


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


def lang_attributes(text_language: str | None, page_language: str) -> Markup:
    """``lang``/``dir`` for a text that may not be in the page's language.

    Organizers' text in another language is marked so a screen reader voices it
    right and Arabic reads right to left on an English page; text whose
    language nobody said gets ``dir="auto"``."""
    if text_language is None:
        return Markup(' dir="auto"')
    if text_language == page_language:
        return Markup("")
    return Markup(' lang="{}" dir="{}"').format(text_language, text_direction(text_language))


@cache
def translations(language: str) -> NullTranslations:
    path = catalog_path(language)
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    # Fuzzy entries are guesses nobody checked: show the English instead.
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


@cache
def templates(language: str) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    # Added by the jinja2.ext.i18n extension at run time, unknown to the stubs.
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang_attributes"] = lang_attributes
    env.globals["language_names"] = language_names
    env.globals["page_languages"] = [(code, LANGUAGE_NAMES.get(code, code)) for code in PAGE_LANGUAGES]
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    """Render a page in the request's language; remember an explicit ``?lang=``."""
    language = choose_language(request)
    context = {"lang": language, "dir": text_direction(language), **(context or {})}
    response = templates(language).TemplateResponse(request, name, context, status_code=status_code)
    if request.query_params.get("lang") == language and request.cookies.get(LANG_COOKIE) != language:
        response.set_cookie(LANG_COOKIE, language, max_age=60 * 60 * 24 * 365, samesite="lax")
    return response
