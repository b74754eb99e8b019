"""The media frame header: what the relay reads, and what it refuses."""

import struct

import pytest

from interpretation.frames import MAX_PAYLOAD, BadFrame, FrameHeader, Stream, decode, encode


def frame(channel="fr", stream=Stream.AUDIO, sequence=7, timestamp=20_000, key=True, config=False, payload=b"opus"):
    header = FrameHeader(channel, stream, sequence, timestamp, is_key=key, is_config=config)
    return encode(header, payload)


def test_a_frame_round_trips_with_its_payload_after_the_header():
    data = frame("ils", Stream.VIDEO, 2**32 - 1, 2**63, key=False, config=True, payload=b"\x00{}")
    header = decode(data)
    assert (header.channel, header.stream, header.sequence, header.timestamp_us) == (
        "ils",
        Stream.VIDEO,
        2**32 - 1,
        2**63,
    )
    assert (header.is_key, header.is_config) == (False, True)
    assert data[header.size :] == b"\x00{}"


def test_the_header_is_laid_out_byte_by_byte_as_documented():
    data = frame("fr", sequence=1, timestamp=2, key=True, payload=b"P")
    assert data == bytes([1, 1, 0, 2]) + b"fr" + struct.pack(">IQ", 1, 2) + b"P"
    assert decode(data).size == 4 + 2 + 12


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "bad_frame"),
        (b"\x01\x00", "bad_frame"),
        (bytes([2, 0, 0, 2]) + b"fr" + bytes(12) + b"x", "bad_version"),
        (bytes([1, 8, 0, 2]) + b"fr" + bytes(12) + b"x", "bad_frame"),
        (bytes([1, 0, 5, 2]) + b"fr" + bytes(12) + b"x", "bad_stream"),
        (bytes([1, 0, 0, 0]) + bytes(12) + b"x", "bad_channel"),
        (bytes([1, 0, 0, 17]) + b"a" * 17 + bytes(12) + b"x", "bad_channel"),
        (bytes([1, 0, 0, 2]) + b"F\xff" + bytes(12) + b"x", "bad_channel"),
        (bytes([1, 0, 0, 3]) + b"fr\n" + bytes(12) + b"x", "bad_channel"),
        (bytes([1, 0, 0, 2]) + b"fr" + bytes(11), "bad_frame"),
        (bytes([1, 0, 0, 2]) + b"fr" + bytes(12), "bad_payload"),
        (bytes([1, 0, 0, 2]) + b"fr" + bytes(12) + bytes(MAX_PAYLOAD + 1), "bad_payload"),
    ],
)
def test_bad_frames_are_refused_with_a_code(data, code):
    with pytest.raises(BadFrame) as refused:
        decode(data)
    assert refused.value.code == code
    assert refused.value.message


def test_random_bytes_never_raise_anything_but_bad_frame():
    import random

    rng = random.Random(8)
    for _ in range(5000):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 40)))
        if rng.random() < 0.5 and data:
            data = bytes([1]) + data[1:]
        try:
            decode(data)
        except BadFrame:
            pass


def test_encoding_refuses_what_decoding_would():
    with pytest.raises(BadFrame):
        frame(channel="Floor")
    with pytest.raises(BadFrame):
        frame(payload=b"")
    with pytest.raises(BadFrame):
        frame(sequence=-1)
