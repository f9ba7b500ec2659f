"""The discrete-event core: a priority queue of (time, sequence, device, action) on simulated time, advanced
one tick at a time.

Why ticks: a tick's records are produced before any of them is answered, and the answers are applied
together at the end of the tick, in record order. So what the simulation does depends only on the seed
and the tick length — not on how a tick is cut into requests, nor on how fast it runs. Each queue entry
remembers its device's `gen`; an entry whose device has moved on since (re-registered, was purged or
refused) is dropped when it comes up.
"""

from __future__ import annotations

import heapq
from typing import Any

from cellstream.domain.subscriber import Verdict
from cellstream.network.signalling import AnySignal
from cellstream.simulator.behaviour import Behaviour
from cellstream.simulator.fleet import Device

TICK_MS = 1000
WORLD = -1  # the device index of actions that concern the whole network
OUTAGE = 0  # world action: arg (offline ms, re-attach window ms)

Entry = tuple[int, int, int, int, int, Any]  # time ms, sequence, device index, action, device gen, argument


class Engine:
    def __init__(self, devices: list[Device]) -> None:
        self.devices = devices
        self.behaviour = Behaviour(self.schedule)
        self._queue: list[Entry] = []
        self._seq = 0

    def schedule(self, t: int, d: Device, action: int, arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, d.index, action, d.gen, arg))

    def schedule_world(self, t: int, action: int, arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, WORLD, action, 0, arg))

    def next_time(self) -> int | None:
        return self._queue[0][0] if self._queue else None

    def advance(self, until_ms: int) -> list[tuple[AnySignal, int, int]]:
        """Run every action due before `until_ms`; the records they emit, in time order, each with its
        device index and registration attempt (to match the answer to it)."""
        queue, devices, behaviour = self._queue, self.devices, self.behaviour
        out: list[tuple[AnySignal, int, int]] = []
        behaviour.out = out
        while queue and queue[0][0] < until_ms:
            t, _, index, action, gen, arg = heapq.heappop(queue)
            if index == WORLD:
                self._world(action, arg, t)
                continue
            device = devices[index]
            if gen == device.gen:
                behaviour.act(device, action, arg, t)
        # An action emits a few records a moment apart; a stable sort keeps each device's own order
        out.sort(key=lambda item: item[0].ts_ms)
        return out

    def react(self, sent: list[tuple[AnySignal, int, int]], verdicts: list[Verdict], t: int) -> None:
        devices, behaviour = self.devices, self.behaviour
        for (record, index, attempt), verdict in zip(sent, verdicts, strict=True):
            behaviour.react(devices[index], record, verdict, attempt, t)

    def _world(self, action: int, arg: Any, t: int) -> None:
        if action == OUTAGE:
            offline_ms, window_ms = arg
            self.behaviour.outage(self.devices, t, offline_ms, window_ms)
