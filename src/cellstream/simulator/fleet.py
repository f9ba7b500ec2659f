"""The simulated fleet: what kind of device each one is, and the state a device keeps between its actions.

A device is one SIM in one endpoint (or, for `auth-storm`, an IMSI the platform never issued). Its state is
what the device and the network believe; the platform's verdicts correct it (a refused registration
leaves the device detached, a refused session leaves it without one). Each device owns a
`random.Random` stream seeded from (seed, index) alone, so what a device does never depends on how many
devices run beside it or how records are batched.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cellstream.network.operators import Operator
from cellstream.simulator import identities

Span = tuple[float, float]  # seconds (or bytes), drawn uniformly


@dataclass(frozen=True)
class UsageProfile:
    """How a kind of device uses the network. Spans are uniform ranges; None means never."""

    name: str
    session_gap: Span  # idle time between data sessions (s)
    session_length: Span  # (s)
    report_every: Span  # the core reports usage of an open session this often (s)
    rx_per_report: Span  # bytes to the device per report
    tx_per_report: Span  # bytes from the device per report
    move_every: Span | None = None  # location area changes (s)
    sms_every: Span | None = None
    sleep_chance: float = 0.0  # after a session: power down long enough for the network to purge it
    sleep_for: Span = (1800.0, 7200.0)
    rat_type: int = 6  # 6 LTE, 8 NB-IoT


TRACKER = UsageProfile("tracker", session_gap=(60, 600), session_length=(60, 300), report_every=(10, 30),
                       rx_per_report=(200, 2_000), tx_per_report=(1_000, 20_000), move_every=(120, 900),
                       sms_every=(1_800, 7_200))
METER = UsageProfile("meter", session_gap=(600, 3_600), session_length=(20, 90), report_every=(10, 30),
                     rx_per_report=(100, 1_000), tx_per_report=(500, 5_000), sms_every=(3_600, 14_400),
                     sleep_chance=0.3, rat_type=8)
CAMERA = UsageProfile("camera", session_gap=(120, 900), session_length=(300, 1_200), report_every=(10, 30),
                      rx_per_report=(20_000, 200_000), tx_per_report=(500_000, 4_000_000))
GATEWAY = UsageProfile("gateway", session_gap=(300, 1_800), session_length=(60, 600), report_every=(10, 30),
                       rx_per_report=(50_000, 5_000_000), tx_per_report=(5_000, 50_000),
                       sms_every=(3_600, 10_800))
HEAVY = UsageProfile("heavy", session_gap=(30, 120), session_length=(300, 900), report_every=(10, 20),
                     rx_per_report=(100_000, 1_000_000), tx_per_report=(200_000, 2_000_000))
ROGUE = UsageProfile("rogue", session_gap=(60, 60), session_length=(1, 1), report_every=(10, 10),
                     rx_per_report=(0, 0), tx_per_report=(0, 0))
NORMAL_MIX: tuple[tuple[UsageProfile, float], ...] = ((TRACKER, 0.5), (METER, 0.3), (GATEWAY, 0.12),
                                                      (CAMERA, 0.08))


def pick(rng: random.Random, mix: tuple[tuple[UsageProfile, float], ...]) -> UsageProfile:
    profiles = [p for p, _ in mix]
    return rng.choices(profiles, weights=[w for _, w in mix])[0]


@dataclass(slots=True)
class OpenSession:
    session_id: str
    ends_ms: int
    last_report_ms: int
    lac: int
    ci: int


@dataclass(slots=True)
class Device:
    index: int
    imsi: str
    endpoint_id: int | None  # None: an IMSI the platform does not know
    sim_id: int | None
    service_profile_id: int | None
    imei: str
    profile: UsageProfile
    rng: random.Random
    home: Operator
    country: str = identities.HOME_COUNTRY
    candidates: list[Operator] = field(default_factory=list)  # networks to try here, preferred first
    operator: Operator | None = None  # where the device believes it is registered
    node: int = 0
    lac: int = 0
    ci: int = 0
    software_version: int = 1
    gen: int = 0  # bumped when the device's plans are void (new registration, purge, refusal)
    attempt: int = 0  # registration attempts, so a verdict is matched to the attempt it answers
    failures: int = 0  # consecutive refused registrations: the retry backs off
    session: OpenSession | None = None
    session_failures: int = 0
    throttle: int | None = None  # bytes per second the platform allows, when throttled
    # A travelling device: per country it visits, in order, the networks it tries there (its first leg
    # is the home country); how long it stays in each after the first
    itinerary: list[list[Operator]] = field(default_factory=list)
    leg: int = 0
    leg_ends_ms: int = 0
    leg_ms: int = 0
    aggressive: bool = False  # retries without backing off (a misbehaving module)

    @property
    def imeisv(self) -> str:
        return identities.imeisv(self.imei, self.software_version)


def device_rng(seed: int, index: int) -> random.Random:
    # A string seed is hashed with SHA-512 by `random`, so the stream is the same on every run and
    # platform (unlike hash(), which is salted per process)
    return random.Random(f"cellstream-simulator/{seed}/{index}")


def home_candidates(rng: random.Random) -> tuple[Operator, list[Operator]]:
    """A German network the device prefers, then the others in a random order of its own."""
    german = identities.operators_in(identities.HOME_COUNTRY)
    home = rng.choice(german)
    others = [o for o in german if o.id != home.id]
    rng.shuffle(others)
    return home, [home, *others]


def new_device(index: int, seed: int, profile_mix: tuple[tuple[UsageProfile, float], ...], *,
               imsi: str, endpoint_id: int | None, sim_id: int | None, service_profile_id: int | None,
               imei: str | None) -> Device:
    rng = device_rng(seed, index)
    home, candidates = home_candidates(rng)
    profile = pick(rng, profile_mix)
    return Device(index=index, imsi=imsi, endpoint_id=endpoint_id, sim_id=sim_id,
                  service_profile_id=service_profile_id, imei=imei or identities.imei(seed, index),
                  profile=profile, rng=rng, home=home, candidates=candidates,
                  software_version=rng.randrange(1, 20))
