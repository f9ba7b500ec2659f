"""Runs one `StreamWorker` task per active data stream and nothing else: a slow or failing destination
only ever delays its own task (isolation). Any change to a stream (pause, resume, new destination,
restart, delete) stops its worker and starts a fresh one from the stored record and cursor, so a worker
never acts on stale configuration. A worker that crashes unexpectedly is logged and started again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import ClassVar

import msgspec

from cellstream.lifecycle import stop_task
from cellstream.store.resources import Record, ResourceStore, ResourceTx
from cellstream.streamer.model import ERROR, PENDING, RUNNING, DataStream
from cellstream.streamer.worker import StreamWorker

log = logging.getLogger(__name__)
ACTIVE = frozenset({RUNNING, ERROR, PENDING})
CRASH_PAUSE_S = 5.0


class StreamIndex(Record, kw_only=True):
    """The platform-wide list of data stream record ids (id 1, held by no organisation), so the
    supervisor finds every stream at start without knowing the organisations."""

    KIND: ClassVar[str] = "data_stream_index"
    ids: list[int] = msgspec.field(default_factory=list)


def _stream(tx: ResourceTx, record_id: int) -> DataStream | None:
    return tx.get(DataStream, record_id)


def index_of(tx: ResourceTx) -> StreamIndex:
    return tx.get(StreamIndex, 1) or StreamIndex(id=1)


WorkerFactory = Callable[[DataStream], StreamWorker]


class StreamSupervisor:
    def __init__(self, resources: ResourceStore, make_worker: WorkerFactory) -> None:
        self._resources = resources
        self._make_worker = make_worker
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._closed = False

    async def start(self) -> None:
        def work(tx: ResourceTx) -> list[int]:
            return list(index_of(tx).ids)

        for record_id in await self._resources.view(work):
            await self.refresh(record_id)

    async def refresh(self, record_id: int) -> None:
        """Bring the worker of stream `record_id` in line with its stored record."""
        await self._stop(record_id)
        if self._closed:
            return
        stream = await self._resources.view(functools.partial(_stream, record_id=record_id))
        if stream is not None and stream.status_id in ACTIVE:
            self._tasks[record_id] = asyncio.create_task(self._supervise(stream),
                                                         name=f"data-stream-{stream.stream_id}")

    def running(self) -> list[int]:
        return [k for k, t in self._tasks.items() if not t.done()]

    async def _supervise(self, stream: DataStream) -> None:
        while True:
            try:
                await self._make_worker(stream).run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("data stream %s: worker crashed; starting again in %.0f s",
                              stream.stream_id, CRASH_PAUSE_S)
            await asyncio.sleep(CRASH_PAUSE_S)
            fresh = await self._resources.view(functools.partial(_stream, record_id=stream.id))
            if fresh is None or fresh.status_id not in ACTIVE:
                return
            stream = fresh

    async def _stop(self, record_id: int) -> None:
        await stop_task(self._tasks.pop(record_id, None))

    async def close(self) -> None:
        self._closed = True
        for record_id in list(self._tasks):
            await self._stop(record_id)
