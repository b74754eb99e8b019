"""The floor as clients see it: the full state for a snapshot, the change for an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rooms.floor import Change, Floor, Request, Speech

View = dict[str, Any]


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def request_view(request: Request) -> View:
    view: View = {
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
    if request.removed_reason:
        view["removed_reason"] = request.removed_reason
    # Rights of reply on an agenda item (rooms/agenda.py): their own limit, and the chair's override.
    if request.limit_s is not None:
        view["limit_s"] = request.limit_s
    if request.is_override:
        view["is_override"] = True
    return view


def speech_view(speech: Speech, now: datetime) -> View:
    request = speech.request
    return {
        "id": speech.id,
        "request_id": request.id,
        "kind": request.kind.value,
        "delegation": {"id": request.delegation_id, "name": request.delegation_name, "tier": request.tier.value},
        "speaker_name": request.speaker_name,
        "speaker_id": request.speaker_id,
        "is_in_room": request.is_in_room,
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


def ended_view(speech: Speech, now: datetime) -> View:
    """A speech that just ended: clients already know who it was."""
    return {
        "id": speech.id,
        "request_id": speech.request.id,
        "ended_at": iso(speech.ended_at),
        "duration_s": _seconds(speech.elapsed(now)),
        "is_overrun": speech.is_overrun(now),
    }


def floor_view(floor: Floor, now: datetime) -> View:
    """The whole floor, for a snapshot: its rules, the current speech (whose
    clock is the viewer's moment), the list."""
    return {
        **floor_head(floor),
        "current": speech_view(floor.current, now) if floor.current else None,
        "waiting": waiting_view(floor),
    }


def floor_head(floor: Floor) -> View:
    """What comes before the current speech in ``floor_view``."""
    rules = floor.rules
    head: View = {
        "is_closed": floor.is_closed,
        "rules": {
            "precedence": [tier.value for tier in rules.precedence],
            "time_limits": {tier.value: limit for tier, limit in rules.time_limits.items()},
            "point_of_order_limit": rules.point_of_order_limit,
            "right_of_reply_limit": rules.right_of_reply_limit,
        },
    }
    budgets = budgets_view(floor)
    if budgets is not None:
        head["budgets"] = budgets
    return head


def budgets_view(floor: Floor) -> View | None:
    """The item's budgets: each group's remaining seconds when the speech in
    progress (if any) began; its groups are marked ``running``, and pages
    take its elapsed time from them live."""
    budgets = floor.current_budgets()
    if budgets is None:
        return None
    speaking = None
    if floor.current is not None and floor.current.request.kind.value != "point_of_order":
        if floor.current.request.agenda_item_id == floor.item_id:
            speaking = floor.current.request.delegation_id
    return budgets.view(speaking)


def waiting_view(floor: Floor) -> list[View]:
    """The list of speakers in ``floor_view``, each request with its position."""
    waiting = []
    for position, request in enumerate(floor.waiting, start=1):
        view = request_view(request)
        view["position"] = position
        waiting.append(view)
    return waiting


# What each floor event carries: the change, and the new order of waiting ids
# whenever the order may have changed. A client applying the events in seq
# order holds exactly the floor a snapshot would show.
# What may change the budgets, or which groups are counting down.
_CARRIES_BUDGETS = frozenset({"floor_given", "speech_ended", "item_taken_up", "time_added"})
_CARRIES_ORDER = frozenset(
    {"floor_requested", "request_withdrawn", "request_removed", "request_moved", "list_reordered", "floor_given"}
)


def change_data(change: Change, floor: Floor, now: datetime) -> View:
    data: View = {}
    if change.type in ("floor_requested", "request_withdrawn", "request_removed") and change.request is not None:
        data["request"] = request_view(change.request)
    if change.type == "request_moved" and change.request is not None:
        data["request_id"] = change.request.id
        data["position"] = change.data["position"]
    if change.type == "request_removed":
        data["reason"] = change.data["reason"]
    if change.type in ("list_closed", "list_reopened"):
        data["is_closed"] = floor.is_closed
    if change.type in ("floor_given", "speech_paused", "speech_resumed") and change.speech is not None:
        data["speech"] = speech_view(change.speech, now)
    if change.type in ("floor_given", "speech_ended"):
        data["ended"] = ended_view(change.ended, now) if change.ended is not None else None
    if change.type == "language_declared" and change.request is not None:
        data["request_id"] = change.request.id
        data["speech_id"] = change.speech.id if change.speech is not None else None
        data["language"] = change.data["language"]
    if change.type == "item_taken_up":
        data["item"] = change.data["item"]
    if change.type == "time_added":
        data["seconds"] = change.data["seconds"]
    if change.type in _CARRIES_BUDGETS:
        budgets = budgets_view(floor)
        if budgets is not None:
            data["budgets"] = budgets
    if change.type in _CARRIES_ORDER:
        data["order"] = floor.order()
    return data
