"""Python's cycle collector, tuned for a server that holds thousands of sockets.

A full collection walks every object the collector tracks. With 2000
listeners (bench/fanout.py) the process held about 200,000 of them, and each
full pass stopped the event loop for 116-189 ms, several times a minute:
every event in flight waited. Two things keep those passes out of a meeting.
What exists once the server has started (SQLAlchemy's mappers, templates,
catalogs) is frozen, so no collection walks it again. And a full pass waits
for ten times more collections of the younger generations than by default.
Measured the same way afterwards: no full pass while serving, and the young
collections take 2-9 ms. Objects are still freed as soon as nothing refers
to them; only garbage in reference cycles waits longer.
"""

from __future__ import annotations

import gc

# Collections of the middle generation before a full one (CPython's default: 10).
FULL_AFTER = 100


_settled = False


def settle() -> None:
    """Call once the server is ready to serve; once per process (tests start many apps in one)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_AFTER)
