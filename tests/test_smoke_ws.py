async def test_smoke(connect):
    france = await connect("france")
    assert france.first["type"] == "snapshot"
    chair = await connect("chair")
    reply = await france.command("request_floor", kind="statement", language="fr")
    assert reply["type"] == "ack", reply
    event = await chair.next_event("floor_requested")
    assert event["floor"]["waiting"][0]["speaker_name"] == "Delegate of France"
    reply = await chair.command("give_floor")
    assert reply["type"] == "ack", reply
    ev = await france.next_event("floor_given")
    assert ev["floor"]["current"]["speaker_name"] == "Delegate of France"
