"""The fallback load generator (used when wrk is not installed): `connections` aiohttp clients in a loop
over the paths for `seconds`, run in its own process. Prints one result line in the format of
bench/load.py's wrk script.

    python -m bench.loadgen '{"base_url": …, "paths": […], "headers": {…}, "connections": 32, "seconds": 15}'
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

from bench.load import MARK


async def _client(session: aiohttp.ClientSession, urls: list[str], offset: int, deadline: float,
                  latencies: list[float], failures: dict[str, int]) -> None:
    n = offset
    while time.perf_counter() < deadline:
        url = urls[n % len(urls)]
        n += 1
        started = time.perf_counter()
        try:
            async with session.get(url) as resp:
                await resp.read()
                if not 200 <= resp.status < 300:
                    failures["non_2xx"] += 1
        except (aiohttp.ClientError, TimeoutError):
            failures["errors"] += 1
            continue
        latencies.append(time.perf_counter() - started)


def _percentile(ordered: list[float], pct: float) -> int:
    if not ordered:
        return 0
    return int(ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1e6)


async def drive(spec: dict[str, Any]) -> dict[str, int]:
    urls = [spec["base_url"] + p for p in spec["paths"]]
    latencies: list[float] = []
    failures = {"errors": 0, "non_2xx": 0}
    connector = aiohttp.TCPConnector(limit=spec["connections"])
    timeout = aiohttp.ClientTimeout(total=10)
    session = aiohttp.ClientSession(connector=connector, headers=spec["headers"], timeout=timeout)
    async with session:
        started = time.perf_counter()
        deadline = started + spec["seconds"]
        await asyncio.gather(*(_client(session, urls, i, deadline, latencies, failures)
                               for i in range(spec["connections"])))
        duration = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"requests": len(latencies) + failures["non_2xx"], "duration_us": int(duration * 1e6),
            "errors": failures["errors"], "non_2xx": failures["non_2xx"],
            "p50_us": _percentile(ordered, 50), "p90_us": _percentile(ordered, 90),
            "p99_us": _percentile(ordered, 99), "max_us": int(ordered[-1] * 1e6) if ordered else 0}


def main(argv: list[str]) -> None:
    result = asyncio.run(drive(json.loads(argv[0])))
    print(MARK + json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
