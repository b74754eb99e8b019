"""Upvotes under load: vote sent -> new count received by every participant.

Runs `tribune serve` in its own process (SQLite by default, or the
PostgreSQL database given, which is WIPED), connects L participants (each
with its own socket, opened with the handshake a browser sends: per-message
deflate offered as Chromium does; see bench/floor_fanout.py), and has them
upvote the session's approved questions at R votes per second, each vote
from another participant. Every participant's socket receives the counts
(`question_votes`, which the server sends at most every
TRIBUNE_COUNTS_EVERY_SECONDS per session, with every count that changed);
the latency of a vote is from the moment it is due to be sent (a fixed
schedule, so a late sender counts against us) to the moment each client
receives a count that includes it, on the machine's monotonic clock.

The clients run in W worker processes (default 2), since one Python
process cannot read L x R messages a second; each reports its CPU share of
one core. The server's CPU is read from /proc. A client that falls too far
behind is cut off by the server (4408) and resumes with its last seq, as a
page does; the bench counts those, and its latency includes the wait.

    .venv/bin/python bench/question_votes.py --listeners 1000 --rate 50 --seconds 10

These machines are shared and noisy: read percentiles and CPU shares, not
single times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from common import (  # noqa: E402  (a sibling script, not a package)
    browser_connect,
    free_port,
    negotiated,
    own_cpu_seconds,
    percentile,
    process_cpu_seconds,
    wait_port,
    wipe_postgres,
)

QUESTIONS = 5
# The server's close code for a client that fell too far behind.
SLOW_CLIENT = 4408
EVENT_TYPE = '{"type":"question_votes"'


def event_file(listeners: int) -> str:
    people = "\n".join(f"  - {{key: p{i}, name: Participant {i}}}" for i in range(listeners))
    return (
        "event: {slug: votes, title: Votes, timezone: UTC, languages: [en, fr]}\n"
        "sessions:\n"
        '  - {key: s, title: Session, starts: "2026-01-01 10:00", ends: "2026-01-01 12:00"}\n'
        "participants:\n"
        "  - {key: moderator, name: Moderator, roles: [moderator]}\n"
        f"{people}\n"
    )


def vote_index(participant: int, question_index: int, listeners: int) -> int:
    """The k-th vote of the schedule: each participant votes once per question, round after round."""
    return participant + listeners * question_index


async def prepare_questions(url: str) -> list[int]:
    """The moderator asks QUESTIONS questions and approves them."""
    async with websockets.connect(url, max_size=2**22) as ws:
        await ws.recv()  # the snapshot
        ids: list[int] = []
        for n in range(QUESTIONS):
            await ws.send(
                json.dumps({"type": "submit_question", "id": f"s{n}", "text": f"Question {n}?", "language": "en"})
            )
            while len(ids) == n:
                message = json.loads(await ws.recv())
                if message["type"] == "error":
                    raise RuntimeError(message)
                if message["type"] == "question_updated" and "original_text" in message["data"]["question"]:
                    ids.append(message["data"]["question"]["id"])
        for question_id in ids:
            await ws.send(json.dumps({"type": "approve_question", "id": f"a{question_id}", "question_id": question_id}))
            while True:
                message = json.loads(await ws.recv())
                if message["type"] in ("ack", "error") and message["id"] == f"a{question_id}":
                    break
        return ids


async def worker(args: dict, ready, start) -> dict:
    listeners, rate, total = args["listeners"], args["rate"], args["total"]
    question_ids: list[int] = args["question_ids"]
    index_of_question = {qid: n for n, qid in enumerate(question_ids)}
    urls: dict[int, str] = dict(args["participants"])
    sockets = {}
    last_seqs: dict[int, int] = {}
    for participant, url in urls.items():
        sockets[participant] = await browser_connect(url)
        last_seqs[participant] = json.loads(await sockets[participant].recv())["seq"]  # the snapshot
    handshake = negotiated(next(iter(sockets.values())))
    ready.put(len(sockets))
    t0 = await asyncio.get_running_loop().run_in_executor(None, start.get)
    latencies: list[float] = []
    sizes: list[int] = []
    lags: list[float] = []
    # A client the server cut off for falling behind (4408) reconnects with
    # its last seq, as a page does, and gets the missed counts replayed (or a
    # snapshot when too much was missed: those counts are "lost to a snapshot").
    outcome = {"reconnects": 0, "snapshots": 0, "lost": 0, "unfinished": 0}

    async def reconnect(participant: int) -> None:
        outcome["reconnects"] += 1
        sockets[participant] = await browser_connect(f"{urls[participant]}&last_seq={last_seqs[participant]}")

    # On an overloaded machine the clients may never catch up: report what
    # arrived by then rather than wait for ever.
    deadline = t0 + total / rate + args["grace"]

    async def read(participant: int) -> None:
        seen = 0
        # Per question (by index): how many of its votes this client has seen counted.
        covered = [0] * len(question_ids)
        while seen < total:
            try:
                message = await asyncio.wait_for(sockets[participant].recv(), max(0.001, deadline - time.monotonic()))
            except TimeoutError:
                outcome["unfinished"] += 1
                return
            except websockets.ConnectionClosed as closed:
                if closed.rcvd is None or closed.rcvd.code != SLOW_CLIENT:
                    raise
                await reconnect(participant)
                continue
            received = time.monotonic()
            if message.startswith('{"type":"snapshot"'):
                snapshot = json.loads(message)
                outcome["snapshots"] += 1
                for item in snapshot["questions"]["items"]:
                    n = index_of_question[item["id"]]
                    if item["votes"] > covered[n]:
                        outcome["lost"] += item["votes"] - covered[n]
                        seen += item["votes"] - covered[n]
                        covered[n] = item["votes"]
                last_seqs[participant] = snapshot["seq"]
                continue
            if not message.startswith(EVENT_TYPE):
                if message.startswith('{"type":"heartbeat"') or message.startswith('{"type":"resumed"'):
                    last_seqs[participant] = max(last_seqs[participant], json.loads(message)["seq"])
                continue
            event = json.loads(message)
            last_seqs[participant] = event["seq"]
            for count in event["data"]["counts"]:
                n = index_of_question[count["id"]]
                # The votes on a question are the schedule's, in order: a count
                # of c covers its first c votes.
                for already in range(covered[n], count["votes"]):
                    k = vote_index(already, n, listeners)
                    latencies.append(received - (t0 + k / rate))
                    seen += 1
                covered[n] = max(covered[n], count["votes"])
            if len(sizes) < 1000:
                sizes.append(len(message.encode()))

    async def vote() -> None:
        for k in range(total):
            participant, question_index = k % listeners, k // listeners
            if participant not in urls:
                continue
            due = t0 + k / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            lags.append(time.monotonic() - due)
            question_id = question_ids[question_index % len(question_ids)]
            command = json.dumps({"type": "vote_question", "id": k, "question_id": question_id})
            while True:
                try:
                    await sockets[participant].send(command)
                    break
                except websockets.ConnectionClosed:
                    await asyncio.sleep(0.05)  # its reader is reconnecting

    cpu_started, started = own_cpu_seconds(), time.monotonic()
    await asyncio.gather(vote(), *(read(participant) for participant in urls))
    elapsed = time.monotonic() - started
    cpu = own_cpu_seconds() - cpu_started
    for ws in sockets.values():
        await ws.close()
    return {
        "latencies": latencies,
        "sizes": sizes,
        "lags": lags,
        "cpu": cpu / elapsed,
        "handshake": handshake,
        **outcome,
    }


def run_worker(args: dict, ready, start, results) -> None:
    results.put(asyncio.run(worker(args, ready, start)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="votes per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--grace", type=float, default=60.0, help="seconds after the last vote to wait for counts")
    parser.add_argument("--database", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    total = int(args.rate * args.seconds)
    if total > args.listeners * QUESTIONS:
        parser.error("more votes than participants x questions: one vote per participant per question")

    workdir = Path(tempfile.mkdtemp(prefix="tribune-votes-"))
    env = {**os.environ, "TRIBUNE_SECRET": "bench", "TRIBUNE_PORT": str(free_port()), "PYTHONPATH": str(ROOT)}
    env["TRIBUNE_DATABASE_URL"] = args.database or f"sqlite+aiosqlite:///{workdir}/bench.db"
    env["TRIBUNE_COMMANDS_PER_SECOND"] = "100000"
    env["TRIBUNE_COMMAND_BURST"] = "100000"
    if args.database:
        await wipe_postgres(args.database)
    (workdir / "votes.yaml").write_text(event_file(args.listeners))
    tribune = [sys.executable, "-m", "server.cli"]
    subprocess.run([*tribune, "load", "votes.yaml"], cwd=workdir, env=env, check=True, capture_output=True)
    links = json.loads(
        subprocess.run(
            [*tribune, "links", "--format", "json"], cwd=workdir, env=env, check=True, capture_output=True
        ).stdout
    )
    server_log = workdir / "server.log"
    with server_log.open("w") as log:
        server = subprocess.Popen([*tribune, "serve"], cwd=workdir, env=env, stdout=log, stderr=log)
    print(f"server log: {server_log}")
    try:
        port = int(env["TRIBUNE_PORT"])
        await wait_port(port)
        session_id = links[0]["sessions"][0]["id"]

        def url(key: str) -> str:
            token = next(link for link in links if link["key"] == key)["url"].rsplit("/", 1)[1]
            return f"ws://127.0.0.1:{port}/ws/sessions/{session_id}?token={token}"

        question_ids = await prepare_questions(url("moderator"))
        context = multiprocessing.get_context("spawn")
        ready, results = context.Queue(), context.Queue()
        starts = [context.Queue() for _ in range(args.workers)]
        processes = []
        for w in range(args.workers):
            share = [(i, url(f"p{i}")) for i in range(w, args.listeners, args.workers)]
            worker_args = {
                "listeners": args.listeners,
                "rate": args.rate,
                "total": total,
                "question_ids": question_ids,
                "participants": share,
                "grace": args.grace,
            }
            process = context.Process(target=run_worker, args=(worker_args, ready, starts[w], results))
            process.start()
            processes.append(process)
        connect_started = time.monotonic()
        connected = sum(ready.get(timeout=600) for _ in processes)
        connect_s = time.monotonic() - connect_started
        server_cpu_started, started = process_cpu_seconds(server.pid), time.monotonic()
        t0 = time.monotonic() + 1.0
        for queue in starts:
            queue.put(t0)
        outcomes = [results.get(timeout=total / args.rate + args.grace + 300) for _ in processes]
        elapsed = time.monotonic() - started
        server_cpu = process_cpu_seconds(server.pid) - server_cpu_started
        for process in processes:
            process.join()
    finally:
        server.terminate()
        server.wait()

    latencies = [value for outcome in outcomes for value in outcome["latencies"]]
    lags = [value for outcome in outcomes for value in outcome["lags"]]
    sizes = [value for outcome in outcomes for value in outcome["sizes"]]
    database = "SQLite" if not args.database else args.database.split("://")[0]
    print(f"handshake: {outcomes[0]['handshake']}")
    print(
        f"{connected} participants connected in {connect_s:.1f} s; {total} votes at {args.rate:g}/s "
        f"over {args.seconds:g} s on {QUESTIONS} questions; database {database}"
    )
    print(f"counts received live or replayed: {len(latencies)} (expected {total * connected})")
    unfinished = sum(outcome["unfinished"] for outcome in outcomes)
    if unfinished:
        print(f"WARNING: {unfinished} clients still missed counts {args.grace:g} s after the last vote")
    reconnects = sum(outcome["reconnects"] for outcome in outcomes)
    if reconnects:
        print(
            f"clients cut off for falling behind (4408) and resumed with last_seq: {reconnects}; "
            f"resumed from a snapshot: {sum(o['snapshots'] for o in outcomes)}, "
            f"counts lost to a snapshot: {sum(o['lost'] for o in outcomes)}"
        )
    print(
        f"vote-to-count latency at every client: p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    print(
        f"sender lag behind the schedule: p50 {percentile(lags, 0.5) * 1000:.1f} ms, p99 {percentile(lags, 0.99) * 1000:.1f} ms"
    )
    print(f"bytes per count event: median {statistics.median(sizes):.0f} (uncompressed; the server does not deflate)")
    print(
        "client cpu (share of one core, per worker process): "
        + ", ".join(f"{outcome['cpu']:.0%}" for outcome in outcomes)
        + f"; server cpu {server_cpu / elapsed:.0%} (from the start signal to the last count)"
    )


if __name__ == "__main__":
    asyncio.run(main())
