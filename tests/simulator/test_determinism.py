"""A seed fixes the whole history: the same seed stores the same events (whatever the request size),
another seed stores a different one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import open_platform, simulate, stored, usage


async def history(tmp_path: Path, scenario: str, seed: int, batch_size: int = 500) -> list[Any]:
    services = await open_platform(tmp_path)
    try:
        await simulate(services, scenario, devices=10, duration_s=240, seed=seed, batch_size=batch_size)
        events = [{k: v for k, v in e.items() if k != "id"} for e in await stored(services)]
        records = [{k: v for k, v in r.items() if k != "position"} for r in await usage(services)]
        return [events, records]
    finally:
        await services.close()


@pytest.mark.parametrize("scenario", ["normal-day", "roaming-trip", "quota-exhaustion", "auth-storm",
                                      "outage-reattach"])
async def test_same_seed_same_history(tmp_path: Path, scenario: str) -> None:
    first = await history(tmp_path / "a", scenario, seed=42)
    again = await history(tmp_path / "b", scenario, seed=42, batch_size=7)  # other request sizes
    assert first == again
    assert len(first[0]) > 20


async def test_another_seed_another_history(tmp_path: Path) -> None:
    assert await history(tmp_path / "a", "normal-day", seed=1) != await history(tmp_path / "b", "normal-day",
                                                                                 seed=2)
