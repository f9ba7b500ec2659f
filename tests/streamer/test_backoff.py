"""Retry delays grow exponentially with jitter, stay under the cap and honour Retry-After."""

from __future__ import annotations

import random

from cellstream.streamer.backoff import retry_delay_s


def test_delays_grow_jittered_and_capped() -> None:
    rng = random.Random(7)
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (100, 30.0)):
        delays = [retry_delay_s(attempt, cap_s=30.0, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jittered: retries of many streams do not line up


def test_retry_after_is_a_floor() -> None:
    assert retry_delay_s(1, retry_after_s=12.0) >= 12.0
    assert retry_delay_s(1, retry_after_s=10**9) == 3600.0  # a silly wish is bounded
    assert retry_delay_s(10, retry_after_s=0.0) >= 15.0
