"""Keys made from names, where a person or a thing is added without one
(the console, a nomination, a CSV row without a key): readable in a link or
a list, valid as an event file's key, unique in the event."""

from __future__ import annotations

import re
import unicodedata

MAX_BASE = 80


def base_key(name: str, fallback: str) -> str:
    """``María López`` -> ``maria-lopez``; letters of any script are kept."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(char for char in plain if not unicodedata.combining(char)).lower()
    return re.sub(r"[\W_]+", "-", plain).strip("-")[:MAX_BASE].strip("-") or fallback


def free_key(name: str, taken: set[str], fallback: str = "participant") -> str:
    """A key made from ``name`` that is not in ``taken`` (which it joins)."""
    base = base_key(name, fallback)
    key, number = base, 2
    while key in taken:
        key, number = f"{base}-{number}", number + 1
    taken.add(key)
    return key
