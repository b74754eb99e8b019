"""A client's copy of the floor, kept by applying events to a snapshot, as the pages do.

It refuses an event that does not follow (a gap in seq, an order naming an
unknown request), so a test that drives a client through it proves the
events carry enough to stay exactly in step.
"""

from __future__ import annotations

import copy
from typing import Any

# Fields that depend on when they were computed, not on the state.
TIME_DEPENDENT = ("elapsed_s", "remaining_s", "is_overrun")


class OutOfStep(AssertionError):
    pass


class FloorReplica:
    def __init__(self, snapshot: dict[str, Any]):
        floor = snapshot["floor"]
        self.seq: int = snapshot["seq"]
        self.is_closed: bool = floor["is_closed"]
        self.rules = floor["rules"]
        self.current: dict[str, Any] | None = floor["current"]
        self.requests = {r["id"]: _without_position(r) for r in floor["waiting"]}
        self.order = [r["id"] for r in floor["waiting"]]

    def apply(self, event: dict[str, Any]) -> None:
        # Seqs may jump: events this person may not see are not sent to them.
        if event["seq"] <= self.seq:
            raise OutOfStep(f"event {event['seq']} after {self.seq}")
        self.seq = event["seq"]
        data = event["data"]
        kind = event["type"]
        if kind == "floor_requested":
            self.requests[data["request"]["id"]] = data["request"]
        elif kind in ("request_withdrawn", "request_removed"):
            self.requests.pop(data["request"]["id"], None)
        elif kind in ("list_closed", "list_reopened"):
            self.is_closed = data["is_closed"]
        elif kind == "floor_given":
            self.current = data["speech"]
            self.requests.pop(data["speech"]["request_id"], None)
        elif kind == "speech_ended":
            self.current = None
        elif kind in ("speech_paused", "speech_resumed"):
            self.current = data["speech"]
        elif kind == "language_declared":
            if data["speech_id"] is not None and self.current is not None:
                self.current = {**self.current, "language": data["language"]}
            if data["request_id"] in self.requests:
                self.requests[data["request_id"]] = {**self.requests[data["request_id"]], "language": data["language"]}
        if "order" in data:
            self.order = list(data["order"])
        if set(self.order) != set(self.requests) or len(self.order) != len(self.requests):
            raise OutOfStep(f"order {self.order} names other requests than {sorted(self.requests)}")

    def advance(self, seq: int) -> None:
        """An event this person may not see still moves their seq on."""
        self.seq = max(self.seq, seq)

    def view(self) -> dict[str, Any]:
        waiting = [{**self.requests[request_id], "position": n} for n, request_id in enumerate(self.order, start=1)]
        return {"is_closed": self.is_closed, "rules": self.rules, "current": self.current, "waiting": waiting}


def _without_position(request: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in request.items() if key != "position"}


def comparable(floor: dict[str, Any]) -> dict[str, Any]:
    """A floor without the fields that depend on the moment it was drawn."""
    floor = copy.deepcopy(floor)
    if floor["current"] is not None:
        for key in TIME_DEPENDENT:
            floor["current"].pop(key, None)
    return floor
