"""The Event API under load, on a copy of the 1M-event database.

- event_api_page_req_per_s / event_api_page_p99_ms: GET /api/v1/event?per_page=50&q=<filter>, rotating
  among realistic filters, 32 connections for 15 s after a 3 s warm-up. Baseline: a bare Starlette app
  (bench/baseline_app.py, same uvicorn options) serving the same 50-event page as pre-encoded bytes under
  the identical load, after the Cellstream server has stopped.
- event_api_page_uncached_*: the same load on a second server started with CELLSTREAM_SQLITE_PAGE_CACHE_MB=0
  (the four repeated requests are otherwise answered from the exact page cache).
- peak_rss_mb: the Cellstream server's peak resident set (VmHWM) right after the page run.
- event_api_deep_page_p99_ms: page 1,000 of 50 by OFFSET; event_api_cursor_page_p99_ms: the same 50
  events reached by a keyset cursor. 4 connections for 5 s each (after 1 s of warm-up); no baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bench import data, load, prefill
from bench.figures import Figure
from bench.server import (
    HOST,
    Server,
    cellstream_command,
    cpu_seconds,
    free_port,
    peak_rss_mb,
    request,
    server_env,
    serving,
)

FILTERS = ("type:3", "type:1|2", "severity:1", "source:0,alert:false")
PAGE_PATHS = [f"/api/v1/event?per_page=50&q={quote(f, safe=':,')}" for f in FILTERS]
DEEP_PATH = "/api/v1/event?page=1000&per_page=50"
DEEP_ROWS = 999 * 50  # rows before page 1,000
CURSOR_HEADER = "x-next-cursor"


@dataclass(frozen=True)
class Plan:
    connections: int
    seconds: float
    warmup: float


PAGE_LOAD = Plan(connections=32, seconds=15.0, warmup=3.0)
DEEP_LOAD = Plan(connections=4, seconds=5.0, warmup=1.0)


@dataclass(frozen=True)
class Run:
    load: load.LoadResult
    cpu_ms: float  # server CPU time (all threads) per request

    def summary(self) -> str:
        return f"{self.load.summary()}; server CPU {self.cpu_ms:.2f} ms/request"


@dataclass(frozen=True)
class Measured:
    pages: Run
    rss_mb: float
    deep: Run
    cursor: Run
    first_page: bytes  # what the baseline serves


def _drive(server: Server, paths: list[str], plan: Plan, headers: dict[str, str]) -> Run:
    """A warm-up, then the measured run, noting the server's CPU time over the measured part."""
    load.run(server.url, paths, plan.connections, plan.warmup, headers)
    before = cpu_seconds(server.process.pid)
    result = load.run(server.url, paths, plan.connections, plan.seconds, headers)
    used = cpu_seconds(server.process.pid) - before
    return Run(result, used * 1000 / max(result.requests, 1))


def _get(server: Server, path: str, headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
    status, response_headers, body = request(server.url + path, headers=headers)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:500]!r}")
    return {k.lower(): v for k, v in response_headers.items()}, body


def _ids(body: bytes, expected: int, what: str) -> list[int]:
    items = json.loads(body)
    if not isinstance(items, list) or len(items) != expected:
        got = len(items) if isinstance(items, list) else type(items).__name__
        raise RuntimeError(f"{what}: expected {expected} events, got {got}")
    return [int(item["id"]) for item in items]


def _app_token(db: Path, env: dict[str, str]) -> str:
    command = cellstream_command("admin", "create-app-token", "--db", prefill.database_url(db),
                                 "--org", str(data.MAIN_ORG_ID))
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    if done.returncode or not done.stdout.strip():
        raise RuntimeError(f"create-app-token failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1].strip()


def _authenticate(server: Server, app_token: str) -> dict[str, str]:
    status, _, body = request(server.url + "/api/v1/authenticate", body={"application_token": app_token})
    if status != 200:
        raise RuntimeError(f"authenticate answered {status}: {body[:500]!r}")
    return {"Authorization": f"Bearer {json.loads(body)['auth_token']}"}


def _cursor_path(server: Server, headers: dict[str, str], rows: int) -> str:
    """Walk the default-sorted list by cursor (pages of at most 1,000) until `rows` rows are behind; the
    path of the 50-event page that follows."""
    cursor, behind = "", 0
    while behind < rows:
        step = min(1000, rows - behind)
        path = f"/api/v1/event?per_page={step}" + (f"&cursor={quote(cursor, safe='')}" if cursor else "")
        response_headers, body = _get(server, path, headers)
        _ids(body, step, f"cursor walk at row {behind:,}")
        cursor = response_headers.get(CURSOR_HEADER, "")
        if not cursor:
            raise RuntimeError(f"no {CURSOR_HEADER} header after row {behind + step:,}")
        behind += step
    return f"/api/v1/event?per_page=50&cursor={quote(cursor, safe='')}"


def _first_pages(server: Server, headers: dict[str, str]) -> bytes:
    """Every benchmarked path answers 200 with a full page; returns the first path's response body."""
    bodies = [_get(server, path, headers)[1] for path in PAGE_PATHS]
    for path, body in zip(PAGE_PATHS, bodies, strict=True):
        _ids(body, 50, path)
    return bodies[0]


def _cellstream(db: Path, tmp: Path) -> Measured:
    env = server_env(tmp)
    token = _app_token(db, env)
    port = free_port()
    command = cellstream_command("serve", "--db", prefill.database_url(db), "--host", HOST,
                                 "--port", str(port))
    with serving(command, port, tmp / "cellstream.log", env) as server:
        headers = _authenticate(server, token)
        first_page = _first_pages(server, headers)
        pages = _drive(server, PAGE_PATHS, PAGE_LOAD, headers)
        rss_mb = peak_rss_mb(server.process.pid)
        deep_ids = _ids(_get(server, DEEP_PATH, headers)[1], 50, DEEP_PATH)
        cursor_path = _cursor_path(server, headers, DEEP_ROWS)
        if _ids(_get(server, cursor_path, headers)[1], 50, "cursor page") != deep_ids:
            print("WARNING: the cursor page and OFFSET page 1,000 hold different events", file=sys.stderr)
        deep = _drive(server, [DEEP_PATH], DEEP_LOAD, headers)
        cursor = _drive(server, [cursor_path], DEEP_LOAD, headers)
    return Measured(pages, rss_mb, deep, cursor, first_page)


def _uncached(db: Path, tmp: Path) -> Run:
    """The same page load with the server's page cache off: what a page costs when it must be read (the
    benchmark repeats four requests with no writes between, which the cache otherwise answers)."""
    env = {**server_env(tmp), "CELLSTREAM_SQLITE_PAGE_CACHE_MB": "0"}
    token = _app_token(db, env)
    port = free_port()
    command = cellstream_command("serve", "--db", prefill.database_url(db), "--host", HOST,
                                 "--port", str(port))
    with serving(command, port, tmp / "cellstream-uncached.log", env) as server:
        headers = _authenticate(server, token)
        _first_pages(server, headers)
        return _drive(server, PAGE_PATHS, PAGE_LOAD, headers)


def _baseline(page: bytes, tmp: Path) -> tuple[Run, float]:
    body_file = tmp / "page.json"
    body_file.write_bytes(page)
    port = free_port()
    command = [sys.executable, "-m", "bench.baseline_app", str(body_file), HOST, str(port)]
    with serving(command, port, tmp / "baseline.log") as server:
        result = _drive(server, PAGE_PATHS, PAGE_LOAD, {"Authorization": "Bearer -"})
        return result, peak_rss_mb(server.process.pid)


def _checked(run: Run, what: str) -> load.LoadResult:
    print(f"  {what}: {run.summary()}")
    result = run.load
    failed = result.errors + result.non_2xx
    if failed > result.requests * 0.01:
        raise RuntimeError(f"{what}: {failed:,} of {result.requests:,} requests failed")
    return result


def run() -> list[Figure]:
    prefill.prefilled_db()  # built (once) before anything is timed
    with tempfile.TemporaryDirectory(prefix="cellstream-bench-", dir=prefill.CACHE) as name:
        tmp = Path(name)
        db = prefill.copy_prefilled(tmp / "api.db")
        print(f"event api: load from {load.tool()}; `cellstream serve` with one uvicorn worker")
        got = _cellstream(db, tmp)
        uncached_run = _uncached(db, tmp)
        bare, base_rss = _baseline(got.first_page, tmp)
    pages = _checked(got.pages, "pages, cellstream")
    uncached = _checked(uncached_run, "pages, cellstream without its page cache")
    base = _checked(bare, "pages, bare Starlette baseline")
    deep = _checked(got.deep, "OFFSET page 1,000")
    cursor = _checked(got.cursor, "cursor page at row 49,950")
    print(f"  peak RSS: cellstream {got.rss_mb:,.0f} MiB, bare Starlette {base_rss:,.0f} MiB")
    return [
        Figure("event_api_page_req_per_s", pages.rps, "req/s", base.rps, goal=4_000, min_ratio=0.25),
        Figure("event_api_page_p99_ms", pages.p99_ms, "ms", base.p99_ms, better="lower", goal=25),
        Figure("event_api_page_uncached_req_per_s", uncached.rps, "req/s", base.rps, goal=4_000,
               min_ratio=0.25),
        Figure("event_api_page_uncached_p99_ms", uncached.p99_ms, "ms", base.p99_ms, better="lower", goal=25),
        Figure("peak_rss_mb", got.rss_mb, "MiB", better="lower"),
        Figure("event_api_deep_page_p99_ms", deep.p99_ms, "ms", better="lower", goal=100),
        Figure("event_api_cursor_page_p99_ms", cursor.p99_ms, "ms", better="lower", goal=20),
    ]
