"""Questions over the live protocol: real server, real sockets, both databases."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from server import models


async def _submit(client, text="How can funding for survivors last beyond one project?", **fields) -> dict:
    reply = await client.command("submit_question", text=text, language=fields.pop("language", "en"), **fields)
    assert reply["type"] == "ack", reply
    return reply


# Which view of a question an event carries: each recipient group gets its own.
_VIEW_KEYS = {"moderator": "original_text", "mine": "is_mine", "public": None}


async def _latest(client, question_id: int, view: str = "public", change: str | None = None) -> dict:
    """The next event about this question carrying this view of it (after this change)."""
    key = _VIEW_KEYS[view]
    while True:
        event = await client.next_event("question_updated")
        question = event["data"]["question"]
        if change is not None and event["data"]["change"] != change:
            continue
        if question["id"] == question_id and (
            key in question if key else "is_mine" not in question and "original_text" not in question
        ):
            return event


def _texts(message: dict) -> str:
    return str(message)


async def test_a_pending_question_reaches_only_its_author_and_the_moderators(connect, world):
    chair = await connect("chair")
    france = await connect("france")
    peru = await connect("peru")
    await _submit(france, text="A question still pending: private words")
    mine = await france.next_event("question_updated")
    assert mine["data"]["question"]["state"] == "pending" and mine["data"]["question"]["is_mine"] is True
    seen = await chair.next_event("question_updated")
    question_id = seen["data"]["question"]["id"]
    assert seen["data"]["question"]["authors"][0]["name"] == "Delegate of France"

    # Peru's socket gets nothing: a ping answered proves nothing was queued before it.
    pong = await peru.command("ping")
    assert pong["type"] == "pong"
    assert all("private words" not in _texts(m) for m in peru.backlog)

    # Peru reconnects from the start: neither the replay nor the snapshot holds it.
    replayed = await connect("peru", last_seq=0)
    assert "private words" not in _texts(replayed.first)
    while replayed.first["type"] != "resumed":
        assert "private words" not in _texts(replayed.first)
        replayed.first = await replayed.recv()
    fresh = await connect("peru")
    assert fresh.first["type"] == "snapshot" and fresh.first["questions"]["items"] == []
    assert "private words" not in _texts(fresh.first)
    # The author's and the moderator's snapshots do hold it.
    assert [q["id"] for q in (await connect("france")).first["questions"]["items"]] == [question_id]
    assert [q["id"] for q in (await connect("chair")).first["questions"]["items"]] == [question_id]

    # Rejected: the author sees why, nobody else ever sees it.
    await chair.command("reject_question", question_id=question_id, reason="Please ask it in the next panel")
    rejected = await _latest(france, question_id, "mine")
    assert rejected["data"]["question"]["reject_reason"] == "Please ask it in the next panel"
    again = await connect("peru", last_seq=0)
    messages = [again.first]
    while messages[-1]["type"] != "resumed":
        messages.append(await again.recv())
    assert "private words" not in _texts(messages) and "next panel" not in _texts(messages)


async def test_approve_queue_on_air_vote_and_merge(connect, world):
    chair = await connect("chair")
    france = await connect("france")
    peru = await connect("peru")
    usa = await connect("usa")
    await _submit(france, text="What makes a State attractive for funding?", is_anonymous=True)
    question_id = (await chair.next_event("question_updated"))["data"]["question"]["id"]
    await _submit(peru, text="What makes a country attractive to donors?")
    duplicate_id = (await chair.next_event("question_updated"))["data"]["question"]["id"]

    assert (await chair.command("approve_question", question_id=question_id))["type"] == "ack"
    public = await _latest(usa, question_id)
    assert public["data"]["question"]["state"] == "approved"
    # Anonymous to the audience, not to the moderators.
    assert public["data"]["question"]["authors"] == []
    assert "Delegate of France" not in _texts(public)
    assert (await _latest(chair, question_id, "moderator"))["data"]["question"]["authors"][0][
        "name"
    ] == "Delegate of France"

    assert (await usa.command("vote_question", question_id=question_id))["type"] == "ack"
    # The voter at once; everyone (the voter too) with the counts of the moment.
    mine = await usa.next_event("question_voted")
    assert mine["data"] == {"id": question_id, "voted": True, "votes": 1}
    votes = await peru.next_event("question_votes")
    assert votes["data"] == {"counts": [{"id": question_id, "votes": 1}]} and votes["actor"] is None
    again = await usa.command("vote_question", question_id=question_id)
    assert again["code"] == "already_voted"
    # Not approved yet: no vote.
    assert (await usa.command("vote_question", question_id=duplicate_id))["code"] == "invalid_state"

    await chair.command("approve_question", question_id=duplicate_id)
    await peru.command("vote_question", question_id=duplicate_id)
    await usa.command("vote_question", question_id=duplicate_id)
    merged = await chair.command("merge_questions", question_id=duplicate_id, into_id=question_id)
    assert merged["type"] == "ack"
    kept = await _latest(chair, question_id, "moderator")
    assert kept["data"]["question"]["votes"] == 2  # usa once, peru
    assert [a["name"] for a in kept["data"]["question"]["authors"]] == ["Delegate of France", "Delegate of Peru"]
    # Peru's question went into France's: Peru sees where.
    hidden = await peru.next_event("question_hidden")
    assert hidden["data"]["id"] == duplicate_id
    own = await _latest(peru, duplicate_id, "mine")
    assert own["data"]["question"]["state"] == "merged" and own["data"]["question"]["merged_into"] == question_id

    await chair.command("queue_question", question_id=question_id)
    assert (await _latest(usa, question_id, change="queued"))["data"]["queue"] == [question_id]
    await chair.command("put_question_on_air", question_id=question_id)
    on_air = await _latest(usa, question_id, change="on_air")
    assert on_air["data"]["question"]["state"] == "on_air" and on_air["data"]["queue"] == []

    snapshot = (await connect("usa")).first["questions"]
    assert snapshot["voted"] == [question_id]
    assert [(q["id"], q["state"], q["votes"]) for q in snapshot["items"]] == [(question_id, "on_air", 2)]

    await chair.command("unmerge_question", question_id=duplicate_id)
    back = await _latest(usa, duplicate_id, change="unmerged")
    assert back["data"]["question"]["state"] == "approved" and back["data"]["question"]["votes"] == 2


async def test_a_question_goes_to_the_floor_and_is_heard(connect, world):
    chair = await connect("chair")
    france = await connect("france")
    await _submit(france, text="May I ask the panel about regional funds?", wants_to_ask=True, language="fr")
    question_id = (await chair.next_event("question_updated"))["data"]["question"]["id"]
    await chair.command("approve_question", question_id=question_id)
    reply = await chair.command("question_to_floor", question_id=question_id)
    assert reply["type"] == "ack"
    requested = await france.next_event("floor_requested")
    request = requested["data"]["request"]
    assert request["kind"] == "question" and request["speaker_id"] == world.participants["france"]
    assert request["delegation"]["name"] == "France" and request["note"].startswith("May I ask")
    linked = await _latest(france, question_id, "mine")
    assert linked["data"]["question"]["speaking_request_id"] == request["id"]
    assert linked["replica"]["waiting"][0]["id"] == request["id"]

    twice = await chair.command("question_to_floor", question_id=question_id)
    assert twice["code"] == "already_requested"

    await chair.command("give_floor")
    given = await france.next_event("floor_given")
    assert given["data"]["speech"]["kind"] == "question"
    assert given["data"]["speech"]["speaker_name"] == "Delegate of France"
    assert given["data"]["speech"]["limit_s"] == 180


async def test_to_the_floor_is_all_or_nothing(connect, world):
    chair = await connect("chair")
    france = await connect("france")
    france2 = await connect("france2")
    await _submit(france, wants_to_ask=True)
    first = (await chair.next_event("question_updated"))["data"]["question"]["id"]
    await _submit(france2, text="Another question from France", wants_to_ask=True)
    second = (await chair.next_event("question_updated"))["data"]["question"]["id"]
    for question_id in (first, second):
        await chair.command("approve_question", question_id=question_id)
    await chair.command("question_to_floor", question_id=first)
    refused = await chair.command("question_to_floor", question_id=second)
    # France already has a waiting question request: nothing is linked either.
    assert refused["code"] == "duplicate_request"
    snapshot = (await connect("chair")).first
    by_id = {q["id"]: q for q in snapshot["questions"]["items"]}
    assert by_id[second]["speaking_request_id"] is None
    assert len(snapshot["floor"]["waiting"]) == 1


async def test_presubmitted_before_the_session_opens(connect, world, db):
    async with db() as s, s.begin():
        later = datetime.now(UTC) + timedelta(days=1)
        await s.execute(
            update(models.Session)
            .where(models.Session.id == world.session_id)
            .values(starts_at=later, ends_at=later + timedelta(hours=2))
        )
    france = await connect("france")
    await _submit(france)
    event = await france.next_event("question_updated")
    assert event["data"]["question"]["is_presubmitted"] is True


async def test_bad_input_is_refused_and_changes_nothing(connect, world):
    france = await connect("france")
    for fields in (
        {"text": "ab", "language": "en"},
        {"text": "x" * 1001, "language": "en"},
        {"text": "Fine text", "language": "xx"},
        {"text": "Fine text", "language": "ru"},  # known, but not this event's
        {"text": "Fine text\x00", "language": "en"},
        {"text": "Fine text", "language": "en", "topic_id": 2**40},
        {"text": "Fine text", "language": "en", "topic_id": 12345},
    ):
        reply = await france.command("submit_question", **fields)
        assert reply["type"] == "error" and reply["code"] == "invalid", (fields, reply)
    observer = await connect("observer")
    assert (await observer.command("submit_question", text="Fine text", language="en"))["code"] == "forbidden"
    assert (await france.command("approve_question", question_id=1))["code"] == "forbidden"
    assert (await france.command("vote_question", question_id=999))["code"] == "not_found"
    snapshot = (await connect("chair")).first
    assert snapshot["seq"] == 0 and snapshot["questions"]["items"] == []


async def test_submissions_and_votes_are_rate_limited(connect, world):
    france = await connect("france")
    codes = []
    for index in range(8):
        reply = await france.command("submit_question", text=f"Question number {index}", language="en")
        codes.append(reply.get("code", "ok"))
    assert codes[:5] == ["ok"] * 5 and "rate_limited" in codes[5:]
    # The connection is still good.
    assert (await france.command("ping"))["type"] == "pong"


async def test_the_author_edits_and_withdraws_while_pending(connect, world):
    chair = await connect("chair")
    france = await connect("france")
    await _submit(france, text="First draft of my question")
    question_id = (await chair.next_event("question_updated"))["data"]["question"]["id"]
    await france.command("edit_question", question_id=question_id, text="Second draft of my question")
    assert (await _latest(chair, question_id, "moderator"))["data"]["question"]["text"] == "Second draft of my question"
    await france.command("withdraw_question", question_id=question_id)
    assert (await _latest(chair, question_id, "moderator"))["data"]["question"]["state"] == "withdrawn"
    assert (await chair.command("approve_question", question_id=question_id))["code"] == "invalid_state"

    await _submit(france, text="A question the moderator will polish")
    other = (await chair.next_event("question_updated"))["data"]["question"]["id"]
    await chair.command("approve_question", question_id=other)
    await chair.command("edit_question", question_id=other, text="A polished question")
    edited = await _latest(chair, other, "moderator", change="edited")
    assert edited["data"]["question"]["original_text"] == "A question the moderator will polish"
    # The author sees the polished text, not the moderators' record of the original.
    mine = await _latest(france, other, "mine", change="edited")
    assert mine["data"]["question"]["text"] == "A polished question" and "original_text" not in mine["data"]["question"]


async def test_open_sessions_show_questions_at_once(connect, world):
    chair = await connect("chair")
    peru = await connect("peru")
    assert (await chair.command("set_question_moderation", is_moderated=False))["type"] == "ack"
    france = await connect("france")
    await _submit(france, text="Seen by all at once")
    event = await peru.next_event("question_updated")
    assert event["data"]["question"]["state"] == "approved"


async def test_counts_are_told_in_batches_and_the_voter_sees_their_vote_at_once(connect, world):
    """Slido-like counts that move, not one message to everyone per vote."""
    chair = await connect("chair")
    ids = []
    for who, text in (("france", "What of the stockpiles?"), ("peru", "And the funding of clearance?")):
        await _submit(await connect(who), text=text)
        ids.append((await chair.next_event("question_updated"))["data"]["question"]["id"])
    for question_id in ids:
        await chair.command("approve_question", question_id=question_id)
    watcher = await connect("presenter")
    voters = [await connect(who) for who in ("france", "france2", "peru", "usa", "icrc", "icbl")]
    for voter in voters:
        for question_id in ids:
            await voter.send("vote_question", question_id=question_id)
    for voter in voters:
        for _ in ids:
            assert (await voter.next_event("question_voted"))["data"]["voted"] is True
    counts: dict[int, int] = {}
    batches = 0
    while counts != {ids[0]: 6, ids[1]: 6}:
        event = await watcher.next_event("question_votes")
        batches += 1
        counts.update({count["id"]: count["votes"] for count in event["data"]["counts"]})
    assert batches < 12, "one event per vote"
    # A late joiner's snapshot and a replay agree with what was told live.
    late = await connect("observer")
    items = {item["id"]: item["votes"] for item in late.first["questions"]["items"]}
    assert items == counts
