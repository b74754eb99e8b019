"""Questions as each viewer may see them, and who receives each change.

Three views of one question:
  - moderators: everything, including the author of an anonymous question
    and the author's original words;
  - its authors (the author, and those of questions merged into it): their
    question in any state, with the reason it was rejected;
  - the audience: approved questions only, without anonymous authors.
The snapshot (per viewer) and the events (per recipient group) are built
from these same functions, so live delivery, replay and snapshot agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rooms.floor_views import iso
from rooms.questions import Board, Change, Question
from rooms.recipients import EVERYONE, MODERATORS, Recipients, moderators_and, only

View = dict[str, Any]


def _delegation(question: Question) -> View | None:
    if question.delegation_id is None:
        return None
    return {"id": question.delegation_id, "name": question.delegation_name}


def _common(board: Board, question: Question) -> View:
    return {
        "id": question.id,
        "text": question.text,
        "language": question.language,
        "topic_id": question.topic_id,
        "state": question.state.value,
        "votes": board.votes(question),
        "is_presubmitted": question.is_presubmitted,
        "speaking_request_id": question.speaking_request_id,
        "submitted_at": iso(question.submitted_at),
        "answered_at": iso(question.answered_at),
    }


def public_view(board: Board, question: Question) -> View:
    view = _common(board, question)
    # Authors who asked to stay anonymous are left out, one by one.
    view["authors"] = [
        {"name": part.author_name, "delegation": _delegation(part)}
        for part in board.authors(question)
        if not part.is_anonymous
    ]
    return view


def author_view(board: Board, question: Question) -> View:
    """What the authors of a question see of it, whatever its state."""
    view = public_view(board, question)
    view.update(
        {
            "is_mine": True,
            "is_anonymous": question.is_anonymous,
            "wants_to_ask": question.wants_to_ask,
            "reject_reason": question.reject_reason,
            "merged_into": question.merged_into,
        }
    )
    return view


def moderator_view(board: Board, question: Question) -> View:
    view = _common(board, question)
    view.update(
        {
            "authors": [
                {
                    "id": part.author_id,
                    "name": part.author_name,
                    "delegation": _delegation(part),
                    "is_anonymous": part.is_anonymous,
                    "question_id": part.id,
                }
                for part in board.authors(question)
            ],
            "is_anonymous": question.is_anonymous,
            "wants_to_ask": question.wants_to_ask,
            "original_text": question.original_text,
            "reject_reason": question.reject_reason,
            "merged_into": question.merged_into,
            "merged": [part.id for part in board.merged_into(question)],
            "approved_at": iso(question.approved_at),
            "updated_at": iso(question.updated_at),
        }
    )
    return view


# The three views of a question, by name.
VIEWS: dict[str, Callable[[Board, Question], View]] = {
    "public": public_view,
    "author": author_view,
    "moderator": moderator_view,
}


def view_kind(board: Board, question: Question, participant_id: int | None, *, moderates: bool) -> str | None:
    """Which view of a question a viewer gets (a name of ``VIEWS``), or None
    if they may not see it: the one rule for snapshots and events."""
    if moderates:
        return "moderator"
    if participant_id is not None and participant_id in board.author_ids(question):
        return "author"
    if question.is_public:
        return "public"
    return None


def view_for(board: Board, question: Question, participant_id: int | None, *, moderates: bool) -> View | None:
    """One viewer's view of a question, or None if they may not see it."""
    kind = view_kind(board, question, participant_id, moderates=moderates)
    return None if kind is None else VIEWS[kind](board, question)


def in_order(board: Board) -> list[Question]:
    """The questions as every list shows them: in the order they were sent."""
    return sorted(board.questions.values(), key=lambda q: (q.submitted_at, q.id or 0))


# Recipient groups, in the order their events are sent: the audience's view
# first, then the richer ones, so the last event a person gets about a
# question is the fullest they may see.
def change_events(board: Board, change: Change) -> list[tuple[str, View, Recipients]]:
    events: list[tuple[str, View, Recipients]] = []
    queue = list(board.queue)
    for question in (change.question, *change.also):
        was_public = question.id in change.was_public
        if question.is_public:
            events.append(
                (
                    "question_updated",
                    {"change": change.type, "question": public_view(board, question), "queue": queue},
                    EVERYONE,
                )
            )
        elif was_public:
            events.append(("question_hidden", {"change": change.type, "id": question.id, "queue": queue}, EVERYONE))
        authors = board.author_ids(question)
        events.append(
            (
                "question_updated",
                {"change": change.type, "question": author_view(board, question), "queue": queue},
                only(*authors),
            )
        )
        events.append(
            (
                "question_updated",
                {"change": change.type, "question": moderator_view(board, question), "queue": queue},
                MODERATORS,
            )
        )
        if question is change.question and change.former_authors and not question.is_public:
            # No longer theirs and not public: their copy goes (moderators get theirs back after).
            former = only(*change.former_authors)
            events.insert(-1, ("question_hidden", {"change": change.type, "id": question.id, "queue": queue}, former))
    return events


def vote_view(board: Board, question: Question, *, voted: bool) -> View:
    """The voter's own vote, told to them at once (``question_voted``)."""
    return {"id": question.id, "voted": voted, "votes": board.votes(question)}


def counts_events(board: Board, question_ids: Iterable[int]) -> list[tuple[View, Recipients]]:
    """The counts of these questions as they stand (``question_votes``): one
    event for the public ones, to everyone; one per question the audience
    does not see, to those who see it."""
    public: list[View] = []
    events: list[tuple[View, Recipients]] = []
    for question_id in sorted(set(question_ids)):
        question = board.questions.get(question_id)
        if question is None:
            continue
        count = {"id": question_id, "votes": board.votes(question)}
        if question.is_public:
            public.append(count)
        else:
            events.append(({"counts": [count]}, moderators_and(*board.author_ids(question))))
    if public:
        events.insert(0, ({"counts": public}, EVERYONE))
    return events
