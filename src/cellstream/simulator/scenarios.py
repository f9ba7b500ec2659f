"""The scenarios `cellstream simulate --scenario` offers. Each picks the device mix, plans the start
(who attaches when, who travels where, world events), changes the organisation before the run if it
must (`setup`) and puts back what it changed afterwards (`teardown`).

- normal-day: trackers, meters, gateways and cameras at home in Germany (the default tariff's home): they
  attach within the first minute, open sessions with telemetry-sized or video/firmware-sized volumes,
  move between location areas, send and receive SMS, meters sleep long enough to be purged. A few
  IMSIs the platform never issued (one per 50 devices) try to register now and then and are refused.
- roaming-trip: 60 % of the devices travel through several real countries (road trips through Europe,
  air freight to the US, the Gulf, Asia): at each border the device ends its session and registers in a
  visited network. For a quarter of the travellers the organisation has blacklisted the network they
  try first in their second country (steering of roaming), so that registration is refused and the
  device takes the next network.
- quota-exhaustion: heavy data users; data quota management is switched on for the fleet's service
  profiles and each endpoint gets a small data quota (1–5 MB; half Block, half Throttle with a peak
  throughput of 64,000 or 128,000). Quotas run out within minutes: Block devices lose their session
  and are refused new ones (they back off), Throttle devices carry on at the throughput the platform
  allows.
- auth-storm: the network-side face of failing authentication, since the platform sees no
  authentication vectors, only the registrations that follow them: a fifth of the SIMs are suspended by
  the organisation (their registrations are rejected: "the SIM is suspended"), a fifth have their
  preferred network blacklisted (rejected: "operator not supported", then they take another network),
  and one IMSI per five devices is unknown to the platform (cloned or foreign SIMs; refused without an
  event, since no organisation owns them) and retries every 10–30 s without backing off. Everyone
  registers within the first 20 seconds: a storm of rejected Update Location / Update GPRS Location.
- outage-reattach: everyone attaches within 30 s and lives a normal day until the core fails (at 40 %
  of the run, or after 10 minutes): every registration is purged at once (the platform closes the open
  sessions), the network stays down for a while (10 % of the run, 10 s–2 min) and then all devices
  re-attach within a short window (10 % of the run, 5 s–1 min).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from cellstream.domain import quotas
from cellstream.domain.quotas import QuotaRequest
from cellstream.network.operators import Operator
from cellstream.simulator import identities
from cellstream.simulator.behaviour import ATTACH, SECOND
from cellstream.simulator.engine import OUTAGE, Engine
from cellstream.simulator.fleet import CAMERA, HEAVY, NORMAL_MIX, Device, UsageProfile
from cellstream.simulator.provision import Platform

MINUTE, DAY = 60 * SECOND, 86_400 * SECOND
ROUTES: tuple[tuple[str, ...], ...] = (
    ("nl", "be", "fr", "es", "pt"),  # the Atlantic road
    ("at", "it", "ch"),  # across the Alps
    ("dk", "se", "no", "fi"),  # Scandinavia
    ("pl", "cz", "at"),  # east and back
    ("fr", "gb", "ie"),  # to the islands
    ("us", "mx"),  # air freight to the Americas
    ("ae", "in"),  # the Gulf and India
    ("jp", "kr"),  # East Asia
)


@dataclass
class Scenario:
    name: str
    mix: tuple[tuple[UsageProfile, float], ...] = NORMAL_MIX
    rogue_share: float = 0.0  # unknown IMSIs per device
    attach_within_s: float = 60.0
    changes: list[tuple[str, int, int]] = field(default_factory=list)  # what setup changed, to undo

    def rogues(self, devices: int) -> int:
        return int(devices * self.rogue_share)

    def plan(self, engine: Engine, fleet: list[Device], start_ms: int, duration_ms: int | None,
             seed: int) -> None:
        """Put each device's first action in the queue (and anything else the scenario needs)."""
        for d in fleet:
            delay = d.rng.uniform(0, self.attach_within_s if d.endpoint_id is not None else 600)
            engine.schedule(start_ms + int(delay * SECOND), d, ATTACH)

    async def setup(self, platform: Platform, fleet: list[Device], start_ms: int, duration_ms: int | None,
                    seed: int) -> None:
        return None

    async def teardown(self, platform: Platform) -> None:
        """Undo `changes`, newest first: the organisation is left as the scenario found it."""
        while self.changes:
            what, target, value = self.changes.pop()
            if what == "apply_data_quota":
                await platform.set_apply_data_quota(target, bool(value))
            elif what == "sim_status":
                await platform.set_sim_status(target, value)
            elif what == "blacklist":
                await platform.blacklist(target, value, add=False)


def _rng(name: str, seed: int) -> random.Random:
    """The scenario's own stream, apart from the devices' (their behaviour does not shift with it)."""
    return random.Random(f"cellstream-scenario/{name}/{seed}")


def _members(fleet: list[Device]) -> list[Device]:
    return [d for d in fleet if d.endpoint_id is not None]


class RoamingTrip(Scenario):
    def plan(self, engine: Engine, fleet: list[Device], start_ms: int, duration_ms: int | None,
             seed: int) -> None:
        for d in _members(fleet):
            if d.rng.random() < 0.6:
                route = d.rng.choice(ROUTES)
                d.itinerary = [list(d.candidates)] + [_shuffled(d.rng, identities.operators_in(c))
                                                      for c in route]
                if duration_ms is None:
                    first, d.leg_ms = d.rng.uniform(10, 30) * MINUTE, int(d.rng.uniform(20, 60) * MINUTE)
                else:  # fit the trip into the run: a short run crosses borders quickly
                    first = d.rng.uniform(0.05, 0.2) * duration_ms
                    d.leg_ms = int(d.rng.uniform(0.15, 0.3) * duration_ms)
                d.leg_ends_ms = start_ms + int(first)
        super().plan(engine, fleet, start_ms, duration_ms, seed)

    async def setup(self, platform: Platform, fleet: list[Device], start_ms: int, duration_ms: int | None,
                    seed: int) -> None:
        rng = _rng(self.name, seed)
        for d in _members(fleet):
            if len(d.itinerary) > 1 and d.endpoint_id is not None and rng.random() < 0.25:
                steered = d.itinerary[1][0]
                await platform.blacklist(d.endpoint_id, steered.id, add=True)
                self.changes.append(("blacklist", d.endpoint_id, steered.id))


def _shuffled(rng: random.Random, items: list[Operator]) -> list[Operator]:
    items = list(items)
    rng.shuffle(items)
    return items


class QuotaExhaustion(Scenario):
    async def setup(self, platform: Platform, fleet: list[Device], start_ms: int, duration_ms: int | None,
                    seed: int) -> None:
        rng = _rng(self.name, seed)
        members = _members(fleet)
        for profile_id in sorted({d.service_profile_id for d in members if d.service_profile_id}):
            before = await platform.set_apply_data_quota(profile_id, True)
            if not before:
                self.changes.append(("apply_data_quota", profile_id, 0))
        expiry = start_ms + (duration_ms or DAY) + DAY
        for d in members:
            block = rng.random() < 0.5
            request = QuotaRequest(status_id=quotas.ACTIVE, volume=round(rng.uniform(1, 5), 1),
                                   expiry_ms=expiry, auto_refill=False, threshold_percentage=50.0,
                                   action_id=quotas.BLOCK if block else quotas.THROTTLE,
                                   peak_throughput=None if block else rng.choice((64_000, 128_000)))
            if d.endpoint_id is not None:
                await platform.assign_data_quota(d.endpoint_id, request)


class AuthStorm(Scenario):
    async def setup(self, platform: Platform, fleet: list[Device], start_ms: int, duration_ms: int | None,
                    seed: int) -> None:
        rng = _rng(self.name, seed)
        members = _members(fleet)
        share = max(1, round(len(members) * 0.2)) if len(members) >= 3 else 0
        chosen = rng.sample(members, 2 * share)
        for d in sorted(chosen[:share], key=lambda d: d.index):
            if d.sim_id is not None:
                await platform.set_sim_status(d.sim_id, 2)  # Suspended (event 9)
                self.changes.append(("sim_status", d.sim_id, 1))  # back to Activated (event 8)
        for d in sorted(chosen[share:], key=lambda d: d.index):
            if d.endpoint_id is not None:
                await platform.blacklist(d.endpoint_id, d.candidates[0].id, add=True)
                self.changes.append(("blacklist", d.endpoint_id, d.candidates[0].id))
        for d in fleet:
            d.aggressive = d.endpoint_id is None

    def plan(self, engine: Engine, fleet: list[Device], start_ms: int, duration_ms: int | None,
             seed: int) -> None:
        for d in fleet:  # the storm: everyone at once, unknown IMSIs included
            engine.schedule(start_ms + int(d.rng.uniform(0, self.attach_within_s) * SECOND), d, ATTACH)


class OutageReattach(Scenario):
    def plan(self, engine: Engine, fleet: list[Device], start_ms: int, duration_ms: int | None,
             seed: int) -> None:
        super().plan(engine, fleet, start_ms, duration_ms, seed)
        if duration_ms is None:
            at, offline, window = 10 * MINUTE, 2 * MINUTE, MINUTE
        else:
            at = int(duration_ms * 0.4)
            offline = min(max(duration_ms // 10, 10 * SECOND), 2 * MINUTE)
            window = min(max(duration_ms // 10, 5 * SECOND), MINUTE)
        engine.schedule_world(start_ms + at, OUTAGE, (offline, window))


def scenario(name: str) -> Scenario:
    """A fresh scenario object (it remembers what it changed); KeyError for an unknown name."""
    makers: dict[str, Callable[[], Scenario]] = {
        "normal-day": lambda: Scenario("normal-day", rogue_share=0.02),
        "roaming-trip": lambda: RoamingTrip("roaming-trip"),
        "quota-exhaustion": lambda: QuotaExhaustion("quota-exhaustion", mix=((HEAVY, 0.7), (CAMERA, 0.3))),
        "auth-storm": lambda: AuthStorm("auth-storm", rogue_share=0.2, attach_within_s=20.0),
        "outage-reattach": lambda: OutageReattach("outage-reattach", attach_within_s=30.0),
    }
    return makers[name]()


SCENARIOS = ("normal-day", "roaming-trip", "quota-exhaustion", "auth-storm", "outage-reattach")
