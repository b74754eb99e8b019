"""Live captions and booth chat: lines of text kept with their time.

A captioner types into their language's captions channel; each line is kept
with its timestamp (and the speech it was typed during) and exported with
the speeches. Booth partners' chat lines are kept the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Long enough for a sentence or two typed live; a line is sent when typed.
MAX_CAPTION_LENGTH = 500
MAX_MESSAGE_LENGTH = 500


@dataclass
class Caption:
    language: str
    text: str
    author_id: int
    author_name: str
    created_at: datetime
    speech_id: int | None = None
    id: int | None = None


@dataclass
class BoothMessage:
    language: str  # the booth's
    text: str
    author_id: int
    author_name: str
    created_at: datetime
    id: int | None = None
