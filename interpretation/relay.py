"""Source and relay: what each booth should hear for the speaker's language.

Plain Python, no I/O. When the floor language (the language the current
speaker declared) is:

- the booth's own language: the booth's channel carries the floor as it is
  (pass-through); its listeners hear the original;
- one the booth works from: the booth interprets from the floor;
- any other: the booth needs a relay, the output of another booth whose
  language it works from and which itself understands the speaker. Booths on
  air come first, then the booth's order of preference.
"""

from __future__ import annotations

from dataclasses import dataclass

from interpretation.booths import Booth, Booths
from interpretation.channels import FLOOR, is_sign_language


@dataclass(frozen=True)
class Advice:
    language: str  # the booth advised
    floor_language: str | None
    is_passthrough: bool
    # The booth channel to take relay from; None when the floor will do, or
    # when no booth can give a relay (``needs_relay`` tells them apart).
    relay: str | None
    needs_relay: bool


def advise(booth: Booth, booths: Booths, floor_language: str | None) -> Advice:
    if floor_language is None or floor_language == booth.language:
        return Advice(booth.language, floor_language, floor_language is not None, None, False)
    works_from = booth.works_from()
    if floor_language in works_from:
        return Advice(booth.language, floor_language, False, None, False)
    relay = _best_relay(booth, booths, floor_language, works_from)
    return Advice(booth.language, floor_language, False, relay.language if relay else None, True)


def _best_relay(booth: Booth, booths: Booths, floor_language: str, works_from: tuple[str, ...]) -> Booth | None:
    candidates = [
        other
        for other in booths.booths.values()
        if other is not booth
        and other.interpreters
        # A spoken relay: a sign-language booth's output is video.
        and not is_sign_language(other.language)
        and other.language in works_from
        and floor_language in other.works_from()
    ]
    candidates.sort(key=lambda other: (other.live_id is None, works_from.index(other.language)))
    return candidates[0] if candidates else None


@dataclass(frozen=True)
class SourceSwitch:
    participant_id: int
    source: str


def follow(booth: Booth, advice: Advice) -> list[SourceSwitch]:
    """A booth set to relay automatically: its interpreters move to the advised
    relay, or back to the floor from a relay that is no longer advised."""
    if not booth.is_auto_relay:
        return []
    target = advice.relay or FLOOR
    switches = []
    for interpreter in booth.interpreters:
        if interpreter.source != target and (advice.relay is not None or interpreter.source == booth.relay_advice):
            interpreter.source = target
            switches.append(SourceSwitch(interpreter.participant_id, target))
    return switches
