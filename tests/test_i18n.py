"""Every page string is translated into Arabic, French and Spanish.

The strings are extracted from every template under server/templates (so a
template another part of Tribune adds is covered the day it lands) and from
_strings.html, which holds the scripts' texts. A string missing from a
catalog, left empty or fuzzy, or whose placeholders differ from the English,
fails here; so does English text written into a template outside gettext and
a script asking for a string _strings.html does not have.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from server.i18n import PAGE_LANGUAGES, TEMPLATES, catalog_path, translations

ROOT = Path(__file__).resolve().parents[1]
TRANSLATED = [code for code in PAGE_LANGUAGES if code != "en"]
# Words that are the same in every language: the product's name.
NOT_TEXT = {"Tribune"}


def page_strings() -> dict[str, str]:
    """msgid -> the file it comes from, for every template and the server's
    Python (texts it names for the pages, such as a sign language's name)."""
    found: dict[str, str] = {}
    sources = [
        (TEMPLATES, [("**.html", "jinja2")], {"**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}),
        # The e-mails (server/mail.py), in the recipient's language.
        (TEMPLATES / "mail", [("**.txt", "jinja2")], {"**.txt": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}),
        (ROOT / "server", [("*.py", "python")], {}),
    ]
    for directory, method_map, options_map in sources:
        for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(directory), method_map=method_map, options_map=options_map
        ):
            # A plural is one message, by its singular.
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                found.setdefault(msgid, filename)
    return found


def placeholders(text: str) -> set[str]:
    """%(name)s (Jinja's trans) and {name} (the scripts' t())."""
    return set(re.findall(r"%\((\w+)\)s", text)) | set(re.findall(r"\{(\w+)\}", text))


def test_the_templates_have_strings_to_translate():
    strings = page_strings()
    # A broken extractor would make every other test here pass on nothing.
    assert "List of speakers" in strings and "Request the floor" in strings
    assert "Give the floor to the next speaker" in strings


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_page_string_has_a_translation(language):
    path = catalog_path(language)
    assert path.exists(), f"no catalog for {language}: {path}"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    problems = []
    for msgid, template in sorted(page_strings().items()):
        message = catalog.get(msgid)
        forms = message.string if message is not None and isinstance(message.string, tuple) else None
        if message is None or not message.string or (forms is not None and not all(forms)):
            problems.append(f"{template}: no {language} translation for {msgid!r}")
        elif message.fuzzy:
            problems.append(f"{template}: the {language} translation of {msgid!r} is marked fuzzy")
        elif forms is not None:
            # Arabic names zero, one and two in words: only the general form must show the number.
            if placeholders(forms[-1]) != placeholders(msgid) or any(
                not placeholders(form) <= placeholders(msgid) for form in forms
            ):
                problems.append(f"{template}: {language} {forms!r} has other placeholders than {msgid!r}")
        elif placeholders(message.string) != placeholders(msgid):
            problems.append(f"{template}: {language} {message.string!r} has other placeholders than {msgid!r}")
    assert problems == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_pages_use_the_catalog_as_written(language):
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    loaded = translations(language)
    for msgid in page_strings():
        written = catalog.get(msgid).string
        if isinstance(written, tuple):
            assert loaded.ngettext(msgid, catalog.get(msgid).id[1], 11) in written
        else:
            assert loaded.gettext(msgid) == written


def _outside_gettext(source: str) -> str:
    """A template's text once gettext, Jinja code, comments, scripts and tags are taken out."""
    for pattern in (
        r"\{#.*?#\}",
        r"\{%\s*block body_class\s*%\}.*?\{%\s*endblock\s*%\}",  # a CSS class, not text
        r"\{%-?\s*trans\b.*?endtrans\s*-?%\}",
        r"\{%.*?%\}",
        r"\{\{.*?\}\}",
        r"<script\b.*?</script>",
        r"<style\b.*?</style>",
        r"<[^>]*>",
        r"&\w+;",
    ):
        source = re.sub(pattern, " ", source, flags=re.S)
    return source


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_english_is_written_outside_gettext(template):
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    words = [word for word in re.findall(r"[A-Za-z][A-Za-z'’]+", _outside_gettext(source)) if word not in NOT_TEXT]
    assert words == [], f"{template}: text outside _() or trans: {words}"
    # Attributes a person hears or reads must come from gettext too.
    literal = re.findall(r'\b(?:aria-label|title|placeholder|alt)="([^"{]*[A-Za-z][^"{]*)"', source)
    assert literal == [], f"{template}: attribute text outside gettext: {literal}"


def test_every_script_string_is_in_strings_html():
    source = (TEMPLATES / "_strings.html").read_text(encoding="utf-8")
    keys = set(re.findall(r'"([\w.]+)":\s*_\(', source))
    used = set()
    for script in (ROOT / "static").glob("*.js"):
        used |= {(script.name, key) for key in re.findall(r"\bt\(\s*[\"']([\w.]+)[\"']", script.read_text("utf-8"))}
    missing = sorted(f"{name}: {key}" for name, key in used if key not in keys)
    assert missing == []


def refusal_codes() -> dict[str, str]:
    """Every error code the server can send, from the code that raises it."""
    pattern = re.compile(r'\b(?:Refused|BadCommand|error_message)\(\s*"([a-z_]+)"')
    codes: dict[str, str] = {}
    for package in ("rooms", "interpretation", "server"):
        for source in sorted((ROOT / package).rglob("*.py")):
            for code in pattern.findall(source.read_text(encoding="utf-8")):
                codes.setdefault(code, str(source.relative_to(ROOT)))
    return codes


def test_every_refusal_reads_in_the_page_language():
    """A refusal is shown by its code (static/tribune.js errorText): each code
    the server sends needs its "error.<code>" text in _strings.html, which
    the tests above then hold to a translation in every catalog."""
    codes = refusal_codes()
    assert {"forbidden", "list_closed", "duplicate_request", "rate_limited"} <= set(codes)
    source = (TEMPLATES / "_strings.html").read_text(encoding="utf-8")
    keys = set(re.findall(r'"error\.([\w]+)":\s*_\(', source))
    missing = sorted(f"{where}: {code}" for code, where in codes.items() if code not in keys)
    assert missing == []
