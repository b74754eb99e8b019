"""The questions domain (rooms.questions), without a database or a socket."""

from datetime import UTC, datetime, timedelta

import pytest

from rooms.delegations import Tier
from rooms.errors import Refused
from rooms.floor import Floor, Kind, Request
from rooms.question_views import change_events, in_order, view_for
from rooms.questions import MAX_QUEUE, TRANSITIONS, Board, Question, State
from rooms.recipients import EVERYONE, MODERATORS, only

NOW = datetime(2020, 12, 4, 12, 0, tzinfo=UTC)
OPENS = datetime(2020, 12, 4, 12, 45, tzinfo=UTC)


def board(**fields) -> Board:
    return Board(languages=("ar", "en", "fr", "es", "ils"), topic_ids=frozenset({7}), opens_at=OPENS, **fields)


_next_id = iter(range(1, 10_000))


def submit(b: Board, author: int, text: str = "How can funding last?", now=NOW, **fields) -> Question:
    question = Question(
        author_id=author,
        author_name=f"Author {author}",
        delegation_id=author * 10,
        delegation_name=f"Delegation {author}",
        text=text,
        language=fields.pop("language", "en"),
        submitted_at=now,
        **fields,
    )
    b.submit(question, now)
    # What the store does when it writes the new row.
    question.id = next(_next_id)
    b.questions[question.id] = question
    b.touched.clear()
    return question


def approved(b: Board, author: int, **fields) -> Question:
    question = submit(b, author, **fields)
    b.approve(question.id, NOW)
    return question


def test_a_question_waits_for_a_moderator_and_is_trimmed():
    b = board()
    question = submit(b, 1, "   Who pays for rehabilitation?  ")
    assert question.state is State.PENDING and question.text == "Who pays for rehabilitation?"
    b.approve(question.id, NOW + timedelta(minutes=1))
    assert question.state is State.APPROVED and question.approved_at == NOW + timedelta(minutes=1)


def test_an_open_session_shows_questions_at_once():
    b = board(is_moderated=False)
    assert submit(b, 1).state is State.APPROVED


@pytest.mark.parametrize("text", ["", "ab", "  a  ", "x" * 1001])
def test_text_outside_the_limits_is_invalid(text):
    b = board()
    with pytest.raises(Refused) as refused:
        submit(b, 1, text)
    assert refused.value.code == "invalid"
    assert b.questions == {}


def test_language_and_topic_must_belong_to_the_event_and_session():
    b = board()
    with pytest.raises(Refused):
        submit(b, 1, language="ru")
    with pytest.raises(Refused):
        submit(b, 1, topic_id=8)
    assert submit(b, 1, topic_id=7).topic_id == 7


def test_every_state_moves_only_where_the_machine_allows():
    for start, allowed in TRANSITIONS.items():
        for target in State:
            question = Question(1, "A", "Some text", "en", NOW, state=start)
            if target in allowed:
                question.move(target, NOW)
                assert question.state is target
            else:
                with pytest.raises(Refused):
                    question.move(target, NOW)
                assert question.state is start


def test_the_author_edits_or_withdraws_only_while_pending():
    b = board()
    question = submit(b, 1)
    with pytest.raises(Refused):
        b.edit(question.id, 2, moderates=False, text="Someone else's words", language=None, topic_id=None, now=NOW)
    b.edit(question.id, 1, moderates=False, text="Better words", language="fr", topic_id=None, now=NOW)
    assert question.text == "Better words" and question.language == "fr" and question.original_text is None
    b.approve(question.id, NOW)
    with pytest.raises(Refused):
        b.edit(question.id, 1, moderates=False, text="Changed after approval", language=None, topic_id=None, now=NOW)
    with pytest.raises(Refused):
        b.withdraw(question.id, 1, NOW)
    other = submit(b, 2)
    with pytest.raises(Refused):
        b.withdraw(other.id, 1, NOW)
    b.withdraw(other.id, 2, NOW)
    assert other.state is State.WITHDRAWN


def test_a_moderator_edit_keeps_the_original_words():
    b = board()
    question = approved(b, 1, text="how can fundng last??")
    b.edit(question.id, 99, moderates=True, text="How can funding last?", language=None, topic_id=None, now=NOW)
    b.edit(question.id, 99, moderates=True, text="How can funding last longer?", language=None, topic_id=None, now=NOW)
    assert question.text == "How can funding last longer?"
    assert question.original_text == "how can fundng last??"


def test_reject_with_a_reason_then_restore():
    b = board()
    question = submit(b, 1)
    b.reject(question.id, "Off topic", NOW)
    assert question.state is State.REJECTED and question.reject_reason == "Off topic"
    b.restore(question.id, NOW)
    assert question.state is State.APPROVED and question.reject_reason is None
    b.archive(question.id, NOW)
    b.restore(question.id, NOW)
    assert question.state is State.APPROVED
    with pytest.raises(Refused):
        b.restore(question.id, NOW)


def test_the_queue_is_ordered_and_a_stale_reorder_is_refused():
    b = board()
    first, second, third = (approved(b, author) for author in (1, 2, 3))
    b.enqueue(first.id, None, NOW)
    b.enqueue(second.id, None, NOW)
    b.enqueue(third.id, 1, NOW)
    assert b.queue == [third.id, first.id, second.id]
    with pytest.raises(Refused) as refused:
        b.reorder_queue([first.id, second.id])
    assert refused.value.code == "stale_list"
    b.reorder_queue([second.id, first.id, third.id])
    assert b.queue == [second.id, first.id, third.id]
    b.unqueue(first.id, NOW)
    assert b.queue == [second.id, third.id] and first.state is State.APPROVED


def test_the_queue_is_short():
    b = board()
    for author in range(1, MAX_QUEUE + 1):
        b.enqueue(approved(b, author).id, None, NOW)
    with pytest.raises(Refused) as refused:
        b.enqueue(approved(b, 999).id, None, NOW)
    assert refused.value.code == "queue_full"


def test_one_question_on_air_at_a_time():
    b = board()
    first, second = approved(b, 1), approved(b, 2)
    b.enqueue(second.id, None, NOW)
    b.put_on_air(first.id, NOW)
    change = b.put_on_air(second.id, NOW)
    assert second.state is State.ON_AIR and b.on_air() is second
    assert first.state is State.ANSWERED and change.also == [first]
    assert b.queue == []
    with pytest.raises(Refused):
        b.put_on_air(submit(b, 3).id, NOW)  # pending: not yet


def test_votes_one_per_participant_and_taken_back():
    b = board()
    question = approved(b, 1, voters=set())
    b.vote(question.id, 5)
    b.vote(question.id, 6)
    with pytest.raises(Refused) as refused:
        b.vote(question.id, 5)
    assert refused.value.code == "already_voted"
    assert b.votes(question) == 2
    b.unvote(question.id, 5)
    assert b.votes(question) == 1
    with pytest.raises(Refused):
        b.unvote(question.id, 5)
    assert b.votes_added == [(question.id, 5), (question.id, 6)] and b.votes_removed == [(question.id, 5)]


def test_pending_questions_cannot_be_voted_for():
    b = board()
    question = submit(b, 1, voters=set())
    with pytest.raises(Refused):
        b.vote(question.id, 5)


def test_a_merge_lists_every_author_and_counts_each_voter_once():
    b = board()
    kept = approved(b, 1, voters={10, 11})
    duplicate = approved(b, 2, voters={11, 12})
    b.merge(duplicate.id, kept.id, NOW)
    assert duplicate.state is State.MERGED and duplicate.merged_into == kept.id
    assert b.author_ids(kept) == [1, 2]
    assert b.votes(kept) == 3  # 10, 11 once, 12
    with pytest.raises(Refused) as refused:
        b.vote(kept.id, 12)
    assert refused.value.code == "already_voted"
    with pytest.raises(Refused) as refused:
        b.vote(duplicate.id, 13)
    assert refused.value.code == "merged"
    # 12's vote sits on the duplicate: taking it back on the kept one removes it there.
    b.unvote(kept.id, 12)
    assert b.votes(kept) == 2 and duplicate.voters == {11}
    b.unmerge(duplicate.id, NOW)
    assert duplicate.state is State.APPROVED and duplicate.merged_into is None
    assert b.votes(kept) == 2 and b.votes(duplicate) == 1 and b.author_ids(kept) == [1]


def test_unmerging_a_pending_question_makes_it_pending_again():
    b = board()
    kept = approved(b, 1, voters=set())
    duplicate = submit(b, 2, voters=set())
    b.merge(duplicate.id, kept.id, NOW)
    b.unmerge(duplicate.id, NOW)
    assert duplicate.state is State.PENDING


def test_merges_that_make_no_sense_are_refused():
    b = board()
    kept, other = approved(b, 1), approved(b, 2)
    with pytest.raises(Refused):
        b.merge(kept.id, kept.id, NOW)
    b.reject(other.id, "Duplicate", NOW)
    with pytest.raises(Refused):
        b.merge(kept.id, other.id, NOW)
    third = approved(b, 3)
    b.merge(third.id, kept.id, NOW)
    fourth = approved(b, 4)
    with pytest.raises(Refused) as refused:
        b.merge(kept.id, fourth.id, NOW)  # kept has merged questions of its own
    assert refused.value.code == "has_merged"


def test_only_a_wished_approved_question_of_a_delegate_goes_to_the_floor():
    b = board()
    with pytest.raises(Refused) as refused:
        b.to_floor_check(approved(b, 1).id)
    assert refused.value.code == "not_wanted"
    pending = submit(b, 2, wants_to_ask=True)
    with pytest.raises(Refused):
        b.to_floor_check(pending.id)
    question = approved(b, 3, wants_to_ask=True)
    assert b.to_floor_check(question.id) is question
    b.link_request(question, 42, NOW)
    with pytest.raises(Refused) as refused:
        b.to_floor_check(question.id)
    assert refused.value.code == "already_requested"


def test_a_question_request_ranks_as_a_statement_of_its_tier():
    floor = Floor()

    def request(kind, tier, minute, delegation):
        return Request(delegation, tier, kind, NOW + timedelta(minutes=minute), f"Speaker {delegation}")

    floor.request(request(Kind.STATEMENT, Tier.CIVIL_SOCIETY, 0, 1))
    floor.request(request(Kind.RIGHT_OF_REPLY, Tier.STATE_PARTY, 1, 2))
    floor.request(request(Kind.QUESTION, Tier.STATE_PARTY, 2, 3))
    floor.request(request(Kind.STATEMENT, Tier.STATE_PARTY, 3, 4))
    assert [(r.kind, r.delegation_id) for r in floor.waiting] == [
        (Kind.QUESTION, 3),
        (Kind.STATEMENT, 4),
        (Kind.STATEMENT, 1),
        (Kind.RIGHT_OF_REPLY, 2),
    ]
    assert floor.rules.limit_for(Kind.QUESTION, Tier.STATE_PARTY) == 180


# -- views -------------------------------------------------------------------------


def test_each_viewer_sees_what_they_may():
    b = board()
    pending = submit(b, 1, text="My pending question", voters=set())
    anonymous = approved(b, 2, text="An anonymous one", is_anonymous=True, voters=set())
    assert view_for(b, pending, 3, moderates=False) is None
    assert view_for(b, pending, 1, moderates=False)["is_mine"] is True
    assert view_for(b, pending, 99, moderates=True)["authors"][0]["id"] == 1
    public = view_for(b, anonymous, 3, moderates=False)
    assert public["authors"] == [] and "original_text" not in public
    assert view_for(b, anonymous, 99, moderates=True)["authors"][0]["name"] == "Author 2"
    b.reject(pending.id, "Out of scope", NOW)
    assert view_for(b, pending, 1, moderates=False)["reject_reason"] == "Out of scope"
    assert [q.id for q in in_order(b) if view_for(b, q, 3, moderates=False)] == [anonymous.id]


def test_a_pending_question_is_never_sent_to_everyone():
    b = board()
    question = submit(b, 1, voters=set())
    change = b.edit(question.id, 1, moderates=False, text="Edited words", language=None, topic_id=None, now=NOW)
    events = change_events(b, change)
    assert [recipients for _, _, recipients in events] == [only(1), MODERATORS]
    change = b.approve(question.id, NOW)
    assert [recipients for _, _, recipients in change_events(b, change)] == [EVERYONE, only(1), MODERATORS]
    change = b.reject(question.id, "Already answered", NOW)
    events = change_events(b, change)
    assert events[0] == ("question_hidden", {"change": "rejected", "id": question.id, "queue": []}, EVERYONE)
    assert all("Already answered" not in str(data) for _, data, recipients in events if recipients == EVERYONE)


def test_undoing_a_merge_takes_the_kept_question_back_from_the_other_author():
    b = board()
    kept = submit(b, 1, voters=set())
    duplicate = submit(b, 2, voters=set())
    b.merge(duplicate.id, kept.id, NOW)
    change = b.unmerge(duplicate.id, NOW)
    assert change.former_authors == (2,)
    events = change_events(b, change)
    hidden = [(data, recipients) for type_, data, recipients in events if type_ == "question_hidden"]
    assert hidden == [({"change": "unmerged", "id": kept.id, "queue": []}, only(2))]
