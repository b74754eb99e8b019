"""Booths, channels and captions as clients see them: for a snapshot and for each event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from interpretation.booths import Booth, Booths, Handover, Interpreter, MicChange
from interpretation.captions import BoothMessage, Caption
from interpretation.channels import captions_channel, interpretation_channel, is_sign_language
from rooms.floor_views import iso

View = dict[str, Any]


def mic_view(change: MicChange) -> View:
    return {
        "language": change.language,
        "live": change.live_id,
        "live_name": change.live_name,
        "since": iso(change.since),
        "previous": change.previous_id,
        "reason": change.reason.value,
    }


def handover_view(booth: Booth, handover: Handover) -> View:
    requester = booth.member(handover.requester_id)
    return {
        "language": booth.language,
        "requester": {"id": requester.participant_id, "name": requester.name},
        "live": booth.live_id,
        "requested_at": iso(handover.requested_at),
        "expires_at": iso(handover.expires_at),
    }


def interpreter_view(interpreter: Interpreter) -> View:
    return {
        "id": interpreter.participant_id,
        "name": interpreter.name,
        "works_from": list(interpreter.works_from),
        "source": interpreter.source,
        "is_present": interpreter.is_present,
    }


def channel_view(booth: Booth) -> View:
    """What every listener knows of a booth's channel."""
    channel = interpretation_channel(booth.language)
    live = booth.live
    return {
        "name": channel.name,
        "kind": channel.kind.value,
        "language": booth.language,
        "live": booth.live_id,
        "live_name": live.name if live else None,
        "since": iso(booth.live_since),
        "is_passthrough": booth.is_passthrough,
    }


def channels_view(booths: Booths) -> list[View]:
    views = [channel_view(booth) for booth in booths.booths.values()]
    views += [
        {"name": captions_channel(code).name, "kind": "captions", "language": code}
        for code in booths.booths
        if not is_sign_language(code)
    ]
    return views


def booth_view(booth: Booth, now: datetime, messages: list[BoothMessage]) -> View:
    """The whole booth, for its own interpreters."""
    pending = booth.pending_handover(now)
    return {
        "language": booth.language,
        "works_from": list(booth.works_from()),
        "interpreters": [interpreter_view(i) for i in booth.interpreters],
        "live": booth.live_id,
        "live_since": iso(booth.live_since),
        "handover": handover_view(booth, pending) if pending else None,
        "is_auto_relay": booth.is_auto_relay,
        "is_passthrough": booth.is_passthrough,
        "relay_advice": booth.relay_advice,
        "messages": [message_view(message) for message in messages],
    }


def message_view(message: BoothMessage) -> View:
    return {
        "id": message.id,
        "language": message.language,
        "text": message.text,
        "author": {"id": message.author_id, "name": message.author_name},
        "at": iso(message.created_at),
    }


def caption_view(caption: Caption) -> View:
    return {
        "id": caption.id,
        "language": caption.language,
        "channel": captions_channel(caption.language).name,
        "text": caption.text,
        "author": {"id": caption.author_id, "name": caption.author_name},
        "at": iso(caption.created_at),
        "speech_id": caption.speech_id,
    }
