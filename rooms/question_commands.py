"""The commands of questions: schemas, who may send them, handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from rooms.commands import PRINTABLE, Command, CommandSet, Context, EntityId, LanguageCode
from rooms.errors import Refused
from rooms.floor import Floor, Kind
from rooms.floor_commands import AddSpeaker
from rooms.question_views import View, change_events, counts_events, vote_view
from rooms.questions import MAX_QUEUE, MAX_TEXT, MIN_TEXT, Board, Change, Question
from rooms.recipients import Recipients, only
from rooms.roles import FLOOR_RUNNERS, SPEAKERS

commands = CommandSet()

# Who may ask and vote: whoever may take the floor. Interpreters, captioners,
# the room feed and observers follow without taking part.
AUDIENCE = SPEAKERS

# Per participant: a burst, then one more every 1/rate seconds.
SUBMISSIONS = ("questions.submit", 0.1, 5)
VOTES = ("questions.vote", 2.0, 20)

QuestionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=MIN_TEXT, max_length=MAX_TEXT), PRINTABLE
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=280), PRINTABLE]


async def _record(ctx: Context, board: Board, change: Change) -> None:
    # Views count votes: make sure those of every question shown are loaded.
    ids = [q.id for q in (change.question, *change.also) if q.id is not None]
    await ctx.state(Board, *ids)
    plan = change_events(board, change)
    built: list[list[tuple[str, View, Recipients]]] = []

    def data(index: int) -> Callable[[], View]:
        def build() -> View:
            # Built once, after the first emit wrote the new rows (ids).
            if not built:
                built.append(change_events(board, change))
            return built[0][index][1]

        return build

    for index, (type_, _, recipients) in enumerate(plan):
        await ctx.emit(type_, data(index), recipients)


class SubmitQuestion(Command):
    type: Literal["submit_question"]
    text: QuestionText
    language: LanguageCode
    topic_id: EntityId | None = None
    # Hidden from the audience; moderators still see who asked.
    is_anonymous: bool = False
    # "I wish to ask it myself": the moderator may put the author on the list of speakers.
    wants_to_ask: bool = False


@commands.command(SubmitQuestion, roles=AUDIENCE)
async def submit_question(ctx: Context, command: SubmitQuestion) -> None:
    await ctx.limit(*SUBMISSIONS)
    actor = ctx.actor
    board = await ctx.state(Board)
    question = Question(
        author_id=actor.participant_id,
        author_name=actor.name,
        delegation_id=actor.delegation_id,
        delegation_name=actor.delegation_name,
        text=command.text,
        language=command.language,
        submitted_at=ctx.now,
        topic_id=command.topic_id,
        is_anonymous=command.is_anonymous,
        wants_to_ask=command.wants_to_ask,
        is_presubmitted=board.opens_at is not None and ctx.now < board.opens_at,
    )
    await _record(ctx, board, board.submit(question, ctx.now))


class EditQuestion(Command):
    type: Literal["edit_question"]
    question_id: EntityId
    text: QuestionText
    language: LanguageCode | None = None
    topic_id: EntityId | None = None


@commands.command(EditQuestion, roles=AUDIENCE)
async def edit_question(ctx: Context, command: EditQuestion) -> None:
    board = await ctx.state(Board, command.question_id)
    change = board.edit(
        command.question_id,
        ctx.actor.participant_id,
        moderates=ctx.actor.runs_floor,
        text=command.text,
        language=command.language,
        topic_id=command.topic_id,
        now=ctx.now,
    )
    await _record(ctx, board, change)


class WithdrawQuestion(Command):
    type: Literal["withdraw_question"]
    question_id: EntityId


@commands.command(WithdrawQuestion, roles=AUDIENCE)
async def withdraw_question(ctx: Context, command: WithdrawQuestion) -> None:
    board = await ctx.state(Board, command.question_id)
    await _record(ctx, board, board.withdraw(command.question_id, ctx.actor.participant_id, ctx.now))


class VoteQuestion(Command):
    type: Literal["vote_question"]
    question_id: EntityId


@commands.command(VoteQuestion, roles=AUDIENCE)
async def vote_question(ctx: Context, command: VoteQuestion) -> None:
    await ctx.limit(*VOTES)
    board = await ctx.state(Board, command.question_id)
    change = board.vote(command.question_id, ctx.actor.participant_id)
    await _voted(ctx, board, change.question, voted=True)


class UnvoteQuestion(Command):
    type: Literal["unvote_question"]
    question_id: EntityId


@commands.command(UnvoteQuestion, roles=AUDIENCE)
async def unvote_question(ctx: Context, command: UnvoteQuestion) -> None:
    await ctx.limit(*VOTES)
    board = await ctx.state(Board, command.question_id)
    change = board.unvote(command.question_id, ctx.actor.participant_id)
    await _voted(ctx, board, change.question, voted=False)


async def _voted(ctx: Context, board: Board, question: Question, *, voted: bool) -> None:
    # The voter sees their vote at once; everyone else sees the new count
    # with the others of the moment (publish_votes), not one message a vote.
    data = vote_view(board, question, voted=voted)
    await ctx.emit("question_voted", lambda: data, only(ctx.actor.participant_id))


class PublishVotes(Command):
    """Sent by the server, never a client: the counts of the questions voted
    on since the last time, in one event (at most every
    ``TRIBUNE_COUNTS_EVERY_SECONDS`` per session)."""

    type: Literal["publish_votes"]
    ids: Annotated[list[EntityId], Field(max_length=10_000)]


commands.coalesce("question_voted", PublishVotes)


@commands.command(PublishVotes, roles=())
async def publish_votes(ctx: Context, command: PublishVotes) -> None:
    board = await ctx.state(Board, *command.ids)
    for data, recipients in counts_events(board, command.ids):
        await ctx.emit("question_votes", _given(data), recipients)


def _given(data: View) -> Callable[[], View]:
    return lambda: data


# -- moderation ----------------------------------------------------------------


class ApproveQuestion(Command):
    type: Literal["approve_question"]
    question_id: EntityId


@commands.command(ApproveQuestion, roles=FLOOR_RUNNERS)
async def approve_question(ctx: Context, command: ApproveQuestion) -> None:
    board = await ctx.state(Board, command.question_id)
    await _record(ctx, board, board.approve(command.question_id, ctx.now))


class RejectQuestion(Command):
    type: Literal["reject_question"]
    question_id: EntityId
    # Shown to the author.
    reason: Reason


@commands.command(RejectQuestion, roles=FLOOR_RUNNERS)
async def reject_question(ctx: Context, command: RejectQuestion) -> None:
    board = await ctx.state(Board, command.question_id)
    await _record(ctx, board, board.reject(command.question_id, command.reason, ctx.now))


class RestoreQuestion(Command):
    type: Literal["restore_question"]
    question_id: EntityId


@commands.command(RestoreQuestion, roles=FLOOR_RUNNERS)
async def restore_question(ctx: Context, command: RestoreQuestion) -> None:
    board = await ctx.state(Board, command.question_id)
    await _record(ctx, board, board.restore(command.question_id, ctx.now))


class ArchiveQuestion(Command):
    type: Literal["archive_question"]
    question_id: EntityId


@commands.command(ArchiveQuestion, roles=FLOOR_RUNNERS)
async def archive_question(ctx: Context, command: ArchiveQuestion) -> None:
    board = await ctx.state(Board, command.question_id)
    await _record(ctx, board, board.archive(command.question_id, ctx.now))


class QueueQuestion(Command):
    type: Literal["queue_question"]
    question_id: EntityId
    # 1-based place among the questions next up; the end when left out.
    position: Annotated[int, Field(ge=1, le=MAX_QUEUE)] | None = None


@commands.command(QueueQuestion, roles=FLOOR_RUNNERS)
async def queue_question(ctx: Context, command: QueueQuestion) -> None:
    board = await ctx.state(Board, command.question_id)
    await _record(ctx, board, board.enqueue(command.question_id, command.position, ctx.now))


class UnqueueQuestion(Command):
    type: Literal["unqueue_question"]
    question_id: EntityId


@commands.command(UnqueueQuestion, roles=FLOOR_RUNNERS)
async def unqueue_question(ctx: Context, command: UnqueueQuestion) -> None:
    board = await ctx.state(Board, command.question_id)
    await _record(ctx, board, board.unqueue(command.question_id, ctx.now))


class ReorderQuestions(Command):
    type: Literal["reorder_questions"]
    question_ids: Annotated[list[EntityId], Field(max_length=MAX_QUEUE)]


@commands.command(ReorderQuestions, roles=FLOOR_RUNNERS)
async def reorder_questions(ctx: Context, command: ReorderQuestions) -> None:
    board = await ctx.state(Board)
    queue = board.reorder_queue(list(command.question_ids))
    await ctx.emit("question_queue", lambda: {"queue": list(queue)})


class PutQuestionOnAir(Command):
    type: Literal["put_question_on_air"]
    question_id: EntityId


@commands.command(PutQuestionOnAir, roles=FLOOR_RUNNERS)
async def put_question_on_air(ctx: Context, command: PutQuestionOnAir) -> None:
    board = await ctx.state(Board, command.question_id)
    await _record(ctx, board, board.put_on_air(command.question_id, ctx.now))


class AnswerQuestion(Command):
    type: Literal["answer_question"]
    question_id: EntityId


@commands.command(AnswerQuestion, roles=FLOOR_RUNNERS)
async def answer_question(ctx: Context, command: AnswerQuestion) -> None:
    board = await ctx.state(Board, command.question_id)
    await _record(ctx, board, board.answer(command.question_id, ctx.now))


class MergeQuestions(Command):
    type: Literal["merge_questions"]
    # The duplicate, merged into the question kept.
    question_id: EntityId
    into_id: EntityId


@commands.command(MergeQuestions, roles=FLOOR_RUNNERS)
async def merge_questions(ctx: Context, command: MergeQuestions) -> None:
    board = await ctx.state(Board, command.question_id, command.into_id)
    await _record(ctx, board, board.merge(command.question_id, command.into_id, ctx.now))


class UnmergeQuestion(Command):
    type: Literal["unmerge_question"]
    question_id: EntityId


@commands.command(UnmergeQuestion, roles=FLOOR_RUNNERS)
async def unmerge_question(ctx: Context, command: UnmergeQuestion) -> None:
    board = await ctx.state(Board, command.question_id)
    await _record(ctx, board, board.unmerge(command.question_id, ctx.now))


class SetQuestionModeration(Command):
    type: Literal["set_question_moderation"]
    # True: questions wait for a moderator before the audience sees them.
    is_moderated: bool


@commands.command(SetQuestionModeration, roles=FLOOR_RUNNERS)
async def set_question_moderation(ctx: Context, command: SetQuestionModeration) -> None:
    board = await ctx.state(Board)
    if board.is_moderated == command.is_moderated:
        raise Refused("unchanged", "The session is already moderated that way.")
    board.is_moderated = command.is_moderated
    board.moderation_changed = True
    await ctx.emit("question_moderation", lambda: {"is_moderated": command.is_moderated})


class QuestionToFloor(Command):
    """The author of an approved question, who wished to ask it, goes on the
    list of speakers for their delegation."""

    type: Literal["question_to_floor"]
    question_id: EntityId


@commands.command(QuestionToFloor, roles=FLOOR_RUNNERS)
async def question_to_floor(ctx: Context, command: QuestionToFloor) -> None:
    board = await ctx.state(Board, command.question_id)
    question = board.to_floor_check(command.question_id)
    assert question.delegation_id is not None  # checked above
    note = question.text if len(question.text) <= 280 else question.text[:279] + "…"
    # The floor's own command, in this transaction: the list's rules apply
    # (a question ranks as a statement of the author's delegation).
    await ctx.execute(
        AddSpeaker(
            id=command.id,
            type="add_speaker",
            delegation_id=question.delegation_id,
            speaker_name=question.author_name[:120],
            speaker_id=question.author_id,
            kind=Kind.QUESTION,
            language=question.language,
            note=note,
        )
    )
    floor = await ctx.state(Floor)
    request = next(r for r in floor.waiting if r.kind is Kind.QUESTION and r.delegation_id == question.delegation_id)
    assert request.id is not None  # written by the floor event's emit
    await _record(ctx, board, board.link_request(question, request.id, ctx.now))
