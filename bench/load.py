"""External load: `wrk` (Debian's package) with a Lua script that rotates among paths and reports its
latency distribution as JSON; an aiohttp client in a subprocess (bench/loadgen.py) when wrk is missing.
Either way the load runs in another process than the server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MARK = "BENCH-RESULT "
LUA = """
local paths = {%(paths)s}
local n = 0
%(headers)s
request = function()
  n = n + 1
  return wrk.format(nil, paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('%(mark)s{"requests": %%d, "duration_us": %%d, "errors": %%d, "non_2xx": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    seconds: float
    errors: int  # socket errors and timeouts
    non_2xx: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"{self.tool}: {self.requests:,} requests in {self.seconds:.1f} s = {self.rps:,.0f}/s, "
                f"p50 {self.p50_ms:.2f} ms, p90 {self.p90_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, "
                f"max {self.max_ms:.1f} ms, errors {self.errors}, non-2xx {self.non_2xx}")


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "aiohttp"


def _parse(output: str, tool_name: str) -> LoadResult:
    line = next((ln for ln in output.splitlines() if ln.startswith(MARK)), None)
    if line is None:
        raise RuntimeError(f"{tool_name} printed no result:\n{output[-2000:]}")
    raw = json.loads(line[len(MARK):])
    return LoadResult(tool_name, raw["requests"], raw["duration_us"] / 1e6, raw["errors"], raw["non_2xx"],
                      raw["p50_us"] / 1e3, raw["p90_us"] / 1e3, raw["p99_us"] / 1e3, raw["max_us"] / 1e3)


def _wrk(base_url: str, paths: Sequence[str], headers: Mapping[str, str], connections: int,
         seconds: float) -> LoadResult:
    header_lines = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    script = LUA % {"paths": ", ".join(json.dumps(p) for p in paths), "headers": header_lines, "mark": MARK}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                   "--latency", "-s", file.name, base_url + paths[0]]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        Path(file.name).unlink()
    if done.returncode:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return _parse(done.stdout, "wrk")


def _aiohttp(base_url: str, paths: Sequence[str], headers: Mapping[str, str], connections: int,
             seconds: float) -> LoadResult:
    spec = json.dumps({"base_url": base_url, "paths": list(paths), "headers": dict(headers),
                       "connections": connections, "seconds": seconds})
    done = subprocess.run([sys.executable, "-m", "bench.loadgen", spec], capture_output=True, text=True,
                          timeout=seconds + 60, check=False)
    if done.returncode:
        raise RuntimeError(f"aiohttp load generator failed ({done.returncode}): {done.stderr[-2000:]}")
    return _parse(done.stdout, "aiohttp")


def run(base_url: str, paths: Sequence[str], connections: int, seconds: float,
        headers: Mapping[str, str] | None = None) -> LoadResult:
    """GET `paths` in rotation over `connections` connections for `seconds`."""
    drive = _wrk if tool() == "wrk" else _aiohttp
    return drive(base_url, paths, headers or {}, connections, seconds)
