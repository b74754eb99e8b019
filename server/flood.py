"""Flood control: a token bucket per participant, kept across reconnects."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()
        # Frames refused in a row; too many and the socket is closed (4429).
        self.strikes = 0

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.strikes = 0
            return True
        self.strikes += 1
        return False

    def is_full(self) -> bool:
        now = self.clock()
        return self.tokens + (now - self.updated) * self.rate >= self.burst


class FloodGuard:
    """One bucket per participant, shared by all their sockets in this process,
    so reconnecting after each 4429 does not refill it."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.buckets: dict[int, TokenBucket] = {}

    def bucket(self, participant_id: int) -> TokenBucket:
        bucket = self.buckets.get(participant_id)
        if bucket is None:
            if len(self.buckets) > 10_000:
                # Forget those who have been quiet long enough to be full again.
                self.buckets = {key: b for key, b in self.buckets.items() if not b.is_full()}
            bucket = self.buckets[participant_id] = TokenBucket(self.rate, self.burst, self.clock)
        return bucket
