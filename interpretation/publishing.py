"""Who may publish media into a channel, decided from the session as it stands.

- ``floor``: whoever holds the floor (the named speaker of the current
  speech; for a request made for a whole delegation, any member of that
  delegation in the session), whoever runs the floor (chair, moderator,
  organizer), or the venue's room feed;
- a language channel: that booth's live interpreter;
- ``ils``: the live sign-language interpreter (the ``ils`` booth's);
- captions channels: never on the media socket (captions are commands).

The relay asks again whenever the floor or a booth's microphone moves, and
cuts a publisher this no longer allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from interpretation.channels import Channel, ChannelKind
from rooms.actor import Actor
from rooms.errors import Refused
from rooms.roles import Role


@dataclass(frozen=True, slots=True)
class FloorHolder:
    """Who holds the floor now: the current speech's request."""

    speaker_id: int | None
    delegation_id: int
    # In-room speakers are heard through the room feed, not a device of their own.
    is_in_room: bool = False

    def is_held_by(self, actor: Actor) -> bool:
        if self.speaker_id is not None:
            return self.speaker_id == actor.participant_id
        return not self.is_in_room and actor.delegation_id == self.delegation_id


def check_publish(
    actor: Actor,
    channel: Channel,
    holder: FloorHolder | None,
    live_interpreters: Mapping[str, int | None],
) -> None:
    """Raise ``Refused`` unless ``actor`` may publish into ``channel`` now.

    ``live_interpreters`` maps a booth's language to its live interpreter."""
    if channel.kind is ChannelKind.CAPTIONS:
        raise Refused("not_media", "Captions are sent as commands on the session socket, not as media.")
    if channel.kind is ChannelKind.FLOOR:
        if actor.runs_floor or Role.ROOM_FEED in actor.roles:
            return
        if holder is not None and holder.is_held_by(actor):
            return
        raise Refused("not_your_floor", "Only whoever holds the floor may speak into it.")
    live = live_interpreters.get(channel.name)
    if live is not None and live == actor.participant_id:
        return
    what = "sign-language" if channel.kind is ChannelKind.SIGN else "interpretation"
    raise Refused("not_live", f"Only the live interpreter of this booth may publish its {what} channel.")
