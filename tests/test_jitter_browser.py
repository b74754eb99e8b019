"""The listener's jitter buffer (static/jitter.js), run in Chromium as the playout worklet runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.test_browser import ARGS, CHROMIUM

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://jitter.invalid"


@pytest.fixture
async def run_js():
    """Evaluate a function body with Playout, FRAME_MS and the bench's network in scope."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async def serve(route):
        path = (ROOT / route.request.url.removeprefix(ORIGIN + "/")).resolve()
        if path.suffix == ".js" and path.is_file() and ROOT in path.parents:
            await route.fulfill(body=path.read_text(), content_type="text/javascript")
        else:
            await route.fulfill(body="<!doctype html><title>jitter</title>", content_type="text/html")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await browser.new_page()
        await page.route(f"{ORIGIN}/**", serve)
        await page.goto(f"{ORIGIN}/")

        async def run(body: str):
            return await page.evaluate(
                f"""async () => {{
                  const {{ Playout, FRAME_MS }} = await import('/static/jitter.js');
                  const {{ network, before, after }} = await import('/bench/audio_loss.js');
                  {body}
                }}"""
            )

        yield run
        await browser.close()


# Packets of a steady stream arriving 30 ms after they are sent, pulled every
# 20 ms from the first arrival; ``skip`` are never sent, ``hold`` arrive late.
STREAM = """
function play(count, { skip = [], hold = {}, pulls = count + 20 } = {}) {
  const playout = new Playout();
  const arrivals = [];
  for (let index = 0; index < count; index += 1) {
    if (skip.includes(index)) continue;
    arrivals.push([Math.max(arrivals.at(-1)?.[0] ?? 0, index * 20 + 30 + (hold[index] ?? 0)), index]);
  }
  const out = [];
  let next = 0;
  for (let pull = 0; pull < pulls; pull += 1) {
    const now = 30 + pull * 20;
    while (next < arrivals.length && arrivals[next][0] <= now) {
      playout.arrive(arrivals[next][1] * 20000, arrivals[next][0], arrivals[next][1]);
      next += 1;
    }
    const step = playout.next(now);
    out.push(step.kind === 'packet' ? step.packet : step.kind);
  }
  return { out, stats: playout.stats, target: playout.targetMs };
}
"""


async def test_a_steady_stream_is_played_in_order_with_the_least_delay(run_js):
    result = await run_js(STREAM + "return play(50);")
    played = [step for step in result["out"] if isinstance(step, int)]
    assert played == list(range(50))
    # Started one frame after the first packet: 20 ms, not a fixed 80.
    assert result["out"][:2] == ["silence", 0]
    assert result["target"] == 20


async def test_a_lost_packet_is_rebuilt_from_the_next_ones_fec_and_never_becomes_silence(run_js):
    result = await run_js(STREAM + "return play(40, { skip: [10] });")
    out = result["out"]
    at = out.index(9)
    assert out[at + 1 : at + 3] == ["fec", 11]
    assert result["stats"]["fec"] == 1


async def test_two_lost_in_a_row_are_concealed_then_rebuilt(run_js):
    result = await run_js(STREAM + "return play(40, { skip: [10, 11] });")
    out = result["out"]
    at = out.index(9)
    # Slot 10 is due before packet 12 tells it is lost: held once, then
    # concealed, then 11 rebuilt from 12's FEC data.
    assert out[at + 1 : at + 5] == ["conceal", "conceal", "fec", 12]


async def test_a_late_packet_is_waited_for_with_concealment_and_then_played_not_dropped(run_js):
    result = await run_js(STREAM + "return play(40, { hold: { 10: 50 } });")
    out = result["out"]
    played = [step for step in out if isinstance(step, int)]
    assert played[:11] == list(range(11))
    at = out.index(9)
    assert out[at + 1 : at + 3] == ["conceal", "conceal"]
    assert result["stats"]["expanded"] >= 2
    assert "silence" not in out[at : out.index(39)]


async def test_the_delay_follows_the_jitter_up_and_back_down(run_js):
    figures = await run_js(
        """
        const playout = new Playout();
        let sent = 0;
        const feed = (seconds, jitter) => {
          for (let index = 0; index < seconds * 50; index += 1, sent += 1) {
            playout.arrive(sent * 20000, sent * 20 + 30 + (index % 5 === 0 ? jitter : 0), sent);
          }
          return playout.targetMs;
        };
        return [feed(5, 0), feed(5, 60), feed(5, 0)];
        """
    )
    calm, jittery, calm_again = figures
    assert calm == 20
    assert 60 <= jittery <= 70
    assert calm_again == 20


async def test_a_sender_starting_again_from_zero_is_heard_again(run_js):
    result = await run_js(
        """
        const playout = new Playout();
        const out = [];
        for (let i = 0; i < 400; i += 1) {
          const now = 30 + i * 20;
          // 300 packets, then the publisher restarts its clock at 0.
          const index = i < 300 ? i : i - 300;
          playout.arrive(index * 20000, now, i);
          out.push(playout.next(now + 20).kind);
        }
        return out.slice(320);
        """
    )
    assert result.count("packet") >= 75


async def test_a_drifting_sender_clock_keeps_the_same_delay_over_ten_minutes(run_js):
    figures = await run_js(
        """
        const heard = network({ seconds: 600, lossPercent: 0, jitterMs: 20, driftPpm: 500, seed: 7 });
        return [before(heard), after(heard)];
        """
    )
    old, new = figures
    assert new["latencyP95"] < 60
    assert new["gapPercent"] == 0
    # The old scheduling let the delay grow with the drift until it reset.
    assert old["latencyP95"] > new["latencyP95"]


async def test_against_five_percent_loss_and_forty_ms_jitter_nothing_is_cut_out(run_js):
    old, new = await run_js(
        """
        const heard = network({ seconds: 120, lossPercent: 5, jitterMs: 40, seed: 1 });
        return [before(heard), after(heard)];
        """
    )
    assert old["gapPercent"] > 5
    assert new["gapPercent"] < 0.1
    assert new["latencyP50"] < old["latencyP50"]
