"""A real `cellstream serve` on a free port with a fresh SQLite file, for the end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CLI = Path(sys.executable).parent / "cellstream"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    base: str
    db: str
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        """Run `cellstream ARGS --db DB`; the last line it printed."""
        done = subprocess.run([str(CLI), *args, "--db", self.db], capture_output=True, text=True,
                              env=self.env, timeout=120)
        assert done.returncode == 0, f"cellstream {' '.join(args)} failed: {done.stdout}{done.stderr}"
        return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    env = dict(os.environ, CELLSTREAM_DATA_DIR=str(tmp_path / "var"), CELLSTREAM_RATE_LIMITS="off",
               CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS="true")
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(CLI), "serve", "--db", db, "--port", str(port)], stdout=log,
                                stderr=subprocess.STDOUT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                pytest.fail("server did not start: " + log_path.read_text()[-2000:])
            yield Server(base, db, env)
        finally:
            proc.terminate()
            proc.wait(20)
