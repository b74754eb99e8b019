"""The figures of bench/fanout.py: what one phase, one server and one size
measured, the table they print as, and the targets of issue 9."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from common import percentile


@dataclass
class Phase:
    events: int
    sending_s: float
    listeners: int  # those the phase counts: connected, and reading
    closed_before: dict[str, int]  # listeners the server had closed before the phase, by code
    seconds: float
    deliveries: int
    expected: int
    latencies_ms: list[float]
    wire_bytes: int
    event_bytes: float
    server_cpu_s: float
    client_cpu: float  # the busiest client process, share of one core
    closed: dict[str, int]
    clients_cpu: float = 0.0  # every client process together, in cores
    # The most bytes waiting unread in a listener's socket (mean over the
    # listeners of a client process, the worst sample and process).
    unread_bytes: float = 0.0

    @property
    def deliveries_per_s(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99) if self.latencies_ms else float("nan")

    @property
    def wire_per_event(self) -> float:
        return self.wire_bytes / self.deliveries if self.deliveries else float("nan")

    @property
    def us_per_delivery(self) -> float:
        return self.server_cpu_s * 1e6 / self.deliveries if self.deliveries else float("nan")

    @property
    def cores(self) -> float:
        """The server's and the listeners' CPU together, in cores: near the
        machine's count, the listeners queue what the server writes faster
        than they can read, and latency measures that queue."""
        return (self.server_cpu_s / self.seconds if self.seconds else 0.0) + self.clients_cpu

    @property
    def unread_events(self) -> float:
        """``unread_bytes`` in events (nan when no event's size was seen)."""
        return self.unread_bytes / self.event_bytes

    @property
    def missing(self) -> int:
        return max(0, self.expected - self.deliveries)


@dataclass
class SlowReaders:
    stopped: int
    phase: Phase
    rss_mib: list[float]
    cut_after_s: list[float | None]
    close_codes: list[int | None]
    baseline_p99: float = float("nan")  # the same round's paced phase, everyone reading

    @property
    def flat(self) -> tuple[bool, float]:
        """Memory stopped growing: at most 2 MiB more over the phase's second half."""
        half = self.rss_mib[len(self.rss_mib) // 2 :]
        growth = half[-1] - half[0] if len(half) > 1 else 0.0
        return growth <= 2.0, growth


@dataclass
class Result:
    server: str
    size: int
    connected: int
    connect_s: float
    idle_kib: float
    handshake: str
    paced: Phase
    saturated: Phase
    slow: SlowReaders | None = None
    errors: list[str] = field(default_factory=list)
    # Paced at a high rate the machine sustains (``--heavy``), when run.
    heavy: Phase | None = None


# -- the table -------------------------------------------------------------------------


def pooled(rounds: list[Result]) -> Result:
    """Several rounds of one server and size as one longer measurement: deliveries
    and seconds added up, latencies pooled; connect time and memory: medians."""

    def phase(phases: list[Phase]) -> Phase:
        closed: dict[str, int] = {}
        for p in phases:
            for code, count in p.closed.items():
                closed[code] = closed.get(code, 0) + count
        return Phase(
            events=sum(p.events for p in phases),
            sending_s=sum(p.sending_s for p in phases),
            listeners=min(p.listeners for p in phases),
            closed_before=phases[0].closed_before,
            seconds=sum(p.seconds for p in phases),
            deliveries=sum(p.deliveries for p in phases),
            expected=sum(p.expected for p in phases),
            latencies_ms=[latency for p in phases for latency in p.latencies_ms],
            wire_bytes=sum(p.wire_bytes for p in phases),
            event_bytes=statistics.median(p.event_bytes for p in phases),
            server_cpu_s=sum(p.server_cpu_s for p in phases),
            client_cpu=max(p.client_cpu for p in phases),
            closed=closed,
            clients_cpu=statistics.mean(p.clients_cpu for p in phases),
            unread_bytes=max(p.unread_bytes for p in phases),
        )

    first = rounds[0]
    return Result(
        first.server,
        first.size,
        min(r.connected for r in rounds),
        statistics.median(r.connect_s for r in rounds),
        statistics.median(r.idle_kib for r in rounds),
        first.handshake,
        phase([r.paced for r in rounds]),
        phase([r.saturated for r in rounds]),
        next((r.slow for r in rounds if r.slow), None),
        [e for r in rounds for e in r.errors][:1],
        phase([r.heavy for r in rounds if r.heavy]) if all(r.heavy for r in rounds) else None,
    )


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"


def print_results(results: list[Result], rate: float) -> None:
    print(
        f"{'size':>5} {'load':>6} {'server':12} {'listen':>6} {'ev/s':>6} {'deliv/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'wire B/ev':>9} "
        f"{'event B':>7} {'srv cpu':>7} {'µs/deliv':>8} {'cli cpu':>7} {'cores':>5} {'unread':>6} {'undeliv':>7}  closed"
    )
    for load in (f"{rate:g}/s", "heavy", "sat"):
        for r in results:
            phase = {"sat": r.saturated, "heavy": r.heavy}.get(load, r.paced)
            if phase is None:
                continue
            closed = ", ".join(f"{count}x{code}" for code, count in phase.closed.items()) or ""
            print(
                f"{r.size:5} {load:>6} {r.server:12} {phase.listeners:6} {phase.events / phase.sending_s:6.1f} "
                f"{fmt(phase.deliveries_per_s, 0):>9} {fmt(phase.p50, 2):>8} {fmt(phase.p99, 2):>8} "
                f"{fmt(phase.wire_per_event, 0):>9} {fmt(phase.event_bytes, 0):>7} "
                f"{phase.server_cpu_s / phase.seconds:7.0%} {fmt(phase.us_per_delivery, 1):>8} "
                f"{phase.client_cpu:7.0%} {phase.cores:5.2f} {fmt(phase.unread_events):>6} {phase.missing:7}  {closed}"
            )


def by(results: list[Result], server: str, size: int) -> Result | None:
    return next((r for r in results if r.server == server and r.size == size), None)


def ratio(a: float, b: float) -> str:
    return "-" if not b or a != a or b != b else f"x{a / b:.2f}"


def print_ratios(results: list[Result], sizes: list[int], tribune: str) -> None:
    print("\nTribune against the peers (deliveries/s: higher is better for Tribune; p99: lower is better)")
    print(f"{'size':>5} {'peer':12} {'deliv/s sat':>12} {'p99 10/s':>9} {'p99 heavy':>9} {'p99 sat':>9}")
    for size in sizes:
        t = by(results, tribune, size)
        # Baselines first (as the rounds ran), then the peers.
        peers = [r.server for r in results if r.size == size and r.server not in (tribune, "websockets", "socketio")]
        for peer in [*peers, "websockets", "socketio"]:
            p = by(results, peer, size)
            if t and p:
                heavy = ratio(t.heavy.p99, p.heavy.p99) if t.heavy and p.heavy else "-"
                print(
                    f"{size:5} {peer:12} {ratio(t.saturated.deliveries_per_s, p.saturated.deliveries_per_s):>12} "
                    f"{ratio(t.paced.p99, p.paced.p99):>9} {heavy:>9} {ratio(t.saturated.p99, p.saturated.p99):>9}"
                )


def print_connect(results: list[Result]) -> None:
    print("\nConnecting: all listeners at once, each until its first message (Tribune: the snapshot)")
    print(
        f"{'size':>5} {'server':12} {'connected':>9} {'seconds':>8} {'KiB/idle conn':>13}  "
        "closed by the server before the load, by code; why some failed to connect"
    )
    for r in results:
        closed = ", ".join(f"{count}x{code}" for code, count in r.paced.closed_before.items()) or "none"
        print(
            f"{r.size:5} {r.server:12} {r.connected:9} {r.connect_s:8.2f} {r.idle_kib:13.1f}  "
            f"{closed}{'; ' + r.errors[0] if r.errors else ''}"
        )


def print_slow(results: list[Result], rate: float) -> None:
    slow = [r for r in results if r.slow]
    if not slow:
        return
    print(f"\n1% of listeners stop reading (socket open, never read), {rate:g} events/s")
    print(
        f"{'size':>5} {'server':12} {'stopped':>7} {'others p99':>10} {'vs 10/s':>8} {'RSS MiB start/max/end':>22} "
        f"{'2nd half':>8}  each slow one: cut after (s) in the phase, close code seen when it reads again"
    )
    for r in slow:
        s = r.slow
        cut = ", ".join(
            ("never" if after is None else f"{after:.0f}") + f" {code if code is not None else 'open'}"
            for after, code in zip(s.cut_after_s, s.close_codes)
        )
        flat, growth = s.flat
        memory = f"{s.rss_mib[0]:.0f}/{max(s.rss_mib):.0f}/{s.rss_mib[-1]:.0f}" if s.rss_mib else "-"
        print(
            f"{r.size:5} {r.server:12} {s.stopped:7} {fmt(s.phase.p99, 2):>10} {ratio(s.phase.p99, s.baseline_p99):>8} "
            f"{memory:>22} {growth:+7.1f}M  {cut}"
        )
        print(f"{'':19}RSS MiB each second: {' '.join(f'{m:.0f}' for m in s.rss_mib)}")


def print_scale(one: Result | None, many: Result | None) -> None:
    if not (one and many):
        return
    print(f"\nTribune, one process against {many.server} through Redis, {one.size} listeners")
    print(f"{'server':12} {'deliv/s sat':>11} {'p99 sat':>8} {'p50 10/s':>8} {'p99 10/s':>8} {'connect s':>9}")
    for r in (one, many):
        print(
            f"{r.server:12} {fmt(r.saturated.deliveries_per_s, 0):>11} {fmt(r.saturated.p99, 1):>8} "
            f"{fmt(r.paced.p50, 2):>8} {fmt(r.paced.p99, 2):>8} {r.connect_s:9.2f}"
        )
    print(
        f"two processes / one: deliveries/s saturated {ratio(many.saturated.deliveries_per_s, one.saturated.deliveries_per_s)}, "
        f"p99 at 10/s {ratio(many.paced.p99, one.paced.p99)}"
    )


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "NOT MET")


def print_targets(results: list[Result], sizes: list[int], tribune: str) -> None:
    print("\nTargets (issue 9), Tribune")
    lines: list[tuple[str, str, bool | None]] = []
    for peer, factor in (("websockets", 0.8), ("socketio", 3.0)):
        for size in sizes:
            t, p = by(results, tribune, size), by(results, peer, size)
            if t and p:
                value = t.saturated.deliveries_per_s / p.saturated.deliveries_per_s
                lines.append((f">= {factor}x {peer} deliveries/s, saturated, {size}", f"x{value:.2f}", value >= factor))
    biggest = max(sizes)
    t = by(results, tribune, biggest)
    if t:
        note = "" if biggest >= 2000 else f" (largest size run: {biggest}, not 2000)"
        lines.append(
            (f"p99 < 50 ms at {biggest} listeners, 10 events/s{note}", f"{t.paced.p99:.1f} ms", t.paced.p99 < 50)
        )
        lines.append(
            (
                f"{biggest} listeners connected with their snapshot < 10 s{note}",
                f"{t.connect_s:.2f} s",
                t.connect_s < 10,
            )
        )
    for r in results:
        if r.server == tribune:
            lines.append((f"idle connection <= 20 KiB, {r.size}", f"{r.idle_kib:.1f} KiB", r.idle_kib <= 20))
    for r in results:
        if r.server == tribune and r.slow:
            value = r.slow.phase.p99 / r.slow.baseline_p99
            lines.append((f"others' p99 within 2x when 1% stop reading, {r.size}", f"x{value:.2f}", value <= 2))
            flat, growth = r.slow.flat
            lines.append(
                (f"memory flat while they do (<= 2 MiB over the 2nd half), {r.size}", f"{growth:+.1f} MiB", flat)
            )
    for name, value, ok in lines:
        print(f"  {name:70} {value:>12}  {verdict(ok)}")


# -- the run -------------------------------------------------------------------------
