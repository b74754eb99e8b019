"""Relay choice from the floor language, and pass-through, without a server."""

from __future__ import annotations

from interpretation.booths import Booth, Booths, Interpreter
from interpretation.relay import advise, follow


def booths() -> Booths:
    # The demo's pattern: the English booth covers Arabic; French and Spanish
    # do not, and take relay from English.
    def booth(code: str, *works_from: tuple[str, ...], live: int | None = None) -> Booth:
        people = [Interpreter(10 * len(code) + n, f"{code}{n}", languages) for n, languages in enumerate(works_from)]
        return Booth(code, people, live_id=live)

    return Booths(
        {
            "ar": booth("ar", ("en", "fr"), ("en", "fr")),
            "en": booth("en", ("ar", "fr", "es"), ("ar", "fr")),
            "fr": booth("fr", ("en", "es"), ("es", "en")),
            "es": booth("es", ("fr", "en"), ("en", "fr")),
            "ils": booth("ils", ("en", "fr")),
        }
    )


def test_a_speaker_in_arabic_sends_the_french_booth_to_the_english_relay():
    all_booths = booths()
    advice = advise(all_booths.booths["fr"], all_booths, "ar")
    assert (advice.needs_relay, advice.relay, advice.is_passthrough) == (True, "en", False)
    assert advise(all_booths.booths["ils"], all_booths, "ar").relay == "en"


def test_the_booth_of_the_speakers_language_carries_the_floor():
    all_booths = booths()
    advice = advise(all_booths.booths["ar"], all_booths, "ar")
    assert advice.is_passthrough and not advice.needs_relay
    assert not advise(all_booths.booths["en"], all_booths, "ar").is_passthrough


def test_no_relay_when_the_booth_understands_the_speaker():
    all_booths = booths()
    advice = advise(all_booths.booths["fr"], all_booths, "es")
    assert (advice.needs_relay, advice.relay) == (False, None)
    assert advise(all_booths.booths["fr"], all_booths, None) == advice.__class__("fr", None, False, None, False)


def test_a_relay_booth_must_understand_the_speaker_and_live_booths_come_first():
    all_booths = booths()
    # The Spanish booth's interpreters work from fr and en; only en covers ar.
    assert advise(all_booths.booths["es"], all_booths, "ar").relay == "en"
    # For Russian nobody can relay: the booth is told so.
    advice = advise(all_booths.booths["fr"], all_booths, "ru")
    assert (advice.needs_relay, advice.relay) == (True, None)
    # The Arabic booth works from en then fr; for Spanish only fr understands.
    assert advise(all_booths.booths["ar"], all_booths, "es").relay == "fr"
    # Once English covers Spanish too, the booth's order of preference decides...
    for interpreter in all_booths.booths["en"].interpreters:
        interpreter.works_from += ("es",)
    assert advise(all_booths.booths["ar"], all_booths, "es").relay == "en"
    # ...unless only the other booth is on air.
    all_booths.booths["fr"].live_id = all_booths.booths["fr"].interpreters[0].participant_id
    assert advise(all_booths.booths["ar"], all_booths, "es").relay == "fr"


def test_automatic_relay_moves_the_interpreters_and_back():
    all_booths = booths()
    french = all_booths.booths["fr"]
    assert follow(french, advise(french, all_booths, "ar")) == []  # not automatic: only advised
    french.is_auto_relay = True
    switches = follow(french, advise(french, all_booths, "ar"))
    assert [s.source for s in switches] == ["en", "en"]
    french.relay_advice = "en"
    back = follow(french, advise(french, all_booths, "es"))
    assert [s.source for s in back] == ["floor", "floor"]
    assert all(i.source == "floor" for i in french.interpreters)
