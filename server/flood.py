"""Flood control: a token bucket per participant, kept across reconnects and
shared by the server processes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


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


# A token bucket in Redis, so that a participant's allowance is one across
# every server process: the time is Redis's own, so processes whose clocks
# differ agree. Idle buckets expire once they would be full again.
_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(held[1]) or burst, tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return taken
"""


class SharedBuckets:
    """One bucket per participant across processes (Redis).

    Each process still refuses a flood at once with its own buckets
    (``FloodGuard``); this is the allowance the processes share, asked for
    each command before it runs. While Redis cannot be reached, commands are
    let through: each process's own limit still holds, and a Redis outage
    must not stop the meeting."""

    PREFIX = "tribune:flood:"

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._client = redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._take = self._client.register_script(_TAKE)
        self._is_down = False

    async def take(self, key: str, rate: float, burst: int) -> bool:
        """One from the bucket ``key`` (refilled at ``rate`` a second, at most ``burst``)."""
        try:
            taken = await self._take(keys=[f"{self.PREFIX}{key}"], args=[rate, burst])
        except Exception as error:
            if not self._is_down:
                log.warning("shared flood limit unavailable (%s): each process limits on its own", error)
                self._is_down = True
            return True
        self._is_down = False
        return bool(taken)

    async def close(self) -> None:
        await self._client.aclose()


def shared_buckets(bus_url: str) -> SharedBuckets | None:
    """Redis's buckets when processes share a Redis bus; None for one process (its own buckets suffice)."""
    if bus_url.startswith(("redis://", "rediss://", "unix://")):
        return SharedBuckets(bus_url)
    return None


class Allowances:
    """How often each participant may do an action (``Context.limit``): a
    bucket per action and participant in this process, and, when processes
    share Redis, one across them too, so a second process is no second
    allowance."""

    def __init__(self, shared: SharedBuckets | None = None) -> None:
        self.shared = shared
        self.local: dict[str, FloodGuard] = {}

    async def take(self, action: str, participant_id: int, rate: float, burst: int) -> bool:
        guard = self.local.get(action)
        if guard is None:
            guard = self.local[action] = FloodGuard(rate, burst)
        if not guard.bucket(participant_id).take():
            return False
        return self.shared is None or await self.shared.take(f"{action}:{participant_id}", rate, burst)
