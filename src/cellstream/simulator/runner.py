"""`Simulation`: provision the fleet, run a scenario on simulated time, send what the devices do to the
platform tick by tick, and react to its answers.

Simulated time starts at the platform's now and advances one tick (1 simulated second) at a time; the
records of a tick go out in requests of at most `batch_size` records, and the verdicts come back to the
devices at the end of the tick. `speed` is simulated seconds per real second (None: as fast as the
platform takes it); `duration_s` None runs until cancelled. Cancelling `run()` (Ctrl+C, or the platform
shutting down its background task) stops after the request in flight, undoes the scenario's changes to
the organisation and closes the connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from cellstream.domain.subscriber import Verdict
from cellstream.network.service import MAX_BATCH
from cellstream.network.signalling import AnySignal
from cellstream.services import Services
from cellstream.simulator import scenarios
from cellstream.simulator.engine import TICK_MS, Engine
from cellstream.simulator.fleet import ROGUE, Device, new_device
from cellstream.simulator.identities import rogue_imsi
from cellstream.simulator.progress import Counters, NoProgress, Progress, progress_for
from cellstream.simulator.provision import InProcessPlatform, Platform, ProvisionedDevice, ensure_fleet
from cellstream.simulator.sink import InProcessSink, SignallingSink

log = logging.getLogger(__name__)
DEFAULT_BATCH = 500
Sent = list[tuple[AnySignal, int, int]]


def build_fleet(provisioned: list[ProvisionedDevice], rogues: int, seed: int,
                scenario: scenarios.Scenario) -> list[Device]:
    """The devices of the provisioned endpoints, then `rogues` devices with IMSIs nobody issued."""
    fleet = [new_device(p.index, seed, scenario.mix, imsi=p.imsi, endpoint_id=p.endpoint_id, sim_id=p.sim_id,
                        service_profile_id=p.service_profile_id, imei=p.imei) for p in provisioned]
    for _ in range(rogues):
        index = len(fleet)
        device = new_device(index, seed, ((ROGUE, 1.0),), imsi="", endpoint_id=None, sim_id=None,
                            service_profile_id=None, imei=None)
        device.imsi = rogue_imsi(device.rng)
        fleet.append(device)
    return fleet


class Simulation:
    def __init__(self, *, sink: SignallingSink, platform: Platform, devices: int,
                 scenario: str = "normal-day", seed: int = 0, speed: float | None = 1.0,
                 duration_s: float | None = None, batch_size: int = DEFAULT_BATCH,
                 progress: Progress | None = None, now_ms: Callable[[], int] | None = None,
                 events_stored: Callable[[], Awaitable[int]] | None = None) -> None:
        if devices < 1:
            raise ValueError("a simulation needs at least one device")
        if scenario not in scenarios.SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(scenarios.SCENARIOS)}")
        self.sink, self.platform, self.devices = sink, platform, devices
        self.scenario = scenarios.scenario(scenario)
        self.seed = seed
        self.speed = speed if speed and speed > 0 else None
        self.duration_ms = None if duration_s is None else int(duration_s * 1000)
        self.batch_size = min(max(1, batch_size), MAX_BATCH)  # the network takes at most this many at once
        self.progress = progress or NoProgress()
        self.now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self.events_stored = events_stored
        self.counters = Counters()
        self.fleet: list[Device] = []

    @classmethod
    def in_process(cls, services: Services, *, org_id: int, devices: int, speed: float | None = 1.0,
                   seed: int = 0, scenario: str = "normal-day", duration_s: float | None = None,
                   quiet: bool = True, batch_size: int = DEFAULT_BATCH) -> Simulation:
        """A simulation inside a running platform (`cellstream run`, `cellstream simulate --db`): records go
        straight to its NetworkService and simulated time starts at its clock's now."""
        platform = InProcessPlatform(services.connectivity, services.network, org_id)
        return cls(sink=InProcessSink(services.network), platform=platform, devices=devices,
                   scenario=scenario, seed=seed, speed=speed, duration_s=duration_s, batch_size=batch_size,
                   progress=progress_for(quiet), now_ms=services.clock.now_ms,
                   events_stored=services.events.last_position)

    async def run(self) -> Counters:
        scenario, counters = self.scenario, self.counters
        set_up = False
        try:
            await self.platform.check_organisation()
            provisioned = await ensure_fleet(self.platform, self.devices, self.seed)
            self.fleet = build_fleet(provisioned, scenario.rogues(self.devices), self.seed, scenario)
            start_ms = self.now_ms()
            engine = Engine(self.fleet)
            scenario.plan(engine, self.fleet, start_ms, self.duration_ms, self.seed)
            set_up = True  # from here on, teardown puts back whatever setup managed to change
            await scenario.setup(self.platform, self.fleet, start_ms, self.duration_ms, self.seed)
            await self._loop(engine, start_ms)
        finally:
            try:
                if set_up:
                    await scenario.teardown(self.platform)
            except Exception:  # the run's own outcome matters more than a failed clean-up
                log.exception("could not undo the %s scenario's changes", scenario.name)
            finally:
                await self.sink.close()
                await self.platform.close()
        return counters

    async def _loop(self, engine: Engine, start_ms: int) -> None:
        counters, end_ms = self.counters, None if self.duration_ms is None else start_ms + self.duration_ms
        first_event = await self.events_stored() if self.events_stored else None
        real_start = time.monotonic()
        self.progress.start(self.duration_ms)
        t = start_ms
        try:
            while end_ms is None or t < end_ms:
                until = t + TICK_MS if end_ms is None else min(t + TICK_MS, end_ms)
                sent = engine.advance(until)
                await self._send(engine, sent, until)
                counters.sim_ms = until - start_ms
                counters.real_s = time.monotonic() - real_start
                if self.events_stored is not None and first_event is not None:
                    counters.events = await self.events_stored() - first_event
                self.progress.update(counters)
                t = self._next_tick(engine, start_ms, until, sent)
                await self._pace(real_start, t - start_ms)
            counters.sim_ms = t - start_ms if end_ms is None else end_ms - start_ms
        finally:
            self.progress.stop(counters)

    async def _send(self, engine: Engine, sent: Sent, until: int) -> None:
        if not sent:
            return
        records = [record for record, _, _ in sent]
        verdicts: list[Verdict] = []
        for start in range(0, len(records), self.batch_size):
            verdicts += await self.sink.submit(records[start:start + self.batch_size])
            self.counters.submits += 1
        for record, verdict in zip(records, verdicts, strict=True):
            self.counters.count(type(record).__name__, verdict.accepted, verdict.reason)
        engine.react(sent, verdicts, until)

    @staticmethod
    def _next_tick(engine: Engine, start_ms: int, until: int, sent: Sent) -> int:
        """The next tick; quiet stretches (nothing due) are skipped whole, on the tick grid."""
        upcoming = engine.next_time()
        if sent or upcoming is None or upcoming < until + TICK_MS:
            return until
        return start_ms + (upcoming - start_ms) // TICK_MS * TICK_MS

    async def _pace(self, real_start: float, sim_elapsed_ms: int) -> None:
        if self.speed is None:
            await asyncio.sleep(0)  # let the platform's other tasks (API requests) run between ticks
            return
        delay = real_start + sim_elapsed_ms / 1000 / self.speed - time.monotonic()
        await asyncio.sleep(max(delay, 0))
