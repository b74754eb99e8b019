"""Shared snapshots (issue 9): each viewer's snapshot is exactly what it was
when built for them alone, the shared part is built once per state, and a
pending question stays with its author and the moderators. Real server,
real sockets, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from server import models
from server.auth import actor_in, participant_by_token
from server.snapshot import read_session_and_event, snapshot
from server.snapshot_cache import SharedCache
from tests.booth_world import add_booth_staff
from tests.snapshot_reference import reference_snapshot


@pytest.fixture
async def world(db, world):
    return await add_booth_staff(db, world)


async def _ack(client, type_: str, **fields) -> dict:
    reply = await client.command(type_, **fields)
    assert reply["type"] == "ack", reply
    return reply


async def _submit(client, chair, text: str, **fields) -> int:
    await _ack(client, "submit_question", text=text, language="en", **fields)
    return (await chair.next_event("question_updated"))["data"]["question"]["id"]


async def _busy_session(connect) -> dict[str, int]:
    """Questions in every state (one merged into another, votes overlapping
    across them), a speech on the floor and one waiting, a live booth with a
    message, a caption."""
    chair, france, peru, usa, icrc = [await connect(who) for who in ("chair", "france", "peru", "usa", "icrc")]
    fr1, captioner = await connect("fr1"), await connect("captioner")
    ids = {
        "kept": await _submit(france, chair, "What makes a State attractive for funding?", is_anonymous=True),
        "merged": await _submit(peru, chair, "What makes a country attractive to donors?"),
        "usa_pending": await _submit(usa, chair, "A pending question of the United States"),
        "icrc": await _submit(icrc, chair, "How are survivors reached in remote areas?"),
        "france_pending": await _submit(france, chair, "France's second question, still pending"),
        "rejected": await _submit(peru, chair, "A question to be rejected"),
    }
    for key in ("kept", "merged", "icrc"):
        await _ack(chair, "approve_question", question_id=ids[key])
    await _ack(chair, "reject_question", question_id=ids["rejected"], reason="Off topic")
    await _ack(usa, "vote_question", question_id=ids["kept"])
    await _ack(usa, "vote_question", question_id=ids["merged"])
    await _ack(peru, "vote_question", question_id=ids["merged"])
    await _ack(france, "vote_question", question_id=ids["icrc"])
    await _ack(chair, "merge_questions", question_id=ids["merged"], into_id=ids["kept"])
    await _ack(chair, "queue_question", question_id=ids["icrc"])
    await _ack(france, "request_floor", kind="statement", language="fr")
    await _ack(chair, "give_floor")
    await _ack(icrc, "request_floor", kind="statement")
    await _ack(fr1, "take_mic")
    await _ack(fr1, "send_booth_message", text="Numbers coming: 1,234 mines")
    await _ack(captioner, "send_caption", text="Thank you, Madam Chair.")
    return ids


async def _snapshots(db, world, registry, who: str, cache: SharedCache, now: datetime) -> tuple[str, str]:
    """The shared snapshot and the reference one, for one viewer, in one transaction."""
    async with db() as s, s.begin():
        found = await read_session_and_event(s, world.session_id)
        assert found is not None
        session, event = found
        participant = await participant_by_token(s, world.tokens[who])
        assert participant is not None
        actor = actor_in(participant, session)
        assert actor is not None
        new = await snapshot(s, session, actor, registry, now, event=event, cache=cache)
        old = await reference_snapshot(s, session, actor, registry, now)
    return new, old


async def _settled(db, world, quiet_seconds: float) -> None:
    """Wait until the session records nothing more for ``quiet_seconds``: the
    vote counts are told up to ``counts_every_seconds`` after the votes."""
    last_seq, quiet_since = None, asyncio.get_running_loop().time()
    while asyncio.get_running_loop().time() - quiet_since < quiet_seconds:
        async with db() as s:
            seq = (await s.get(models.Session, world.session_id, populate_existing=True)).last_seq
        if seq != last_seq:
            last_seq, quiet_since = seq, asyncio.get_running_loop().time()
        await asyncio.sleep(0.05)


async def test_each_viewer_gets_exactly_the_snapshot_built_for_them_alone(db, world, server, connect):
    ids = await _busy_session(connect)
    await _settled(db, world, 2 * server.app.state.tribune.settings.counts_every_seconds)
    registry = server.app.state.tribune.registry
    cache: SharedCache = SharedCache()
    now = datetime.now(UTC)
    # A participant, the moderators, an interpreter in their booth, a captioner,
    # authors with pending (and merged, rejected) questions, a voter, an observer.
    viewers = ["icbl", "chair", "secretariat", "fr1", "captioner", "france", "peru", "usa", "observer", "icrc"]
    for who in viewers:
        new, old = await _snapshots(db, world, registry, who, cache, now)
        assert json.loads(new) == json.loads(old), who
        assert new == old, who  # the very same text, keys in the same order
    assert cache.builds == 1  # one state, one build, whoever asked

    parsed = {who: json.loads((await _snapshots(db, world, registry, who, cache, now))[0]) for who in viewers}
    items = {who: {q["id"]: q for q in parsed[who]["questions"]["items"]} for who in viewers}
    # The key facts, field by field.
    assert set(items["icbl"]) == {ids["kept"], ids["icrc"]}
    assert items["icbl"][ids["kept"]]["votes"] == 2  # usa once across the merge, peru
    assert items["icbl"][ids["kept"]]["authors"] == [
        {"name": "Delegate of Peru", "delegation": items["icbl"][ids["kept"]]["authors"][0]["delegation"]}
    ]
    assert set(items["chair"]) == set(ids.values())
    assert items["chair"][ids["merged"]]["votes"] == 2  # its own voters: usa and peru
    assert set(items["france"]) == {ids["kept"], ids["icrc"], ids["france_pending"]}
    assert items["france"][ids["france_pending"]]["is_mine"] is True
    assert set(items["peru"]) == {ids["kept"], ids["icrc"], ids["merged"], ids["rejected"]}
    assert items["peru"][ids["rejected"]]["reject_reason"] == "Off topic"
    assert set(items["usa"]) == {ids["kept"], ids["icrc"], ids["usa_pending"]}
    assert parsed["usa"]["questions"]["voted"] == [ids["kept"]]
    assert parsed["france"]["questions"]["voted"] == [ids["icrc"]]
    assert parsed["icbl"]["questions"]["voted"] == []
    assert parsed["fr1"]["interpretation"]["booth"]["messages"][0]["text"] == "Numbers coming: 1,234 mines"
    assert parsed["france"]["interpretation"]["booth"] is None
    assert parsed["captioner"]["interpretation"]["captioning"] == "en"
    assert parsed["icbl"]["floor"]["current"]["speaker_name"] == "Delegate of France"
    assert [r["speaker_name"] for r in parsed["icbl"]["floor"]["waiting"]] == ["Delegate of the ICRC"]


async def test_a_pending_question_never_reaches_another_participants_snapshot(server, connect):
    chair, france = await connect("chair"), await connect("france")
    await _ack(france, "submit_question", text="Private words, pending", language="en")
    question_id = (await chair.next_event("question_updated"))["data"]["question"]["id"]
    for who in ("peru", "observer", "usa", "fr1"):
        first = (await connect(who)).first
        assert first["type"] == "snapshot" and first["questions"]["items"] == []
        assert "Private words" not in json.dumps(first)
    assert [q["id"] for q in (await connect("france")).first["questions"]["items"]] == [question_id]
    assert [q["id"] for q in (await connect("chair")).first["questions"]["items"]] == [question_id]
    # One build before the question, one for all those after it.
    assert server.app.state.tribune.snapshots.builds == 2


async def test_connects_at_one_seq_share_one_build_and_a_command_gives_the_next_the_new_state(server, connect):
    cache = server.app.state.tribune.snapshots
    first = await asyncio.gather(*(connect(who) for who in ("peru", "usa", "icbl", "observer", "chair", "france")))
    seqs = {client.first["seq"] for client in first}
    assert len(seqs) == 1 and cache.builds == 1
    before = cache.builds
    peru = first[0]
    await _ack(peru, "request_floor", kind="statement")
    again = await connect("usa")
    assert again.first["seq"] == seqs.pop() + 1
    assert [r["speaker_name"] for r in again.first["floor"]["waiting"]] == ["Delegate of Peru"]
    assert cache.builds == before + 1
    # The same state again: no build.
    await connect("icbl")
    assert cache.builds == before + 1


async def test_a_new_load_of_the_event_is_in_the_next_snapshot_at_the_same_seq(db, world, server, connect):
    cache = server.app.state.tribune.snapshots
    first = await connect("peru")
    # What `tribune load` does when the organizer renames a delegation: no command, no new seq.
    async with db() as s, s.begin():
        await s.execute(
            update(models.Delegation)
            .where(models.Delegation.id == world.delegations["fr"])
            .values(name="French Republic")
        )
        await s.execute(
            update(models.Event).where(models.Event.id == world.event_id).values(revision=models.Event.revision + 1)
        )
    again = await connect("usa")
    assert again.first["seq"] == first.first["seq"]
    assert "French Republic" in {d["name"] for d in again.first["delegations"]}
    assert cache.builds == 2


async def test_concurrent_callers_await_one_build_and_a_failed_build_is_retried():
    cache: SharedCache[str] = SharedCache()
    release = asyncio.Event()
    started = 0

    async def build() -> str:
        nonlocal started
        started += 1
        await release.wait()
        return "shared"

    waiting = [asyncio.create_task(cache.get((1, 5, None), build)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["shared"] * 20
    assert started == 1 and cache.builds == 1 and cache.shared == 19

    # A newer seq drops the older entry; an older one is served, not cached.
    assert await cache.get((1, 6, None), build) == "shared" and cache.builds == 2
    assert await cache.get((1, 5, None), build) == "shared" and cache.builds == 3
    assert list(cache._entries) == [(1, 6, None)]

    # The builder fails: those waiting on it build again, once.
    failing = asyncio.Event()

    async def broken() -> str:
        await failing.wait()
        raise RuntimeError("the database went away")

    first = asyncio.create_task(cache.get((2, 1, None), broken))
    await asyncio.sleep(0)
    others = [asyncio.create_task(cache.get((2, 1, None), build)) for _ in range(3)]
    await asyncio.sleep(0)
    failing.set()
    with pytest.raises(RuntimeError):
        await first
    assert await asyncio.gather(*others) == ["shared"] * 3
    assert cache.builds == 5  # the broken one, then one more for the three

    # A waiter cancelled does not cancel the build the others await.
    slow = asyncio.Event()

    async def later() -> str:
        await slow.wait()
        return "later"

    builder = asyncio.create_task(cache.get((3, 1, None), later))
    await asyncio.sleep(0)
    quitter = asyncio.create_task(cache.get((3, 1, None), later))
    stayer = asyncio.create_task(cache.get((3, 1, None), later))
    await asyncio.sleep(0)
    quitter.cancel()
    slow.set()
    assert await builder == "later" and await stayer == "later"
