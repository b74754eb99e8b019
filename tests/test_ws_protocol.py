"""The live protocol through a real uvicorn server and real WebSocket clients."""

import asyncio
import contextlib
import json

import pytest
import websockets

from server import hub, live_socket, read_mark
from server.read_mark import READ_LAG
from server.settings import Settings
from tests.conftest import SECRET, LiveServer, free_port


async def test_snapshot_shows_the_session_me_and_the_floor(connect, world):
    france = await connect("france")
    snapshot = france.first
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 0
    assert snapshot["me"]["name"] == "Delegate of France"
    assert snapshot["me"]["delegation"]["tier"] == "state_party"
    assert "request_floor" in snapshot["me"]["may"] and "give_floor" not in snapshot["me"]["may"]
    assert snapshot["replica"] == {
        "is_closed": False,
        "rules": snapshot["replica"]["rules"],
        "current": None,
        "waiting": [],
    }
    assert {d["tier"] for d in snapshot["delegations"]} == {
        "state_party",
        "observer_state",
        "international_organisation",
        "civil_society",
    }
    chair = await connect("chair")
    assert "give_floor" in chair.first["me"]["may"]


async def test_commands_are_acked_with_the_seq_of_their_event(connect):
    france = await connect("france")
    command_id = await france.send("request_floor", kind="statement", language="fr")
    event = await france.next_event()
    reply = await france.reply_to(command_id)
    assert reply == {"type": "ack", "id": command_id, "seq": 1}
    assert event["type"] == "floor_requested" and event["seq"] == 1
    assert event["data"]["order"] == [event["data"]["request"]["id"]]
    assert event["replica"]["waiting"][0]["position"] == 1
    assert event["actor"]["name"] == "Delegate of France"

    again = await france.command("request_floor", kind="statement")
    assert again["type"] == "error" and again["code"] == "duplicate_request"


async def test_every_client_sees_the_same_order(connect):
    clients = {who: await connect(who) for who in ("chair", "france", "usa", "icbl", "icrc", "observer")}
    # Asked in reverse order of precedence, all at once.
    await asyncio.gather(
        clients["icbl"].command("request_floor"),
        clients["icrc"].command("request_floor"),
        clients["usa"].command("request_floor"),
        clients["france"].command("request_floor"),
    )
    await clients["icbl"].command("request_floor", kind="point_of_order", note="Sound is cut")
    seen = {}
    for who, client in clients.items():
        events = [await client.next_event() for _ in range(5)]
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
        seen[who] = [w["delegation"]["name"] for w in events[-1]["replica"]["waiting"]]
    expected = seen["chair"]
    assert all(order == expected for order in seen.values())
    assert expected[0] == "International Campaign to Ban Landmines"  # the point of order
    tiers = [w["delegation"]["tier"] for w in events[-1]["replica"]["waiting"][1:]]
    assert tiers == ["state_party", "observer_state", "international_organisation", "civil_society"]


async def test_a_room_written_a_chunk_at_a_time_gives_everyone_every_event_once_and_each_sender_its_own_first(
    connect, monkeypatch
):
    # Every room of more than one socket is written a chunk at a time, as a plenary's is.
    monkeypatch.setattr(hub, "CHUNK", 1)
    names = ("chair", "france", "usa", "icbl", "icrc", "observer")
    clients = {who: await connect(who) for who in names}
    read: dict[str, list[dict]] = {who: [] for who in names}

    async def read_until(who, done):
        while not done(message := await clients[who].recv()):
            if message["type"] != "heartbeat":
                read[who].append(message)
        read[who].append(message)
        return message

    async def ask(who):
        asked = await clients[who].send("request_floor")
        ack = await read_until(who, lambda message: message["type"] == "ack")
        # Its own event came before its ack, not at its turn in the room.
        assert ack["id"] == asked and ack["seq"] in [m["seq"] for m in read[who] if m["type"] == "floor_requested"]

    await asyncio.gather(*(ask(who) for who in ("france", "usa", "icbl", "icrc")))
    for who in names:
        if not any(m.get("seq") == 4 and m["type"] != "ack" for m in read[who]):
            await read_until(who, lambda message: message["type"] == "floor_requested" and message["seq"] == 4)
        assert [m["seq"] for m in read[who] if m["type"] == "floor_requested"] == [1, 2, 3, 4], who
    assert (await clients["chair"].command("ping"))["type"] == "pong"


async def test_a_whole_list_is_run_and_every_speech_kept(connect, world):
    chair = await connect("chair")
    france = await connect("france")
    peru = await connect("peru")
    await france.command("request_floor", language="fr")
    await peru.command("request_floor", on_behalf="delegation", language="es")
    added = await chair.command(
        "add_speaker",
        delegation_id=world.delegations["icbl"],
        speaker_name="Survivor advocate (in room)",
        language="en",
    )
    assert added["type"] == "ack"
    assert (await chair.command("give_floor"))["type"] == "ack"
    event = await france.next_event("floor_given")
    assert event["replica"]["current"]["speaker_name"] == "Delegate of France"
    assert event["replica"]["current"]["limit_s"] == 180 and event["replica"]["current"]["language"] == "fr"
    assert (await chair.command("pause_speech"))["type"] == "ack"
    paused = await france.next_event("speech_paused")
    assert paused["replica"]["current"]["is_paused"] is True
    assert (await chair.command("resume_speech"))["type"] == "ack"
    assert (await france.command("declare_language", language="en"))["type"] == "ack"
    declared = await peru.next_event("language_declared")
    assert declared["replica"]["current"]["language"] == "en"
    waiting = (await chair.next_event("language_declared"))["replica"]["waiting"]
    in_room = next(w for w in waiting if w["is_in_room"])
    assert (await chair.command("give_floor", request_id=in_room["id"]))["type"] == "ack"
    speaking = given_before = peru.replica.current
    given = await peru.next_event("floor_given")
    assert given_before["speaker_name"] == "Delegate of France"
    assert given["data"]["ended"]["request_id"] == speaking["request_id"] and given["data"]["ended"]["ended_at"]
    assert given["replica"]["current"]["speaker_name"] == "Survivor advocate (in room)"
    assert given["replica"]["current"]["limit_s"] == 120
    assert [w["speaker_name"] for w in given["replica"]["waiting"]] == ["Peru"]
    assert (await chair.command("end_speech"))["type"] == "ack"
    ended = await peru.next_event("speech_ended")
    assert ended["replica"]["current"] is None and ended["data"]["ended"]["ended_at"]


async def test_moderator_reorders_moves_removes_and_closes(connect):
    chair = await connect("chair")
    speakers = ["france", "peru", "usa", "icrc"]
    for who in speakers:
        client = await connect(who)
        await client.command("request_floor")
    floor = (await chair.next_event())["replica"]
    for _ in range(3):
        floor = (await chair.next_event())["replica"]
    ids = [w["id"] for w in floor["waiting"]]
    stale = await chair.command("reorder", request_ids=ids[:-1])
    assert stale["code"] == "stale_list"
    assert (await chair.command("reorder", request_ids=list(reversed(ids))))["type"] == "ack"
    assert [w["id"] for w in (await chair.next_event("list_reordered"))["replica"]["waiting"]] == ids[::-1]
    assert (await chair.command("move_request", request_id=ids[0], position=1))["type"] == "ack"
    moved = await chair.next_event("request_moved")
    assert moved["replica"]["waiting"][0]["id"] == ids[0]
    assert (await chair.command("remove_request", request_id=ids[1], reason="Speaks in the next session"))[
        "type"
    ] == "ack"
    removed = await chair.next_event("request_removed")
    assert removed["data"]["reason"] == "Speaks in the next session"
    assert ids[1] not in [w["id"] for w in removed["replica"]["waiting"]]
    assert (await chair.command("close_list"))["type"] == "ack"
    icbl = await connect("icbl")
    assert (await icbl.command("request_floor"))["code"] == "list_closed"
    assert (await icbl.command("request_floor", kind="point_of_order", note="Interpretation"))["type"] == "ack"
    assert (await chair.command("reopen_list"))["type"] == "ack"
    assert (await icbl.command("request_floor"))["type"] == "ack"


async def test_withdraw_own_request_but_not_another_delegations(connect):
    france = await connect("france")
    france2 = await connect("france2")
    peru = await connect("peru")
    await france.command("request_floor", on_behalf="delegation")
    request_id = (await france.next_event("floor_requested"))["data"]["request"]["id"]
    refused = await peru.command("withdraw", request_id=request_id)
    assert refused["code"] == "forbidden"
    assert (await france2.command("withdraw", request_id=request_id))["type"] == "ack"
    event = await france.next_event("request_withdrawn")
    assert event["replica"]["waiting"] == []


async def test_resume_by_last_seq_gets_exactly_what_was_missed(connect):
    france = await connect("france")
    chair = await connect("chair")
    await france.command("request_floor")
    seen = (await france.next_event())["seq"]
    await france.close()  # the connection drops
    peru = await connect("peru")
    await peru.command("request_floor")
    await chair.command("give_floor")
    await chair.command("pause_speech")
    back = await connect("france", last_seq=seen, read_first=False)
    replayed = [await back.recv() for _ in range(4)]
    assert [m["type"] for m in replayed] == ["floor_requested", "floor_given", "speech_paused", "resumed"]
    assert [m["seq"] for m in replayed] == [2, 3, 4, 4]
    # and live events continue right after, with no gap
    await chair.command("resume_speech")
    assert (await back.next_event())["seq"] == 5


async def test_resume_from_too_old_or_unknown_seq_gets_a_snapshot(database_url, world):
    live = LiveServer(Settings(database_url=database_url, secret=SECRET, port=free_port(), replay_limit=2))
    await live.start()
    try:
        url = f"{live.ws_url}/ws/sessions/{world.session_id}?token={world.tokens['france']}"
        async with websockets.connect(url) as socket:
            await socket.recv()  # the snapshot
            for n, kind in enumerate(["statement", "point_of_order", "right_of_reply", "statement"]):
                await socket.send(json.dumps({"type": "request_floor", "id": n, "kind": kind}))
            replies = [json.loads(await socket.recv()) for _ in range(3 * 2 + 1)]
            assert [r["type"] for r in replies].count("ack") == 3
            assert replies[-1]["code"] == "duplicate_request"  # the 4th: one statement per delegation
        async with websockets.connect(url + "&last_seq=0") as socket:
            message = json.loads(await socket.recv())
            assert message["type"] == "snapshot" and message["seq"] == 3
            assert len(message["floor"]["waiting"]) == 3
        async with websockets.connect(url + "&last_seq=99") as socket:  # from a newer, lost database
            assert json.loads(await socket.recv())["type"] == "snapshot"
        async with websockets.connect(url + "&last_seq=2") as socket:
            assert [json.loads(await socket.recv())["type"] for _ in range(2)] == ["floor_requested", "resumed"]
    finally:
        await live.stop()


async def test_a_server_restart_on_the_same_database_loses_nothing(server, connect):
    france = await connect("france")
    chair = await connect("chair")
    peru = await connect("peru")
    await france.command("request_floor", language="fr")
    await peru.command("request_floor", kind="right_of_reply")
    await chair.command("give_floor")
    await chair.command("pause_speech")
    before = await chair.next_event("speech_paused")
    last_seq = before["seq"]

    await server.restart()

    after = await connect("chair")
    snapshot = after.first
    assert snapshot["seq"] == last_seq
    assert snapshot["replica"]["current"]["speaker_name"] == "Delegate of France"
    assert snapshot["replica"]["current"]["is_paused"] is True
    assert snapshot["replica"]["current"]["remaining_s"] == before["replica"]["current"]["remaining_s"]
    assert snapshot["replica"]["waiting"] == before["replica"]["waiting"]
    resumed = await connect("france", last_seq=1, read_first=False)
    assert [(await resumed.recv())["seq"] for _ in range(3)] == [2, 3, 4]
    assert (await after.command("resume_speech"))["seq"] == last_seq + 1


MODERATOR_COMMANDS = {
    "give_floor": {},
    "end_speech": {},
    "pause_speech": {},
    "resume_speech": {},
    "move_request": {"request_id": 1, "position": 1},
    "reorder": {"request_ids": [1]},
    "remove_request": {"request_id": 1, "reason": "test"},
    "add_speaker": {"delegation_id": 1, "speaker_name": "Someone"},
    "close_list": {},
    "reopen_list": {},
}


@pytest.mark.parametrize("who", ["france", "interpreter", "observer", "presenter"])
async def test_moderator_commands_from_others_are_forbidden_and_change_nothing(connect, who):
    chair = await connect("chair")
    france = await connect("france")
    await france.command("request_floor")
    await chair.command("give_floor")
    await france.command("request_floor")
    await chair.next_event("floor_requested")
    await chair.next_event("floor_given")
    state = await chair.next_event("floor_requested")
    someone = await connect(who)
    for command, fields in MODERATOR_COMMANDS.items():
        reply = await someone.command(command, **fields)
        assert reply["type"] == "error" and reply["code"] == "forbidden", (command, reply)
    fresh = await connect("chair")
    assert fresh.first["seq"] == state["seq"]
    assert fresh.first["replica"]["waiting"] == state["replica"]["waiting"]


@pytest.mark.parametrize("who", ["interpreter", "observer"])
async def test_interpreters_and_observers_do_not_take_the_floor(connect, who):
    client = await connect(who)
    assert (await client.command("request_floor"))["code"] == "forbidden"


async def test_organizer_without_delegation_cannot_ask_for_the_floor(connect):
    secretariat = await connect("secretariat")
    assert (await secretariat.command("request_floor"))["code"] == "no_delegation"


BAD_FRAMES = [
    ("{not json", "bad_json"),
    ("[1, 2]", "bad_json"),
    ('{"id": "x"}', "invalid"),
    ('{"type": "launch_missiles", "id": "x"}', "unknown_type"),
    ('{"type": "request_floor", "id": "x", "kind": "filibuster"}', "invalid"),
    ('{"type": "request_floor", "id": "x", "note": 12}', "invalid"),
    ('{"type": "request_floor", "id": "x", "language": "xx"}', "invalid"),
    ('{"type": "request_floor", "id": "x", "extra": true}', "invalid"),
    ('{"type": "withdraw", "id": "x", "request_id": "1"}', "invalid"),
    ('{"type": "request_floor", "id": {"nested": 1}}', "invalid"),
    ('{"type": "request_floor", "id": "x", "note": "' + "a" * 281 + '"}', "invalid"),
    ('{"type": "request_floor", "id": "x", "note": "' + "a" * 20000 + '"}', "too_large"),
    # Each of these closed the socket with 1011 and a traceback before.
    ('{"type": "withdraw", "id": "x", "request_id": ' + "9" * 5000 + "}", "invalid"),
    ('{"type": "withdraw", "id": ' + "9" * 5000 + ', "request_id": 1}', "invalid"),
    ('{"type": "withdraw", "id": "x", "request_id": 18446744073709551616}', "invalid"),  # beyond 64 bits
    ('{"type": "withdraw", "id": "x", "request_id": 2147483648}', "invalid"),  # beyond PostgreSQL's integer
    ('{"type": "move_request", "id": "x", "request_id": 1, "position": 99999999999}', "invalid"),
    ('{"type": "request_floor", "id": "x", "note": "a\\ud800b"}', "invalid"),  # a lone surrogate
    ('{"type": "request_floor", "id": "\\udc00"}', "invalid"),
    ('{"type": "request_\\ud800", "id": "x"}', "unknown_type"),
    ('{"type": "request_floor", "id": "x", "note": "before\\u0000after"}', "invalid"),  # NUL: same on both engines
    ('{"type": "add_speaker", "id": "x", "delegation_id": 1, "speaker_name": "A\\u0000"}', "invalid"),
    ('{"type": "request_floor", "id": "x", "kind": "statement", "language": "fr\\u0000"}', "invalid"),
]


@pytest.mark.parametrize("frame,code", BAD_FRAMES)
async def test_bad_input_gets_an_error_and_changes_nothing(connect, frame, code):
    france = await connect("france")
    await france.socket.send(frame)
    reply = await france.recv()
    assert reply["type"] == "error" and reply["code"] == code, reply
    assert reply["message"]
    fresh = await connect("chair")
    assert fresh.first["seq"] == 0 and fresh.first["replica"]["waiting"] == []
    assert (await france.command("ping"))["type"] == "pong"  # the socket is still usable


async def test_binary_frames_are_refused(connect):
    france = await connect("france")
    await france.socket.send(b"\x00\x01")
    assert (await france.recv())["code"] == "unsupported"
    assert (await france.command("ping"))["type"] == "pong"


async def test_a_flooding_client_is_closed_with_4429_and_reconnecting_does_not_refill_its_allowance(connect, caplog):
    france = await connect("france")
    # Every frame counts: binary and oversized ones too.
    for n in range(200):
        frame = b"x" if n % 3 == 0 else ("a" * 20000 if n % 3 == 1 else json.dumps({"type": "ping", "id": n}))
        try:
            await france.socket.send(frame)
        except websockets.ConnectionClosed:
            break
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await france.recv()
    assert closed.value.rcvd.code == 4429
    again = await connect("france")
    accepted = 0
    for n in range(100):
        try:
            await again.socket.send(json.dumps({"type": "ping", "id": n}))
        except websockets.ConnectionClosed:
            break
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            message = await again.recv()
            accepted += message["type"] == "pong"
    assert closed.value.rcvd.code == 4429
    assert accepted < 30  # the allowance was not refilled by reconnecting
    assert not [r for r in caplog.records if r.exc_info], "a 4429 logs no traceback"


async def test_frames_sent_while_the_socket_opens_count_against_the_allowance(server, world):
    """20 sockets of one person, each sending 32 frames before its snapshot
    arrived: all of them were answered before, as if no limit applied."""
    url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens['france']}"
    started = asyncio.get_running_loop().time()
    sockets = await asyncio.gather(*(websockets.connect(url) for _ in range(20)))
    try:
        await asyncio.gather(
            *(socket.send(json.dumps({"type": "ping", "id": n})) for socket in sockets for n in range(32))
        )
        pongs = 0
        for socket in sockets:
            replies = 0
            with contextlib.suppress(websockets.ConnectionClosed):  # 4429 once refused too often
                while replies < 32:
                    message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    if message["type"] in ("snapshot", "heartbeat"):
                        continue
                    replies += 1
                    pongs += message["type"] == "pong"
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets))
    settings = server.settings
    assert pongs <= settings.command_burst + settings.commands_per_second * elapsed + 1, (pongs, elapsed)


async def test_per_message_compression_offered_by_browsers_is_declined(server, world):
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens['france']}"
    browser_offer = [ClientPerMessageDeflateFactory(client_max_window_bits=True)]
    async with websockets.connect(url, compression=None, extensions=browser_offer) as socket:
        assert socket.request.headers["Sec-WebSocket-Extensions"] == "permessage-deflate; client_max_window_bits"
        assert "Sec-WebSocket-Extensions" not in socket.response.headers
        assert json.loads(await socket.recv())["type"] == "snapshot"


async def test_a_flood_is_throttled_and_nothing_accepted_is_lost(connect):
    france = await connect("france")
    for n in range(60):
        await france.socket.send(json.dumps({"type": "ping", "id": n}))
    replies = [await france.recv() for _ in range(60)]
    limited = [r for r in replies if r["type"] == "error"]
    assert limited and all(r["code"] == "rate_limited" for r in limited)
    assert sum(r["type"] == "pong" for r in replies) >= 30


async def test_unknown_token_is_refused(server, world):
    url = f"{server.ws_url}/ws/sessions/{world.session_id}?token=nope"
    async with websockets.connect(url) as socket:
        message = json.loads(await socket.recv())
        assert message["code"] == "unauthorized"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd.code == 4401


async def test_unknown_session_is_refused(server, world):
    url = f"{server.ws_url}/ws/sessions/99999?token={world.tokens['france']}"
    async with websockets.connect(url) as socket:
        assert json.loads(await socket.recv())["code"] == "not_found"


async def test_foreign_origin_is_rejected(server, world):
    url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens['france']}"
    with pytest.raises(websockets.InvalidStatus) as rejected:
        await websockets.connect(url, origin="http://evil.example")
    assert rejected.value.response.status_code == 403
    async with websockets.connect(url, origin=server.url) as socket:
        assert json.loads(await socket.recv())["type"] == "snapshot"


async def test_join_cookie_authenticates_the_socket(server, world):
    url = f"{server.ws_url}/ws/sessions/{world.session_id}"
    headers = {"Cookie": f"tribune_token={world.tokens['peru']}"}
    async with websockets.connect(url, additional_headers=headers) as socket:
        assert json.loads(await socket.recv())["me"]["name"] == "Delegate of Peru"


async def test_a_socket_gets_the_events_written_between_reading_who_it_is_and_joining_the_room(
    connect, world, monkeypatch
):
    # Reading who a socket is fixes the database's snapshot, and it joins the
    # room only after: a command committed and written to everyone in between
    # was in neither its snapshot nor what the room wrote to it, and the next
    # heartbeat told it a seq it had not had (seen once in CI, under load).
    chair = await connect("chair")
    was_read, go_on = asyncio.Event(), asyncio.Event()
    read = live_socket.read_for_connect

    async def read_then_wait(db, session_id, token):
        found = await read(db, session_id, token)
        if token == world.tokens["france"]:
            was_read.set()
            await go_on.wait()
        return found

    monkeypatch.setattr(live_socket, "read_for_connect", read_then_wait)
    opening = asyncio.create_task(connect("france"))
    await was_read.wait()
    closed = await chair.command("close_list")
    go_on.set()
    france = await opening
    assert france.first["seq"] == closed["seq"] - 1  # the snapshot from before it
    assert france.first["replica"]["is_closed"] is False
    event = await france.next_event()
    assert (event["type"], event["seq"]) == ("list_closed", closed["seq"])
    assert event["replica"]["is_closed"] is True
    # And nothing twice: the next event follows.
    await chair.command("reopen_list")
    assert (await france.next_event())["seq"] == closed["seq"] + 1


async def test_a_sender_waits_while_the_room_has_not_read_its_events_and_nothing_is_lost(server, connect, monkeypatch):
    # A server faster than its listeners read would fill their sockets, and
    # every event would wait behind hundreds: the room asks how far they
    # have read (a ping each few events; the websockets library answers it
    # once it has read what came before, as browsers do).
    monkeypatch.setattr(read_mark, "HOLD_SECONDS", 30)
    floods = server.app.state.tribune.floods
    floods.rate, floods.burst = 1000.0, 1000  # a burst of commands, not a flood
    chair = await connect("chair")
    listeners = [await connect(who) for who in LISTENERS]
    await held_until_they_read(chair, listeners)


LISTENERS = ("france", "usa", "icbl", "icrc", "observer")


async def held_until_they_read(chair, listeners) -> None:
    """The chair sends while ``listeners`` have stopped reading (their library's
    queue fills, 16 messages, then it stops taking from the socket, pings
    included): it is held, and goes on once they read."""
    acked, blocked = 0, None
    for number in range(200):
        command_id = await chair.send("reopen_list" if number % 2 else "close_list")
        try:
            reply = await chair.reply_to(command_id, timeout=1)
        except TimeoutError:
            blocked = command_id
            break
        assert reply["type"] == "ack", reply
        acked = reply["seq"]
    assert blocked is not None, "the sender ran 200 events ahead of a room that does not read"
    # Their library answered the pings it read before it stopped (what one read took: tens of events).
    assert READ_LAG < acked < 100
    # They read again: the sender goes on, and everyone has every event once, in order.
    seqs = await asyncio.gather(*(read_to(listener, acked + 1) for listener in listeners))
    assert all(seq == list(range(1, acked + 2)) for seq in seqs)
    assert (await chair.reply_to(blocked))["seq"] == acked + 1


async def read_to(client, last: int) -> list[int]:
    seqs: list[int] = []
    while not seqs or seqs[-1] < last:
        seqs.append((await client.next_event())["seq"])
    return seqs
