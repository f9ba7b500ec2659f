"""Brokers a sink test starts for itself, for what the shared Mosquitto and NATS server are not set up for
(passwords, tokens, permissions, TLS, being restarted): each on a free port of 127.0.0.1, configured by the
test, in a directory of its own. Starting, waiting until it listens and stopping are the same for both, so
they are written once here; the `servers` fixture (conftest.py) stops whatever a test started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Concatenate, ParamSpec, TypeVar

import msgspec
import nats
import pytest

from tests.conftest import IN_CI
from tests.e2e.conftest import free_port

HOST = "127.0.0.1"


def need_binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        if IN_CI:
            pytest.fail(f"{name} is required under CI but not installed")
        pytest.skip(f"{name} not installed")
    return found


class Spawned:
    """A server process of one test on a free port, run from the config file `config()` writes; `stop` and
    `start` restart it on the same port."""

    program: ClassVar[str]

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.log = directory / f"{self.program}.log"
        self.conf = directory / f"{self.program}.conf"
        self.conf.write_text(self.config())
        self._binary = need_binary(self.program)
        self._process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        with self.log.open("ab") as out:
            process = subprocess.Popen([self._binary, "-c", str(self.conf)], stdout=out,
                                       stderr=subprocess.STDOUT)
        self._process = process
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"{self.program} exited: {self.log.read_text(errors='replace')}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.program} did not listen on {self.port}: "
                             f"{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


class Mosquitto(Spawned):
    """An MQTT broker configured by `lines` (mosquitto.conf lines)."""

    program = "mosquitto"

    def __init__(self, directory: Path, *lines: str) -> None:
        self.lines = lines
        super().__init__(directory)

    def config(self) -> str:
        # As root, mosquitto would switch to the `mosquitto` user, which cannot read the test's files.
        root = ["user root"] if os.geteuid() == 0 else []
        return "\n".join([f"listener {self.port} {HOST}", "persistence false", *root, *self.lines, ""])


class NatsServer(Spawned):
    """A JetStream server configured by `extra` (nats-server.conf text); a restart keeps its streams, which
    live in the test's directory."""

    program = "nats-server"

    def __init__(self, directory: Path, extra: str = "") -> None:
        self.extra = extra
        super().__init__(directory)

    def config(self) -> str:
        return (f'listen: "{HOST}:{self.port}"\n'
                f'jetstream {{ store_dir: "{self.directory / "jetstream"}" }}\n{self.extra}\n')

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    async def add_stream(self, name: str, subjects: list[str], **auth: str) -> None:
        nc = await nats.connect(self.url, **auth)
        try:
            await nc.jetstream().add_stream(name=name, subjects=subjects)
        finally:
            await nc.close()

    async def stored(self, name: str, **auth: str) -> list[int]:
        """The ids of the records stream `name` holds, in stream order."""
        nc = await nats.connect(self.url, **auth)
        try:
            js = nc.jetstream()
            last = (await js.stream_info(name)).state.last_seq
            return [int(msgspec.json.decode((await js.get_msg(name, seq)).data or b"")["id"])
                    for seq in range(1, last + 1)]
        finally:
            await nc.close()


S = TypeVar("S", bound=Spawned)
P = ParamSpec("P")


class Servers:
    """The servers one test started; `stop_all` ends them."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path
        self._started: list[Spawned] = []

    def start(self, kind: Callable[Concatenate[Path, P], S], *args: P.args, **kwargs: P.kwargs) -> S:
        """A running `kind(directory, *args, **kwargs)`, in a fresh directory."""
        directory = self._tmp_path / f"server{len(self._started)}"
        directory.mkdir()
        server = kind(directory, *args, **kwargs)
        self._started.append(server)
        server.start()
        return server

    def stop_all(self) -> None:
        for server in self._started:
            server.stop()
