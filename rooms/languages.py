"""Languages a session can be followed and spoken in."""

from __future__ import annotations

# ISO 639-1 codes for spoken languages; "ils" stands for International Sign
# (it has no ISO 639-1 code; ISO 639-3 is "ils").
LANGUAGE_NAMES = {
    "ar": "العربية",
    "en": "English",
    "fr": "Français",
    "es": "Español",
    "ru": "Русский",
    "zh": "中文",
    "km": "ខ្មែរ",
    "ils": "International Sign",
}

DEFAULT_LANGUAGES = ("ar", "en", "fr", "es", "ils")
RTL_LANGUAGES = frozenset({"ar"})


def is_known(code: str) -> bool:
    return code in LANGUAGE_NAMES
