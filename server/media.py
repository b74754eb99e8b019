"""The media socket's messages: one socket per participant per session at /sessions/{id}/media.

Authenticated exactly like the command socket (the join cookie or a token,
the same origin rule), it carries binary frames (interpretation.frames) and
a few JSON control messages: ``listen``, ``stop``, ``publish``,
``unpublish``, read here. The socket itself is served on uvicorn's
connection (server/media_wire.py); the relay (server/media_relay.py)
decides and forwards.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from rooms.errors import Refused
from server.media_relay import MediaSocket, SessionMedia

# Frames per second a socket may send (audio, video and controls together):
# 50 Opus packets and 30 video frames a second fit with room for bursts.
FRAMES_PER_SECOND = 200.0
FRAME_BURST = 400
FLOOD_STRIKES = 400
MAX_CONTROL_BYTES = 1024
# Frames a listener may have waiting before the oldest are dropped: a few
# seconds of the channel, the floor underneath and video.
MEDIA_QUEUE = 256
MEDIA_QUEUE_BYTES = 1024 * 1024

ChannelName = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[a-z][a-z0-9:_-]*$")]


class _Control(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listen(_Control):
    type: Literal["listen"]
    channel: ChannelName
    # The floor mixed underneath an interpretation (the page sets its volume).
    original: bool = True


class Stop(_Control):
    type: Literal["stop"]


class Publish(_Control):
    type: Literal["publish"]
    channel: ChannelName


class Unpublish(_Control):
    type: Literal["unpublish"]


Control = Annotated[Listen | Stop | Publish | Unpublish, Field(discriminator="type")]
_CONTROLS: TypeAdapter[Listen | Stop | Publish | Unpublish] = TypeAdapter(Control)
CONTROL_TYPES = ("listen", "stop", "publish", "unpublish")


def error(code: str, message: str) -> dict[str, str]:
    return {"type": "error", "code": code, "message": message}


async def handle_control(session: SessionMedia, socket: MediaSocket, text: str) -> None:
    if len(text) > MAX_CONTROL_BYTES:
        raise Refused("too_large", f"A control message is at most {MAX_CONTROL_BYTES} bytes.")
    try:
        control = _CONTROLS.validate_json(text)
    except ValidationError as invalid:
        problem = invalid.errors()[0]
        if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
            raise Refused("unknown_type", f"Control messages are {', '.join(CONTROL_TYPES)}.") from None
        where = ".".join(str(part) for part in problem["loc"][1:]) or "message"
        raise Refused("invalid", f"{where}: {problem['msg']}") from None
    if isinstance(control, Listen):
        await session.listen(socket, control.channel, control.original)
    elif isinstance(control, Stop):
        await session.stop_listening(socket)
    elif isinstance(control, Publish):
        try:
            await session.publish(socket, control.channel)
        except Refused as refused:
            socket.control(
                {"type": "refused", "channel": control.channel, "code": refused.code, "message": refused.message}
            )
    else:
        await session.unpublish(socket)
