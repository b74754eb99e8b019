"""Questions from the audience: submitted, moderated, merged, upvoted, put on air.

Plain Python, no I/O. The server loads a ``Board`` (a session's questions,
with the votes of those a command touches), applies one command, and stores
what changed; every method either returns a ``Change`` or raises ``Refused``
before touching anything.

States and their moves (``TRANSITIONS``)::

    pending --approve--> approved --queue--> queued --put on air--> on_air --answer--> answered
       |  \\--reject--> rejected --restore--> approved        (archive, restore: approved)
       \\--withdraw (author)--> withdrawn      merge: merged --unmerge--> pending|approved

A merged question counts for the one it was merged into: that question
lists every author and counts each distinct voter once; undoing the merge
gives each question back its own votes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rooms.errors import Refused


class State(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    QUEUED = "queued"
    ON_AIR = "on_air"
    ANSWERED = "answered"
    ARCHIVED = "archived"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"


# What the audience may see; every other state is for moderators and authors only.
PUBLIC = frozenset({State.APPROVED, State.QUEUED, State.ON_AIR, State.ANSWERED})
# What the audience may vote on.
VOTABLE = frozenset({State.APPROVED, State.QUEUED, State.ON_AIR})

TRANSITIONS: dict[State, frozenset[State]] = {
    State.PENDING: frozenset({State.APPROVED, State.REJECTED, State.WITHDRAWN, State.MERGED}),
    State.APPROVED: frozenset(
        {State.QUEUED, State.ON_AIR, State.ANSWERED, State.ARCHIVED, State.REJECTED, State.MERGED}
    ),
    State.QUEUED: frozenset({State.APPROVED, State.ON_AIR, State.ANSWERED, State.ARCHIVED, State.MERGED}),
    State.ON_AIR: frozenset({State.APPROVED, State.ANSWERED, State.ARCHIVED}),
    State.ANSWERED: frozenset({State.ON_AIR, State.ARCHIVED}),
    State.REJECTED: frozenset({State.APPROVED}),
    State.ARCHIVED: frozenset({State.APPROVED}),
    State.WITHDRAWN: frozenset(),
    # Unmerging gives back the state the question had earned (see ``unmerge``).
    State.MERGED: frozenset({State.PENDING, State.APPROVED}),
}

MIN_TEXT = 3
MAX_TEXT = 1000
# "Next up" is a short list the moderator arranges, not a second backlog.
MAX_QUEUE = 20


@dataclass(eq=False)
class Question:
    """One question. Compared by identity: two with equal fields are still two."""

    author_id: int
    author_name: str
    text: str
    language: str
    submitted_at: datetime
    delegation_id: int | None = None
    delegation_name: str | None = None
    topic_id: int | None = None
    is_anonymous: bool = False
    wants_to_ask: bool = False
    is_presubmitted: bool = False
    state: State = State.PENDING
    # The author's words, kept when a moderator edits the text.
    original_text: str | None = None
    reject_reason: str | None = None
    merged_into: int | None = None
    speaking_request_id: int | None = None
    approved_at: datetime | None = None
    answered_at: datetime | None = None
    updated_at: datetime | None = None
    id: int | None = None
    # The participants who voted for this very question; None when the
    # command did not load them.
    voters: set[int] | None = None

    def check_move(self, to: State) -> None:
        if to not in TRANSITIONS[self.state]:
            raise Refused(
                "invalid_state",
                f"A question that is {self.state.value.replace('_', ' ')} cannot become {to.value.replace('_', ' ')}.",
            )

    def move(self, to: State, now: datetime) -> None:
        self.check_move(to)
        self.state = to
        self.updated_at = now
        if to is State.APPROVED and self.approved_at is None:
            self.approved_at = now
        if to is State.ANSWERED:
            self.answered_at = now

    @property
    def is_public(self) -> bool:
        return self.state in PUBLIC


@dataclass
class Change:
    """What one command did, for the events the server publishes."""

    type: str
    question: Question
    # Questions changed along the way (the one that was on air, merged ones).
    also: list[Question] = field(default_factory=list)
    # The questions that were public before the command (the audience must
    # hear when one stops being public).
    was_public: frozenset[int] = frozenset()
    # Authors who no longer author ``question`` (an unmerge): their copy must go.
    former_authors: tuple[int, ...] = ()


def clean_text(text: str) -> str:
    text = text.strip()
    if not MIN_TEXT <= len(text) <= MAX_TEXT:
        raise Refused("invalid", f"A question must be {MIN_TEXT} to {MAX_TEXT} characters long.")
    return text


@dataclass
class Board:
    """A session's questions and its "next up" queue."""

    questions: dict[int, Question] = field(default_factory=dict)
    queue: list[int] = field(default_factory=list)
    is_moderated: bool = True
    # The event's languages and the session's guiding questions (topics).
    languages: tuple[str, ...] = ()
    topic_ids: frozenset[int] = frozenset()
    # Questions sent before the session opens are "pre-submitted".
    opens_at: datetime | None = None
    # What must be written back after a command.
    touched: list[Question] = field(default_factory=list, repr=False)
    votes_added: list[tuple[int, int]] = field(default_factory=list, repr=False)
    votes_removed: list[tuple[int, int]] = field(default_factory=list, repr=False)
    queue_changed: bool = False
    moderation_changed: bool = False

    # -- queries ---------------------------------------------------------

    def get(self, question_id: int) -> Question:
        question = self.questions.get(question_id)
        if question is None:
            raise Refused("not_found", f"No question {question_id} in this session.")
        return question

    def merged_into(self, question: Question) -> list[Question]:
        """The questions merged into this one."""
        if question.id is None:
            return []  # not stored yet: nothing can have been merged into it
        return [other for other in self.questions.values() if other.merged_into == question.id]

    def authors(self, question: Question) -> list[Question]:
        """The question and those merged into it: one per author, first its own."""
        return [question, *self.merged_into(question)]

    def author_ids(self, question: Question) -> list[int]:
        return list(dict.fromkeys(q.author_id for q in self.authors(question)))

    def voters(self, question: Question) -> set[int]:
        """Everyone who counts for this question: each distinct voter once."""
        voters: set[int] = set()
        for part in self.authors(question):
            if part.voters is None:
                raise RuntimeError(f"the votes of question {part.id} were not loaded")
            voters |= part.voters
        return voters

    def votes(self, question: Question) -> int:
        return len(self.voters(question))

    def on_air(self) -> Question | None:
        return next((q for q in self.questions.values() if q.state is State.ON_AIR), None)

    def public_ids(self) -> frozenset[int]:
        return frozenset(q.id for q in self.questions.values() if q.is_public and q.id is not None)

    def _check_fit(self, language: str | None, topic_id: int | None) -> None:
        if language is not None and self.languages and language not in self.languages:
            raise Refused("invalid", f"This event's languages are {', '.join(self.languages)}.")
        if topic_id is not None and topic_id not in self.topic_ids:
            raise Refused("invalid", f"No guiding question {topic_id} in this session.")

    def _touch(self, *questions: Question) -> None:
        self.touched.extend(questions)

    def _change(self, type_: str, question: Question, *also: Question, was_public: frozenset[int]) -> Change:
        self._touch(question, *also)
        return Change(type_, question, list(also), was_public)

    # -- the author's commands -------------------------------------------

    def submit(self, question: Question, now: datetime) -> Change:
        was_public = self.public_ids()
        question.text = clean_text(question.text)
        self._check_fit(question.language, question.topic_id)
        question.submitted_at = now
        question.updated_at = now
        question.voters = set() if question.voters is None else question.voters
        if not self.is_moderated:
            # Open sessions show questions at once; a moderator can still reject.
            question.state = State.APPROVED
            question.approved_at = now
        return self._change("submitted", question, was_public=was_public)

    def edit(
        self,
        question_id: int,
        editor_id: int,
        *,
        moderates: bool,
        text: str,
        language: str | None,
        topic_id: int | None,
        now: datetime,
    ) -> Change:
        """The author edits their pending question; a moderator edits any, and
        the author's words are kept."""
        question = self.get(question_id)
        was_public = self.public_ids()
        text = clean_text(text)
        self._check_fit(language, topic_id)
        if not moderates:
            if question.author_id != editor_id:
                raise Refused("forbidden", "You may edit only your own questions.")
            if question.state is not State.PENDING:
                raise Refused("invalid_state", "A question can be edited by its author only while it is pending.")
        elif question.state in (State.WITHDRAWN, State.MERGED):
            raise Refused("invalid_state", f"A {question.state.value} question cannot be edited.")
        if moderates and question.author_id != editor_id and question.original_text is None and text != question.text:
            question.original_text = question.text
        question.text = text
        if language is not None:
            question.language = language
        question.topic_id = topic_id
        question.updated_at = now
        return self._change("edited", question, was_public=was_public)

    def withdraw(self, question_id: int, participant_id: int, now: datetime) -> Change:
        question = self.get(question_id)
        if question.author_id != participant_id:
            raise Refused("forbidden", "You may withdraw only your own questions.")
        if question.state is not State.PENDING:
            raise Refused("invalid_state", "A question can be withdrawn only while it is pending.")
        was_public = self.public_ids()
        question.move(State.WITHDRAWN, now)
        return self._change("withdrawn", question, was_public=was_public)

    def vote(self, question_id: int, participant_id: int) -> Change:
        question = self.get(question_id)
        if question.merged_into is not None:
            raise Refused("merged", f"This question was merged into question {question.merged_into}; vote there.")
        if question.state not in VOTABLE:
            raise Refused("invalid_state", "Only approved questions can be voted for.")
        if participant_id in self.voters(question):
            raise Refused("already_voted", "You already voted for this question.")
        assert question.voters is not None  # checked by voters()
        question.voters.add(participant_id)
        self.votes_added.append((question_id, participant_id))
        return Change("voted", question, was_public=self.public_ids())

    def unvote(self, question_id: int, participant_id: int) -> Change:
        question = self.get(question_id)
        if participant_id not in self.voters(question):
            raise Refused("not_voted", "You have not voted for this question.")
        # The vote may sit on a question merged into this one: take it back there.
        for part in self.authors(question):
            assert part.voters is not None
            if participant_id in part.voters and part.id is not None:
                part.voters.discard(participant_id)
                self.votes_removed.append((part.id, participant_id))
        return Change("unvoted", question, was_public=self.public_ids())

    # -- moderation --------------------------------------------------------

    def approve(self, question_id: int, now: datetime) -> Change:
        question = self.get(question_id)
        was_public = self.public_ids()
        if question.state is not State.PENDING:
            raise Refused("invalid_state", "Only a pending question can be approved (use restore for the others).")
        question.move(State.APPROVED, now)
        return self._change("approved", question, was_public=was_public)

    def reject(self, question_id: int, reason: str, now: datetime) -> Change:
        question = self.get(question_id)
        was_public = self.public_ids()
        question.move(State.REJECTED, now)
        question.reject_reason = reason
        return self._change("rejected", question, was_public=was_public)

    def restore(self, question_id: int, now: datetime) -> Change:
        question = self.get(question_id)
        if question.state not in (State.REJECTED, State.ARCHIVED):
            raise Refused("invalid_state", "Only a rejected or archived question can be restored.")
        was_public = self.public_ids()
        question.move(State.APPROVED, now)
        question.reject_reason = None
        return self._change("restored", question, was_public=was_public)

    def archive(self, question_id: int, now: datetime) -> Change:
        question = self.get(question_id)
        was_public = self.public_ids()
        self._leave_queue(question)
        question.move(State.ARCHIVED, now)
        return self._change("archived", question, was_public=was_public)

    def enqueue(self, question_id: int, position: int | None, now: datetime) -> Change:
        question = self.get(question_id)
        was_public = self.public_ids()
        if len(self.queue) >= MAX_QUEUE:
            raise Refused("queue_full", f"At most {MAX_QUEUE} questions can be next up.")
        question.move(State.QUEUED, now)
        place = len(self.queue) if position is None else max(0, min(position - 1, len(self.queue)))
        assert question.id is not None  # only stored questions are moderated
        self.queue.insert(place, question.id)
        self.queue_changed = True
        return self._change("queued", question, was_public=was_public)

    def unqueue(self, question_id: int, now: datetime) -> Change:
        question = self.get(question_id)
        if question.state is not State.QUEUED:
            raise Refused("invalid_state", "This question is not next up.")
        was_public = self.public_ids()
        self._leave_queue(question)
        question.move(State.APPROVED, now)
        return self._change("unqueued", question, was_public=was_public)

    def reorder_queue(self, question_ids: list[int]) -> list[int]:
        """Set the whole "next up" order. The moderator must list exactly the
        queued questions, so an order built from a stale list is refused."""
        if len(question_ids) != len(self.queue) or set(question_ids) != set(self.queue):
            raise Refused("stale_list", "The queue has changed: list exactly the questions next up now.")
        self.queue = list(question_ids)
        self.queue_changed = True
        return self.queue

    def put_on_air(self, question_id: int, now: datetime) -> Change:
        """On air, one at a time: the question that was on air is answered."""
        question = self.get(question_id)
        was_public = self.public_ids()
        if question.state is State.ON_AIR:
            raise Refused("invalid_state", "This question is already on air.")
        question.check_move(State.ON_AIR)
        previous = self.on_air()
        also = []
        if previous is not None:
            previous.move(State.ANSWERED, now)
            also.append(previous)
        self._leave_queue(question)
        question.move(State.ON_AIR, now)
        return self._change("on_air", question, *also, was_public=was_public)

    def answer(self, question_id: int, now: datetime) -> Change:
        question = self.get(question_id)
        was_public = self.public_ids()
        self._leave_queue(question)
        question.move(State.ANSWERED, now)
        return self._change("answered", question, was_public=was_public)

    def merge(self, question_id: int, into_id: int, now: datetime) -> Change:
        """Merge a duplicate into the question kept. The kept one must be
        alive (not rejected, withdrawn, archived or merged itself)."""
        question, kept = self.get(question_id), self.get(into_id)
        if question is kept:
            raise Refused("invalid", "A question cannot be merged into itself.")
        if kept.state in (State.REJECTED, State.WITHDRAWN, State.ARCHIVED, State.MERGED):
            raise Refused("invalid_state", f"A question cannot be merged into a {kept.state.value} one.")
        if self.merged_into(question):
            raise Refused("has_merged", "Questions were merged into this one: merge them into the kept one instead.")
        if question.state is State.ON_AIR:
            raise Refused("invalid_state", "The question on air cannot be merged away.")
        was_public = self.public_ids()
        self._leave_queue(question)
        question.move(State.MERGED, now)
        question.merged_into = kept.id
        kept.updated_at = now
        return self._change("merged", kept, question, was_public=was_public)

    def unmerge(self, question_id: int, now: datetime) -> Change:
        """Undo a merge: the question is back, with its own votes, pending or
        approved as it was."""
        question = self.get(question_id)
        if question.state is not State.MERGED or question.merged_into is None:
            raise Refused("invalid_state", "This question is not merged.")
        kept = self.get(question.merged_into)
        was_public = self.public_ids()
        authors_before = self.author_ids(kept)
        question.move(State.PENDING if question.approved_at is None else State.APPROVED, now)
        question.merged_into = None
        kept.updated_at = now
        change = self._change("unmerged", kept, question, was_public=was_public)
        change.former_authors = tuple(a for a in authors_before if a not in self.author_ids(kept))
        return change

    def to_floor_check(self, question_id: int) -> Question:
        """The question, if its author may be put on the list of speakers for it."""
        question = self.get(question_id)
        if question.state not in VOTABLE:
            raise Refused("invalid_state", "Only an approved question can go to the floor.")
        if not question.wants_to_ask:
            raise Refused("not_wanted", "The author did not ask to put this question themselves.")
        if question.delegation_id is None:
            raise Refused("no_delegation", "The author speaks for no delegation, so cannot be given the floor.")
        if question.speaking_request_id is not None:
            raise Refused("already_requested", "This question is already on the list of speakers.")
        return question

    def link_request(self, question: Question, request_id: int, now: datetime) -> Change:
        was_public = self.public_ids()
        question.speaking_request_id = request_id
        question.updated_at = now
        return self._change("to_floor", question, was_public=was_public)

    def _leave_queue(self, question: Question) -> None:
        if question.id in self.queue:
            self.queue.remove(question.id)
            self.queue_changed = True
