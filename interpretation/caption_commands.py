"""Live captions: a captioner types lines into their language's captions channel."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from interpretation.booth_views import caption_view
from interpretation.booths import Booths
from interpretation.captions import MAX_CAPTION_LENGTH, Caption
from rooms.commands import PRINTABLE, Command, CommandSet, Context
from rooms.floor import Floor
from rooms.recipients import EVERYONE
from rooms.roles import Role

commands = CommandSet()

CaptionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CAPTION_LENGTH), PRINTABLE
]


class SendCaption(Command):
    type: Literal["send_caption"]
    text: CaptionText


@commands.command(SendCaption, roles={Role.CAPTIONER})
async def send_caption(ctx: Context, command: SendCaption) -> None:
    booths = await ctx.state(Booths)
    language = booths.caption_language(ctx.actor.participant_id)
    floor = await ctx.state(Floor)
    speech_id = floor.current.id if floor.current is not None else None
    caption = Caption(language, command.text, ctx.actor.participant_id, ctx.actor.name, ctx.now, speech_id)
    booths.new_captions.append(caption)
    await ctx.emit("caption", lambda: caption_view(caption), EVERYONE)
