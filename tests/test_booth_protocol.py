"""Booths over the live protocol: real server(s), real sockets, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

import pytest
import websockets
from sqlalchemy import select

from server import models
from server.export import export_captions
from server.settings import Settings
from tests.booth_world import add_booth_staff
from tests.conftest import SECRET, Client, LiveServer, free_port


@pytest.fixture
async def world(db, world):
    return await add_booth_staff(db, world)


@pytest.fixture
async def server(database_url, world):
    # A long grace: tests of the take-over see the gap before the release.
    live = LiveServer(
        Settings(database_url=database_url, secret=SECRET, port=free_port(), mic_release_grace_seconds=60)
    )
    await live.start()
    yield live
    await live.stop()


async def booth_of(db, world, language: str = "fr") -> models.Booth:
    async with db() as s:
        return await s.scalar(
            select(models.Booth).where(models.Booth.session_id == world.session_id, models.Booth.language == language)
        )


async def is_connected(db, participant_id: int) -> bool:
    async with db() as s:
        return (
            await s.scalar(select(models.Presence.id).where(models.Presence.participant_id == participant_id))
            is not None
        )


async def wait_until(check) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.02)


async def test_going_on_air_is_announced_to_everyone(connect, world):
    fr1, france = await connect("fr1"), await connect("france")
    assert france.first["interpretation"]["booth"] is None
    channels = {c["name"]: c for c in france.first["interpretation"]["channels"]}
    assert channels["fr"]["live"] is None and channels["captions:en"]["kind"] == "captions"
    assert fr1.first["interpretation"]["booth"]["language"] == "fr"
    assert [i["name"] for i in fr1.first["interpretation"]["booth"]["interpreters"]][:2] == [
        "Hélène Rousseau",
        "Antoine Lefèvre",
    ]

    assert (await fr1.command("take_mic"))["type"] == "ack"
    event = await france.next_event("mic_changed")
    assert event["data"]["language"] == "fr" and event["data"]["live"] == world.participants["fr1"]
    assert event["data"]["live_name"] == "Hélène Rousseau" and event["data"]["since"]
    # A later snapshot shows the channel live.
    late = await connect("usa")
    live = {c["name"]: c.get("live") for c in late.first["interpretation"]["channels"]}
    assert live["fr"] == world.participants["fr1"] and live["en"] is None

    other = await connect("fr2")
    refused = await other.command("take_mic")
    assert refused["code"] == "mic_taken" and "Hélène Rousseau" in refused["message"]
    france_refused = await france.command("take_mic")
    assert france_refused["code"] == "forbidden"


async def test_handover_accepted_swaps_the_mic(connect, world, db):
    fr1, fr2, france = await connect("fr1"), await connect("fr2"), await connect("france")
    await fr1.command("take_mic")
    assert (await fr2.command("request_handover"))["type"] == "ack"
    asked = await fr1.next_event("handover_requested")
    assert asked["data"]["requester"] == {"id": world.participants["fr2"], "name": "Antoine Lefèvre"}
    assert asked["data"]["expires_at"] > asked["data"]["requested_at"]

    assert (await fr1.command("answer_handover", accept=True))["type"] == "ack"
    answered = await fr2.next_event("handover_answered")
    assert answered["data"]["accepted"] is True
    swapped = await fr2.next_event("mic_changed")
    assert swapped["data"]["live"] == world.participants["fr2"] and swapped["data"]["reason"] == "handover"
    # Listeners see the channel change hands, never the booth's own business.
    seen = await france.next_event()
    assert seen["type"] == "mic_changed" and seen["data"]["live"] == world.participants["fr1"]
    seen = await france.next_event()
    assert seen["type"] == "mic_changed" and seen["data"]["live"] == world.participants["fr2"]
    assert (await booth_of(db, world)).live_interpreter_id == world.participants["fr2"]


async def test_handover_declined_or_expired_keeps_the_mic(connect, world, db):
    fr1, fr2 = await connect("fr1"), await connect("fr2")
    await fr1.command("take_mic")
    await fr2.command("request_handover")
    assert (await fr1.command("answer_handover", accept=False))["type"] == "ack"
    declined = await fr2.next_event("handover_answered")
    assert declined["data"]["accepted"] is False
    assert (await fr1.command("answer_handover", accept=True))["code"] == "no_handover"

    await fr2.command("request_handover")
    # A minute passes (the request's time is moved back in the database, the truth).
    async with db() as s, s.begin():
        booth = await s.scalar(select(models.Booth).where(models.Booth.language == "fr"))
        booth.handover_requested_at -= timedelta(seconds=61)
    expired = await fr1.command("answer_handover", accept=True)
    assert expired["code"] == "handover_expired"
    assert (await booth_of(db, world)).live_interpreter_id == world.participants["fr1"]
    # The partner's snapshot no longer shows the lapsed request.
    again = await connect("fr2")
    assert again.first["interpretation"]["booth"]["handover"] is None


async def test_the_partner_takes_over_when_the_live_interpreter_disconnects(connect, world, db):
    fr1, fr2, usa = await connect("fr1"), await connect("fr2"), await connect("usa")
    await fr1.command("take_mic")
    assert (await fr2.command("take_mic"))["code"] == "mic_taken"
    await fr1.close()
    await wait_until(lambda: _not(is_connected(db, world.participants["fr1"])))
    taken = await fr2.command("take_mic")
    assert taken["type"] == "ack"
    await usa.next_event("mic_changed")
    event = await usa.next_event("mic_changed")
    assert event["data"]["live"] == world.participants["fr2"] and event["data"]["reason"] == "taken_over"
    assert event["data"]["previous"] == world.participants["fr1"]


async def _not(awaitable) -> bool:
    return not await awaitable


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_mic_of_an_interpreter_who_does_not_come_back_is_released(database_url, world, db):
    live = LiveServer(
        Settings(database_url=database_url, secret=SECRET, port=free_port(), mic_release_grace_seconds=0.2)
    )
    await live.start()
    try:
        fr1 = Client(
            await websockets.connect(f"{live.ws_url}/ws/sessions/{world.session_id}?token={world.tokens['fr1']}")
        )
        usa = Client(
            await websockets.connect(f"{live.ws_url}/ws/sessions/{world.session_id}?token={world.tokens['usa']}")
        )
        await fr1.recv(), await usa.recv()
        await fr1.command("take_mic")
        await usa.next_event("mic_changed")
        await fr1.close()
        released = await usa.next_event("mic_changed")
        assert released["data"]["live"] is None and released["data"]["reason"] == "disconnected"
        # The server released it: nobody sent a command.
        assert released["actor"] is None and released["data"]["previous"] == world.participants["fr1"]
        await usa.close()
    finally:
        await live.stop()


async def test_concurrent_takeovers_in_two_processes_leave_one_interpreter_on_air(database_url, world, db):
    servers = [
        LiveServer(Settings(database_url=database_url, secret=SECRET, port=free_port(), mic_release_grace_seconds=60))
        for _ in range(2)
    ]
    for live in servers:
        await live.start()
    clients = []
    try:
        for n, key in enumerate(["fr1", "fr2", "fr3"] * 2):
            live = servers[n % 2]
            socket = await websockets.connect(f"{live.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[key]}")
            client = Client(socket)
            await client.recv()
            clients.append((key, client))
        for _round in range(3):
            replies = await asyncio.gather(*(client.command("take_mic") for _, client in clients))
            winners = [key for (key, _), reply in zip(clients, replies) if reply["type"] == "ack"]
            assert len(winners) == 1, replies
            assert {reply["code"] for reply in replies if reply["type"] == "error"} <= {"mic_taken", "already_live"}
            booth = await booth_of(db, world)
            assert booth.live_interpreter_id == world.participants[winners[0]]
            # The winner leaves the mic; everyone races again.
            winner = next(client for key, client in clients if key == winners[0])
            assert (await winner.command("release_mic"))["type"] == "ack"
    finally:
        for _, client in clients:
            await client.close()
        for live in servers:
            await live.stop()


async def test_a_speaker_in_arabic_sends_the_french_booth_to_a_relay(connect, world):
    chair, france, fr1, ar1 = [await connect(k) for k in ("chair", "france", "fr1", "ar1")]
    await france.command("request_floor", language="es")
    await chair.command("give_floor")
    advised = await fr1.next_event("relay_advised")
    assert advised["data"] == {
        "language": "fr",
        "floor_language": "es",
        "needs_relay": False,
        "relay": None,
        "is_auto_relay": False,
    }
    spanish = await france.next_event("passthrough_changed")
    assert spanish["data"] == {"language": "es", "is_passthrough": True, "floor_language": "es"}
    assert (await france.command("declare_language", language="ar"))["type"] == "ack"
    advised = await fr1.next_event("relay_advised")
    assert advised["data"]["needs_relay"] is True and advised["data"]["relay"] == "en"
    # The Arabic channel now carries the floor itself, for every listener.
    changed = [(await france.next_event("passthrough_changed"))["data"] for _ in range(2)]
    assert changed == [
        {"language": "ar", "is_passthrough": True, "floor_language": "ar"},
        {"language": "es", "is_passthrough": False, "floor_language": "ar"},
    ]
    for_spanish = await ar1.next_event("relay_advised")
    assert (for_spanish["data"]["floor_language"], for_spanish["data"]["relay"]) == ("es", "en")
    arabic = await ar1.next_event("relay_advised")
    assert arabic["data"]["floor_language"] == "ar" and arabic["data"]["needs_relay"] is False
    # Taking the advice: the French interpreter listens to the English booth.
    assert (await fr1.command("set_source", source="en"))["type"] == "ack"
    source = await fr1.next_event("source_changed")
    assert source["data"] == {"language": "fr", "participant_id": world.participants["fr1"], "source": "en"}
    assert (await fr1.command("set_source", source="fr"))["code"] == "invalid_source"
    # The speech ends: no more pass-through.
    await chair.command("end_speech")
    ended = await france.next_event("passthrough_changed")
    assert ended["data"]["is_passthrough"] is False
    # Delegates never received the booths' own advice.
    snapshot = (await connect("fr1")).first["interpretation"]
    assert snapshot["booth"]["interpreters"][0]["source"] == "en"


async def test_a_booth_set_to_relay_automatically_is_switched(connect, world):
    chair, france, fr1, fr2 = [await connect(k) for k in ("chair", "france", "fr1", "fr2")]
    assert (await fr2.command("set_auto_relay", enabled=True))["type"] == "ack"
    assert (await fr1.next_event("auto_relay_set"))["data"] == {"language": "fr", "is_auto_relay": True}
    await france.command("request_floor", language="ar")
    await chair.command("give_floor")
    # All three interpreters of the booth move to the English relay.
    switched = [(await fr1.next_event("source_changed"))["data"] for _ in range(3)]
    assert {(e["participant_id"], e["source"]) for e in switched} == {
        (world.participants[key], "en") for key in ("fr1", "fr2", "fr3")
    }
    await france.command("declare_language", language="es")
    back = [(await fr1.next_event("source_changed"))["data"]["source"] for _ in range(3)]
    assert back == ["floor"] * 3


async def test_booth_chat_reaches_the_partners_only(connect, world):
    fr1, fr2, en1, france, chair = [await connect(k) for k in ("fr1", "fr2", "en1", "france", "chair")]
    assert (await fr1.command("send_booth_message", text="  Numbers coming: 1,234 mines  "))["type"] == "ack"
    message = await fr2.next_event("booth_message")
    assert message["data"]["text"] == "Numbers coming: 1,234 mines"
    assert message["data"]["author"] == {"id": world.participants["fr1"], "name": "Hélène Rousseau"}
    # Then something for everyone: the others' next event is that, not the chat.
    await fr1.command("take_mic")
    for outsider in (en1, france, chair):
        assert (await outsider.next_event())["type"] == "mic_changed"
    # The chat is in the partners' snapshot, not in anyone else's.
    assert [m["text"] for m in (await connect("fr2")).first["interpretation"]["booth"]["messages"]] == [
        "Numbers coming: 1,234 mines"
    ]
    assert (await connect("en1")).first["interpretation"]["booth"]["messages"] == []
    too_long = await fr1.command("send_booth_message", text="x" * 501)
    assert too_long["code"] == "invalid"
    assert (await france.command("send_booth_message", text="hi"))["code"] == "forbidden"


async def test_slow_down_reaches_the_speaker_and_the_chair(connect, world):
    chair, france, usa, fr1 = [await connect(k) for k in ("chair", "france", "usa", "fr1")]
    assert (await fr1.command("slow_down"))["code"] == "no_speech"
    await france.command("request_floor", language="en")
    await chair.command("give_floor")
    assert (await fr1.command("slow_down"))["type"] == "ack"
    for who in (france, chair):
        event = await who.next_event("slow_down_requested")
        assert event["data"]["interpreter"]["name"] == "Hélène Rousseau" and event["data"]["language"] == "fr"
    await chair.command("end_speech")
    # The other delegate's next event is the end of the speech, not the request.
    assert (await usa.next_event("speech_ended"))["type"] == "speech_ended"
    assert usa.backlog == [] or all(m["type"] != "slow_down_requested" for m in usa.backlog)


async def test_captions_reach_everyone_and_are_kept(connect, world, db):
    captioner, usa, chair, france = [await connect(k) for k in ("captioner", "usa", "chair", "france")]
    assert captioner.first["interpretation"]["captioning"] == "en"
    await france.command("request_floor", language="fr")
    await chair.command("give_floor")
    assert (await captioner.command("send_caption", text="Thank you, Madam Chair."))["type"] == "ack"
    caption = await usa.next_event("caption")
    assert caption["data"]["channel"] == "captions:en" and caption["data"]["text"] == "Thank you, Madam Chair."
    assert caption["data"]["speech_id"] is not None and caption["data"]["at"]
    assert (await connect("observer")).first["interpretation"]["captions"][-1]["text"] == "Thank you, Madam Chair."
    assert (await usa.command("send_caption", text="hello"))["code"] == "forbidden"
    async with db() as s:
        kept = (await s.scalars(select(models.Caption))).all()
    assert [(c.language, c.text) for c in kept] == [("en", "Thank you, Madam Chair.")]
    # Exported with the speech it was typed during.
    out = io.StringIO()
    assert await export_captions(db, str(world.session_id), out) == 1
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert (row["speaker"], row["language"], row["text"]) == ("Delegate of France", "en", "Thank you, Madam Chair.")
    assert row["speech_id"] == str(caption["data"]["speech_id"])


async def test_an_interpreter_with_no_booth_is_told(connect, world):
    # The conftest world's interpreter has the role but no booth assignment.
    lone = await connect("interpreter")
    assert lone.first["interpretation"]["booth"] is None
    assert (await lone.command("take_mic"))["code"] == "not_in_booth"


async def test_the_booth_page_is_for_interpreters_and_captioners(server, world):
    import httpx

    from server.auth import COOKIE

    url = f"/sessions/{world.session_id}/booth"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        anonymous = await http.get(url)
        assert anonymous.status_code == 403 and "Open your personal join link first" in anonymous.text
    for key, status in (("fr1", 200), ("captioner", 200), ("france", 403), ("chair", 403)):
        async with httpx.AsyncClient(base_url=server.url, timeout=10, cookies={COOKIE: world.tokens[key]}) as http:
            page = await http.get(url)
            assert page.status_code == status, key
            assert ('id="take-mic"' in page.text) == (status == 200)
            if key == "fr1":
                # The console follows the page's language like every page.
                french = await http.get(url + "?lang=fr")
                assert french.status_code == 200 and '<html lang="fr"' in french.text
