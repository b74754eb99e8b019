"""Media frames: the binary messages of the media socket.

A frame is a small fixed header and the encoded media (an Opus packet, a VP8
frame, or a codec configuration) as the browser's WebCodecs encoder made it.
The relay reads the header only and forwards the whole frame untouched, so
the bytes a publisher sends are the bytes every listener receives.

Header, all integers big-endian (docs/protocol.md, "Media socket")::

    offset  size  field
    0       1     version, 1
    1       1     flags: bit 0 key frame, bit 1 codec configuration; others 0
    2       1     stream: 0 audio, 1 video
    3       1     length L of the channel name, 1..16
    4       L     channel name, ASCII (``floor``, ``fr``, ``ils``)
    4+L     4     sequence number, per stream, from 0, wrapping at 2**32
    8+L     8     timestamp in microseconds (the encoder's media time)
    16+L    ...   payload, 1..MAX_PAYLOAD bytes

A codec configuration frame's payload is UTF-8 JSON: the WebCodecs decoder
configuration (``codec``, ``sampleRate``, ``numberOfChannels``,
``codedWidth``...; a ``description`` in base64). It is also a key frame's
companion: a listener needs the last one and the last key frame to start.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

VERSION = 1
MAX_CHANNEL = 16
# A VP8 key frame of 500 kbit/s video is a few tens of KiB; leave room.
MAX_PAYLOAD = 256 * 1024
_FIXED = struct.Struct(">BBBB")
_TAIL = struct.Struct(">IQ")
_CHANNEL = re.compile(rb"^[a-z][a-z0-9:_-]*$")


class Stream(IntEnum):
    AUDIO = 0
    VIDEO = 1


class Flags(IntFlag):
    KEY = 1
    CONFIG = 2


_KNOWN_FLAGS = int(Flags.KEY | Flags.CONFIG)


class BadFrame(ValueError):
    """A frame that cannot be relayed, with the error code sent back."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class FrameHeader:
    channel: str
    stream: Stream
    sequence: int
    timestamp_us: int
    is_key: bool = False
    is_config: bool = False
    # Where the payload starts in the frame.
    size: int = 0


def encode(header: FrameHeader, payload: bytes) -> bytes:
    """A frame; refuses what ``decode`` would refuse."""
    name = header.channel.encode("ascii", "replace")
    if not 1 <= len(name) <= MAX_CHANNEL or not _CHANNEL.fullmatch(name):
        raise BadFrame("bad_channel", f"A channel name is 1 to {MAX_CHANNEL} lowercase ASCII characters.")
    if not 0 <= header.sequence < 2**32 or not 0 <= header.timestamp_us < 2**64:
        raise BadFrame("bad_frame", "Sequence or timestamp out of range.")
    if not 1 <= len(payload) <= MAX_PAYLOAD:
        raise BadFrame("bad_payload", f"A frame carries 1 to {MAX_PAYLOAD} bytes of media.")
    flags = (Flags.KEY if header.is_key else 0) | (Flags.CONFIG if header.is_config else 0)
    return (
        _FIXED.pack(VERSION, flags, int(header.stream), len(name))
        + name
        + _TAIL.pack(header.sequence, header.timestamp_us)
        + payload
    )


def decode(frame: bytes) -> FrameHeader:
    """The header of a frame, checked; the payload is ``frame[header.size:]``.

    Raises ``BadFrame`` (never anything else) for a frame that is not one."""
    if len(frame) < _FIXED.size:
        raise BadFrame("bad_frame", "A frame is shorter than its header.")
    version, flags, stream, length = _FIXED.unpack_from(frame)
    if version != VERSION:
        raise BadFrame("bad_version", f"Unknown frame version {version}; this server speaks {VERSION}.")
    if flags & ~_KNOWN_FLAGS:
        raise BadFrame("bad_frame", "Unknown flags are set.")
    if stream not in (Stream.AUDIO, Stream.VIDEO):
        raise BadFrame("bad_stream", "Stream is 0 (audio) or 1 (video).")
    if not 1 <= length <= MAX_CHANNEL:
        raise BadFrame("bad_channel", f"A channel name is 1 to {MAX_CHANNEL} characters.")
    start = _FIXED.size + length
    if len(frame) < start + _TAIL.size:
        raise BadFrame("bad_frame", "A frame is shorter than its header.")
    name = bytes(frame[_FIXED.size : start])
    if not _CHANNEL.fullmatch(name):
        raise BadFrame("bad_channel", "A channel name is lowercase ASCII.")
    sequence, timestamp = _TAIL.unpack_from(frame, start)
    size = start + _TAIL.size
    payload = len(frame) - size
    if not 1 <= payload <= MAX_PAYLOAD:
        raise BadFrame("bad_payload", f"A frame carries 1 to {MAX_PAYLOAD} bytes of media.")
    return FrameHeader(
        channel=name.decode("ascii"),
        stream=Stream(stream),
        sequence=sequence,
        timestamp_us=timestamp,
        is_key=bool(flags & Flags.KEY),
        is_config=bool(flags & Flags.CONFIG),
        size=size,
    )
