"""HTTP servers under test, as subprocesses on 127.0.0.1: `cellstream serve` and the bare Starlette
baseline. Started on a free port, waited for, measured (/proc peak RSS) and stopped by their own pid."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
# The uvicorn.Config options `cellstream serve` uses (cellstream/cli/serve.py: one worker on a uvloop
# event loop); the baseline app is served with the same.
UVICORN_OPTIONS: dict[str, Any] = {"log_level": "warning", "access_log": False, "lifespan": "on",
                                   "server_header": False}
READY_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def cellstream_command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("cellstream")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "import sys; from cellstream.cli import main; sys.exit(main())", *args]


def server_env(data_dir: Path) -> dict[str, str]:
    """The environment minus any CELLSTREAM_ settings of the caller, plus the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELLSTREAM_")}
    env.update({
        "CELLSTREAM_DATA_DIR": str(data_dir),
        "CELLSTREAM_RATE_LIMITS": "off",
        # The prefill was stored over the 30 days before it was built and is reused for weeks: retention
        # must not thin it out while queries are measured.
        "CELLSTREAM_EVENT_RETENTION_DAYS": "3650",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process and its children, in MiB."""
    total_kb = 0
    for proc in (pid, *_children(pid)):
        try:
            status = Path(f"/proc/{proc}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server not listening on {self.port} after {READY_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def serving(command: list[str], port: int, log: Path,
            env: Mapping[str, str] | None = None) -> Iterator[Server]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL)
    server = Server(process, port, log)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def request(url: str, *, headers: Mapping[str, str] | None = None,
            body: Any = None) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request (JSON body if given); returns status, headers and the raw response body."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()
