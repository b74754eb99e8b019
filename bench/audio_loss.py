"""Playout against a lossy, jittery network: the listener's jitter buffer before and after.

Runs bench/audio_loss.js in Chromium (Debian's, as the tests do): the same
simulated network (packets lost, in bursts or not; delayed by a random
extra delay, in order, as a WebSocket delivers; a sender clock that drifts)
fed to the old scheduling of static/media.js and to static/jitter.js, the
playout that the page's worklet runs now. Printed per scenario, the median
over the seeds: the latency the player adds over the network's best case
(p50, p95), and the share of the sent 20 ms frames heard as a gap (silence
inserted mid-speech, or a lost packet cut out), concealed by the decoder
(PLC), rebuilt from the next packet's FEC data, or dropped to take back
delay or drift.

    .venv/bin/python bench/audio_loss.py                 # 3 seeds x 120 s per scenario
    .venv/bin/python bench/audio_loss.py --seconds 600 --seeds 5

It measures the scheduling, not the decoder's sound: concealment quality is
libopus's own.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from pathlib import Path

from playwright.async_api import Route, async_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
ORIGIN = "http://bench.invalid"
FIGURES = [
    ("latencyP50", "added p50 ms", "{:.0f}"),
    ("latencyP95", "added p95 ms", "{:.0f}"),
    ("gapPercent", "gaps %", "{:.2f}"),
    ("concealedPercent", "concealed %", "{:.2f}"),
    ("rebuiltPercent", "FEC %", "{:.2f}"),
    ("droppedPercent", "dropped %", "{:.2f}"),
]


async def serve_repo(route: Route) -> None:
    path = ROOT / route.request.url.removeprefix(ORIGIN + "/")
    if path.suffix == ".js" and path.is_file() and ROOT in path.resolve().parents:
        await route.fulfill(body=path.read_text(), content_type="text/javascript")
    else:
        await route.fulfill(status=200, body="<!doctype html><title>bench</title>", content_type="text/html")


async def simulate(seconds: int, seeds: list[int]) -> dict:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page()
            await page.route(f"{ORIGIN}/**", serve_repo)
            await page.goto(f"{ORIGIN}/")
            return await page.evaluate(
                """async ([seconds, seeds]) => {
                  const { run } = await import('/bench/audio_loss.js');
                  return run({ seconds, seeds });
                }""",
                [seconds, seeds],
            )
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=120, help="length of each simulated stream")
    parser.add_argument("--seeds", type=int, default=3, help="networks drawn per scenario (medians are printed)")
    args = parser.parse_args()
    results = asyncio.run(simulate(args.seconds, list(range(1, args.seeds + 1))))
    print(f"{args.seconds} s of 20 ms packets per run, median of {args.seeds} seeds\n")
    header = f"{'scenario':46} {'player':7}" + "".join(f"{label:>14}" for _, label, _ in FIGURES)
    print(header)
    for scenario, players in results.items():
        for player in ("before", "after"):
            runs = players[player]
            cells = "".join(
                f"{form.format(statistics.median(run[key] for run in runs)):>14}" for key, _, form in FIGURES
            )
            print(f"{scenario:46} {player:7}{cells}")
    print("\nbefore: static/media.js until this change (80 ms behind, no concealment)")
    print("after: static/jitter.js as the playout worklet runs it (adaptive delay, libopus PLC and FEC)")


if __name__ == "__main__":
    main()
