"""Channel names shared by the relay, the booths and the pages."""

from interpretation.channels import ChannelKind, parse_channel, session_channels

LANGUAGES = ["ar", "en", "fr", "es", "ils"]


def test_a_session_has_the_floor_a_channel_per_language_and_captions_for_spoken_ones():
    names = [channel.name for channel in session_channels(LANGUAGES)]
    assert names[0] == "floor"
    assert names[1:6] == LANGUAGES
    assert names[6:] == ["captions:ar", "captions:en", "captions:fr", "captions:es"]


def test_sign_language_is_a_video_channel_with_no_captions():
    assert parse_channel("ils", LANGUAGES).kind is ChannelKind.SIGN
    assert parse_channel("fr", LANGUAGES).kind is ChannelKind.AUDIO
    assert parse_channel("captions:ils", LANGUAGES) is None


def test_channels_outside_the_session_languages_do_not_exist():
    assert parse_channel("km", LANGUAGES) is None
    assert parse_channel("captions:km", LANGUAGES) is None
    assert parse_channel("captions:fr", LANGUAGES).language == "fr"
    assert parse_channel("FLOOR", LANGUAGES) is None
