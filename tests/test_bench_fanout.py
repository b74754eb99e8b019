"""bench/fanout.py still runs: its smoke run, Tribune and the websockets ceiling.

A benchmark is not a timed test: this only checks that the run completes,
that every listener got every event of the paced phase, and that the table
and the targets are printed. It takes about a minute and starts real
processes, so it runs only with BENCH_SMOKE=1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    os.environ.get("BENCH_SMOKE") != "1",
    reason="the fan-out benchmark's smoke run takes a minute of real processes: set BENCH_SMOKE=1 to run it",
)


def table_row(output: str, load: str, server: str) -> dict[str, str]:
    pattern = rf"^\s*50\s+{re.escape(load)}\s+{re.escape(server)}\s+(?P<deliveries>[\d,]+)\s+.*\s(?P<missing>\d+)\s*$"
    match = re.search(pattern, output, re.MULTILINE)
    assert match, f"no row for {server} at {load} in:\n{output}"
    return match.groupdict()


def test_quick_run_prints_the_table_with_every_event_delivered(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "fanout.py"),
            "--quick",
            "--servers",
            "tribune,websockets",
            "--scale-size",
            "0",
            "--redis",
            REDIS_URL,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    output = run.stdout
    assert output.startswith("$ bench/fanout.py --quick")
    for server in ("tribune", "websockets"):
        assert f"handshake, {server}: offered 'permessage-deflate; client_max_window_bits'" in output
        paced = table_row(output, "10/s", server)
        assert int(paced["deliveries"].replace(",", "")) > 0
        assert paced["missing"] == "0", f"{server} lost events at 10/s:\n{output}"
        heavy = table_row(output, "heavy", server)
        assert heavy["missing"] == "0", f"{server} lost events under heavy load:\n{output}"
        saturated = table_row(output, "sat", server)
        assert int(saturated["deliveries"].replace(",", "")) > 0
    assert re.search(r"^\s+50 tribune\s+50\s", output, re.MULTILINE), "not every listener connected"
    targets = output.split("Targets (issue 9), Tribune", 1)[1]
    for target in ("websockets deliveries/s", "p99 < 50 ms", "snapshot < 10 s", "within 2x", "memory flat"):
        line = next(line for line in targets.splitlines() if target in line)
        assert line.endswith(("met", "NOT MET")), line
