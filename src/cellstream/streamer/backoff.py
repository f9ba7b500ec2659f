"""How long a failing stream waits before trying again: exponential with jitter, capped, and never
shorter than what the destination asked for (`Retry-After`).

Kept here rather than delegated to a retry library because a stream's retries are state that outlives one
call: they continue across batches and process restarts, and decide the stream's status (Error after the
failure budget), so the engine needs the delay as a number, not a wrapped call.
"""

from __future__ import annotations

import random


def retry_delay_s(attempt: int, *, base_s: float = 0.5, cap_s: float = 30.0,
                  retry_after_s: float | None = None, rng: random.Random | None = None) -> float:
    """The wait before retry number `attempt` (1 = the first retry)."""
    ceiling = min(cap_s, base_s * 2 ** min(max(attempt - 1, 0), 30))
    delay = (rng or random).uniform(ceiling / 2, ceiling)  # half jitter: spread, but never 0
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, 3600.0))
    return delay
