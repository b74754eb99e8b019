"""Who receives an event: everyone, the moderators, some participants, or a mix.

One rule, used for live delivery, replay and snapshots alike. The stored
form is a short string so the event log and the bus carry it as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rooms.actor import Actor


@dataclass(frozen=True, slots=True)
class Recipients:
    everyone: bool = False
    # Those who run the floor: organizers, chairs, moderators.
    moderators: bool = False
    participants: frozenset[int] = frozenset()

    def includes(self, actor: Actor) -> bool:
        return self.everyone or (self.moderators and actor.runs_floor) or actor.participant_id in self.participants

    def encode(self) -> str:
        if self.everyone:
            return "all"
        parts = ["moderators"] if self.moderators else []
        parts += [f"p{participant_id}" for participant_id in sorted(self.participants)]
        return ",".join(parts) or "nobody"

    @staticmethod
    def decode(text: str) -> Recipients:
        return _decode(text)


@lru_cache(maxsize=1024)
def _decode(text: str) -> Recipients:
    if text == "all":
        return EVERYONE
    parts = set(text.split(","))
    return Recipients(
        moderators="moderators" in parts,
        participants=frozenset(int(part[1:]) for part in parts if part.startswith("p")),
    )


EVERYONE = Recipients(everyone=True)
MODERATORS = Recipients(moderators=True)


def moderators_and(*participant_ids: int) -> Recipients:
    """The moderators and these participants (e.g. the authors of a question)."""
    return Recipients(moderators=True, participants=frozenset(participant_ids))


def only(*participant_ids: int) -> Recipients:
    return Recipients(participants=frozenset(participant_ids))
