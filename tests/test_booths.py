"""The booth rules without a server: mic lock, handover, take-over, sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from interpretation.booths import HANDOVER_TIMEOUT, Booth, Booths, Interpreter, MicReason
from rooms.errors import Refused

T0 = datetime(2020, 12, 4, 12, 30, tzinfo=UTC)
HELENE, ANTOINE, OUTSIDER = 1, 2, 99


def french_booth() -> Booth:
    return Booth(
        "fr",
        [
            Interpreter(HELENE, "Hélène", ("en", "es"), is_present=True),
            Interpreter(ANTOINE, "Antoine", ("en", "es", "ar"), is_present=True),
        ],
    )


def refused(code: str, call, *args, **kwargs) -> None:
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code


def test_one_interpreter_on_air_at_a_time():
    booth = french_booth()
    change = booth.take(HELENE, T0)
    assert (change.live_id, change.live_name, change.since, change.reason) == (HELENE, "Hélène", T0, MicReason.TAKEN)
    refused("mic_taken", booth.take, ANTOINE, T0)
    refused("already_live", booth.take, HELENE, T0)
    refused("not_in_booth", booth.take, OUTSIDER, T0)
    assert booth.live_id == HELENE


def test_release_leaves_the_booth_off_air():
    booth = french_booth()
    booth.take(HELENE, T0)
    refused("not_live", booth.release, ANTOINE, T0)
    change = booth.release(HELENE, T0 + timedelta(minutes=30))
    assert change.live_id is None and change.previous_id == HELENE
    assert booth.live_id is None and booth.live_since is None
    assert booth.take(ANTOINE, T0).reason is MicReason.TAKEN


def test_accepted_handover_swaps_the_mic_at_once():
    booth = french_booth()
    booth.take(HELENE, T0)
    request = booth.request_handover(ANTOINE, T0 + timedelta(minutes=29))
    assert request.expires_at == T0 + timedelta(minutes=29) + HANDOVER_TIMEOUT
    refused("not_live", booth.answer_handover, ANTOINE, True, T0)
    accepted_at = T0 + timedelta(minutes=29, seconds=30)
    _, change = booth.answer_handover(HELENE, True, accepted_at)
    assert change is not None and change.reason is MicReason.HANDOVER
    assert (booth.live_id, booth.live_since, booth.handover) == (ANTOINE, accepted_at, None)


def test_declined_handover_keeps_the_mic():
    booth = french_booth()
    booth.take(HELENE, T0)
    booth.request_handover(ANTOINE, T0)
    _, change = booth.answer_handover(HELENE, False, T0 + timedelta(seconds=5))
    assert change is None and booth.live_id == HELENE and booth.handover is None
    refused("no_handover", booth.answer_handover, HELENE, True, T0 + timedelta(seconds=6))


def test_a_handover_request_expires_after_a_minute():
    booth = french_booth()
    booth.take(HELENE, T0)
    booth.request_handover(ANTOINE, T0)
    assert booth.pending_handover(T0 + HANDOVER_TIMEOUT - timedelta(seconds=1)) is not None
    assert booth.pending_handover(T0 + HANDOVER_TIMEOUT) is None
    refused("handover_expired", booth.answer_handover, HELENE, True, T0 + HANDOVER_TIMEOUT)
    assert booth.live_id == HELENE
    # Asking again starts a new minute.
    booth.request_handover(ANTOINE, T0 + timedelta(minutes=2))
    _, change = booth.answer_handover(HELENE, True, T0 + timedelta(minutes=2, seconds=30))
    assert change is not None and booth.live_id == ANTOINE


def test_handover_needs_someone_on_air_and_one_request_at_a_time():
    booth = french_booth()
    refused("nobody_live", booth.request_handover, ANTOINE, T0)
    booth.interpreters.append(Interpreter(3, "Claire", ("en",), is_present=True))
    booth.take(HELENE, T0)
    booth.request_handover(ANTOINE, T0)
    refused("handover_pending", booth.request_handover, 3, T0 + timedelta(seconds=10))
    refused("no_handover", booth.cancel_handover, 3, T0)
    booth.cancel_handover(ANTOINE, T0 + timedelta(seconds=20))
    booth.request_handover(3, T0 + timedelta(seconds=30))


def test_the_partner_takes_over_when_the_live_interpreter_is_gone():
    booth = french_booth()
    booth.take(HELENE, T0)
    booth.request_handover(ANTOINE, T0)
    booth.member(HELENE).is_present = False
    change = booth.take(ANTOINE, T0 + timedelta(seconds=3))
    assert change.reason is MicReason.TAKEN_OVER and change.previous_id == HELENE
    # The request was addressed to whoever was on air: it is gone with them.
    assert booth.live_id == ANTOINE and booth.handover is None


def test_a_booth_works_from_what_all_its_interpreters_understand():
    assert french_booth().works_from() == ("en", "es")
    assert Booth("ar").works_from() == ()


def test_sources_are_the_floor_or_another_booth():
    booth = french_booth()
    languages = ["ar", "en", "fr", "es", "ils"]
    assert booth.set_source(HELENE, "en", languages).source == "en"
    refused("invalid_source", booth.set_source, HELENE, "fr", languages)
    refused("invalid_source", booth.set_source, HELENE, "ru", languages)
    assert booth.set_source(HELENE, "floor", languages).source == "floor"


def test_booths_find_an_interpreter_and_a_captioner():
    booths = Booths({"fr": french_booth(), "en": Booth("en")}, captioners={7: "en"})
    assert booths.of(ANTOINE).language == "fr"
    refused("not_in_booth", booths.of, OUTSIDER)
    assert booths.caption_language(7) == "en"
    refused("not_captioner", booths.caption_language, HELENE)
