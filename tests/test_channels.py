"""Channel names shared by the relay, the booths and the pages."""

from interpretation.channels import ChannelKind, channel_of_voice, parse_channel, session_channels, voice_of

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


def test_the_floor_has_a_voice_per_publisher_and_a_booth_channel_one():
    assert voice_of("floor", 12) == "floor:12"
    assert voice_of("fr", 12) == "fr"
    assert channel_of_voice("floor:12") == "floor"
    assert channel_of_voice("fr") == "fr"
    # Not voices: captions channels, and names that only look alike.
    assert channel_of_voice("captions:fr") == "captions:fr"
    assert channel_of_voice("floor:x") == "floor:x"
