"""What clients see: the floor, requests and speeches as JSON-ready dicts."""

from __future__ import annotations

from datetime import datetime

from rooms.floor import Floor, Request, Speech


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def request_view(request: Request, floor: Floor | None = None) -> dict:
    view = {
        "id": request.id,
        "kind": request.kind.value,
        "status": request.status.value,
        "delegation": {"id": request.delegation_id, "name": request.delegation_name, "tier": request.tier.value},
        "speaker_name": request.speaker_name,
        "speaker_id": request.speaker_id,
        "requester_id": request.requester_id,
        "language": request.language,
        "note": request.note,
        "is_in_room": request.is_in_room,
        "requested_at": iso(request.requested_at),
    }
    if floor is not None and request in floor.waiting:
        view["position"] = floor.waiting.index(request) + 1
    if request.removed_reason:
        view["removed_reason"] = request.removed_reason
    return view


def speech_view(speech: Speech, now: datetime) -> dict:
    return {
        "id": speech.id,
        "request_id": speech.request.id,
        "kind": speech.request.kind.value,
        "delegation": {
            "id": speech.request.delegation_id,
            "name": speech.request.delegation_name,
            "tier": speech.request.tier.value,
        },
        "speaker_name": speech.request.speaker_name,
        "speaker_id": speech.request.speaker_id,
        "is_in_room": speech.request.is_in_room,
        "language": speech.language,
        "started_at": iso(speech.started_at),
        "limit_s": speech.limit_s,
        "paused_at": iso(speech.paused_at),
        "paused_s": _seconds(speech.paused_s),
        "is_paused": speech.is_paused,
        "elapsed_s": _seconds(speech.elapsed(now)),
        "remaining_s": _seconds(speech.remaining(now)),
        "is_overrun": speech.is_overrun(now),
        "ended_at": iso(speech.ended_at),
    }


def floor_view(floor: Floor, now: datetime) -> dict:
    rules = floor.rules
    return {
        "is_closed": floor.is_closed,
        "rules": {
            "precedence": [tier.value for tier in rules.precedence],
            "time_limits": {tier.value: limit for tier, limit in rules.time_limits.items()},
            "point_of_order_limit": rules.point_of_order_limit,
            "right_of_reply_limit": rules.right_of_reply_limit,
        },
        "current": speech_view(floor.current, now) if floor.current else None,
        "waiting": [request_view(request, floor) for request in floor.waiting],
    }
