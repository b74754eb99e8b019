"""The channels a listener can pick, named the same everywhere.

A session's channels are ``floor`` (the original sound and picture of whoever
holds the floor), one audio channel per spoken language (named by its code:
``fr``), one video channel for sign language (``ils``), and one text captions
channel per language (``captions:fr``). The media relay, the booth commands
and the pages all use these names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rooms.languages import is_known

FLOOR = "floor"
CAPTIONS_PREFIX = "captions:"
SIGN_LANGUAGES = frozenset({"ils"})


class ChannelKind(StrEnum):
    FLOOR = "floor"
    AUDIO = "audio"  # an interpretation booth's spoken output
    SIGN = "sign"  # a sign-language interpreter's video
    CAPTIONS = "captions"


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    kind: ChannelKind
    language: str | None  # None for the floor: its language is the speaker's

    def __str__(self) -> str:
        return self.name


def is_sign_language(code: str) -> bool:
    return code in SIGN_LANGUAGES


def interpretation_channel(language: str) -> Channel:
    """The channel a booth working into ``language`` speaks (or signs) into."""
    kind = ChannelKind.SIGN if is_sign_language(language) else ChannelKind.AUDIO
    return Channel(language, kind, language)


def captions_channel(language: str) -> Channel:
    return Channel(CAPTIONS_PREFIX + language, ChannelKind.CAPTIONS, language)


FLOOR_CHANNEL = Channel(FLOOR, ChannelKind.FLOOR, None)


def session_channels(languages: Iterable[str]) -> list[Channel]:
    """Every channel of a session interpreted into ``languages``, floor first."""
    languages = list(dict.fromkeys(languages))
    channels = [FLOOR_CHANNEL]
    channels += [interpretation_channel(code) for code in languages]
    channels += [captions_channel(code) for code in languages if not is_sign_language(code)]
    return channels


def voice_of(channel: str, participant_id: int) -> str:
    """The name a publisher's frames carry in ``channel``.

    The floor has several voices at once (the speaker, the chair speaking
    over them, the room's feed), each its own stream that listeners mix, so
    each is named after its publisher: ``floor:12``. A booth's channel has
    one voice, its live interpreter's, named as the channel."""
    return f"{FLOOR}:{participant_id}" if channel == FLOOR else channel


def channel_of_voice(name: str) -> str:
    """The channel a frame named ``name`` is heard in: ``floor`` for ``floor:12``."""
    base, separator, publisher = name.partition(":")
    if base == FLOOR and separator and publisher.isdigit():
        return FLOOR
    return name


def parse_channel(name: str, languages: Iterable[str]) -> Channel | None:
    """The channel called ``name`` in a session with these languages, or None."""
    if name == FLOOR:
        return FLOOR_CHANNEL
    offered = set(languages)
    if name.startswith(CAPTIONS_PREFIX):
        code = name.removeprefix(CAPTIONS_PREFIX)
        if code in offered and is_known(code) and not is_sign_language(code):
            return captions_channel(code)
        return None
    if name in offered and is_known(name):
        return interpretation_channel(name)
    return None
