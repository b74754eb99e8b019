"""Event content in several languages: a title or text given per language.

An event file may give a text as a plain string (written in whatever language
the organizer wrote it) or as ``{en: ..., fr: ...}``. Both are kept as one
mapping from language code to text; a plain string is kept under ``ANY``, the
key for "no language said". Each viewer is shown their language, else the
text given without a language, else English, else the first one given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from rooms.languages import LANGUAGE_NAMES, is_known

ANY = ""
FALLBACK_LANGUAGE = "en"

Texts = dict[str, str]


@dataclass(frozen=True, slots=True)
class Picked:
    text: str
    # The language the text is written in, when the file said; pages mark it
    # with ``lang`` so a screen reader reads a French title with a French voice
    # on an English page.
    language: str | None


def pick(texts: Mapping[str, str] | None, language: str) -> Picked:
    if not texts:
        return Picked("", None)
    for code in (language, ANY, FALLBACK_LANGUAGE):
        if texts.get(code):
            return Picked(texts[code], code or None)
    code, text = next(iter(texts.items()))
    return Picked(text, code or None)


def primary(texts: Mapping[str, str]) -> str:
    """The one text kept for what has no viewer language (CLI output, exports)."""
    return pick(texts, ANY).text


def _as_texts(value: object) -> object:
    if isinstance(value, str):
        return {ANY: value}
    if not isinstance(value, dict):
        raise ValueError("give a text, or one text per language such as {en: ..., fr: ...}")
    return value


def _languages_known(texts: Texts) -> Texts:
    unknown = [code for code in texts if code != ANY and not is_known(code)]
    if unknown:
        raise ValueError(f"unknown language {unknown[0]!r} (known: {', '.join(LANGUAGE_NAMES)})")
    return texts


# Field types for the event file: a plain string or ``{lang: text}``.
LocalizedTitle = Annotated[
    Texts,
    BeforeValidator(_as_texts),
    Field(min_length=1),
    AfterValidator(_languages_known),
    AfterValidator(lambda texts: _lengths(texts, 1, 300)),
]
LocalizedText = Annotated[
    Texts,
    BeforeValidator(_as_texts),
    AfterValidator(_languages_known),
    AfterValidator(lambda texts: _lengths(texts, 0, 10_000)),
]


def longest(texts: Texts, most: int) -> Texts:
    """Refuse a text longer than ``most`` (a column shorter than a title's)."""
    return _lengths(texts, 1, most)


def _lengths(texts: Texts, shortest: int, longest: int) -> Texts:
    for code, text in texts.items():
        where = f" ({code})" if code else ""
        if len(text.strip()) < shortest:
            raise ValueError(f"the text{where} is empty")
        if len(text) > longest:
            raise ValueError(f"the text{where} is longer than {longest} characters")
    return texts
