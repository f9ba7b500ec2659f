"""Deterministic, realistic events for the benchmarks.

A handful of organisations (most traffic in one), ~10,000 endpoints, each with a SIM (19-digit ICCID) and an
IMSI (15 digits); a type mix like a real network (mostly update location, GPRS location, create and delete
PDP context with operator detail objects, some quota, blocking and API events); timestamps increasing by
~2 s per event (1.1M events span ~25 days); bodies of 600–1000 bytes once canonical.

Event `i` is a pure function of `i` (chunks of `CHUNK` events share one seeded random generator), so any
range can be generated without its predecessors and two runs produce the same documents.
Bump `GENERATOR_VERSION` whenever the output changes: it keys the cached prefilled database.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENERATOR_VERSION = 1
SEED = 20261007
CHUNK = 5_000
T0_MS = 1_759_795_200_000  # 2025-10-07T00:00:00Z
STEP_MS = 2_000
FIRST_ID = 40_000_000_000
MAIN_ORG_ID = 2001


@dataclass(frozen=True)
class Org:
    id: int
    name: str
    endpoints: int


ORGS: tuple[Org, ...] = (
    Org(MAIN_ORG_ID, "Acme Logistics GmbH", 8_500),
    Org(2002, "Nordic Meters AB", 700),
    Org(2003, "Sunrise Vending Ltd", 450),
    Org(2004, "Blue Harbor Fleet Inc", 250),
    Org(2005, "Test Org", 100),
)

# (operator id, name, country id, country, dialling code, mcc, iso, mnc, tapcode)
OPERATORS: tuple[tuple[int, str, int, str, str, str, str, str, str], ...] = (
    (3, "Vodafone", 74, "Germany", "49", "262", "de", "02", "DEUD2"),
    (1, "Telekom", 74, "Germany", "49", "262", "de", "01", "DEUD1"),
    (5, "Telefonica O2", 74, "Germany", "49", "262", "de", "03", "DEUE2"),
    (20, "Vodafone UK", 214, "United Kingdom", "44", "234", "gb", "15", "GBRVF"),
    (21, "EE", 214, "United Kingdom", "44", "234", "gb", "30", "GBRME"),
    (40, "Orange", 70, "France", "33", "208", "fr", "01", "FRAF1"),
    (41, "SFR", 70, "France", "33", "208", "fr", "10", "FRAF2"),
    (60, "KPN", 147, "Netherlands", "31", "204", "nl", "08", "NLDPT"),
    (80, "AT&T", 225, "United States", "1", "310", "us", "410", "USACG"),
    (81, "T-Mobile US", 225, "United States", "1", "310", "us", "260", "USAW6"),
    (90, "Telia", 199, "Sweden", "46", "240", "se", "01", "SWETR"),
)
DEVICE_KINDS = ("GPS Tracker", "Smart Meter", "Vending Machine", "Truck", "Cold Chain Sensor", "EV Charger",
                "POS Terminal")
TAGS = ("fleet,eu", "pilot", "meters,north", "cold-chain", "retail", "fleet,us", "test")

# Event type id and its share of the traffic.
TYPE_MIX: tuple[tuple[int, float], ...] = (
    (1, 0.180), (2, 0.200), (3, 0.270), (5, 0.260), (4, 0.010), (15, 0.008), (16, 0.012),
    (18, 0.012), (19, 0.006), (11, 0.004), (8, 0.005), (9, 0.003), (6, 0.004), (56, 0.004),
    (52, 0.002), (42, 0.0025), (43, 0.0025),
)
_TYPES = tuple(t for t, _ in TYPE_MIX)
_CUM: list[float] = []
for _, share in TYPE_MIX:
    _CUM.append((_CUM[-1] if _CUM else 0.0) + share)


@dataclass(frozen=True)
class Endpoint:
    org: Org
    endpoint: dict[str, Any]
    sim: dict[str, Any]
    imsi: dict[str, Any]
    operator: int  # index into OPERATORS: where the device usually roams


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choices("0123456789", k=n))


def _fleet() -> list[Endpoint]:
    rng = random.Random(f"{SEED}:fleet")
    fleet: list[Endpoint] = []
    k = 0
    for org in ORGS:
        for _ in range(org.endpoints):
            kind = DEVICE_KINDS[k % len(DEVICE_KINDS)]
            endpoint = {
                "id": 7_300_000 + k * 3, "name": f"{kind} {k:05d}",
                "ip_address": f"100.96.{k // 250}.{k % 250 + 2}",
                "tags": rng.choice(TAGS) if rng.random() < 0.4 else None,
                "imei": "35" + _digits(rng, 13),
            }
            sim = {"id": 640_000 + k, "iccid": "8988303" + _digits(rng, 12),
                   "production_date": f"2025-0{1 + k % 9}-1{k % 10}T10:09:23.000Z"}
            imsi = {"id": 12_100_000 + k, "imsi": "295050" + _digits(rng, 9),
                    "import_date": f"2025-0{1 + k % 9}-1{k % 10}T10:09:23.000Z"}
            fleet.append(Endpoint(org, endpoint, sim, imsi, rng.randrange(len(OPERATORS))))
            k += 1
    return fleet


FLEET: list[Endpoint] = _fleet()
MAIN_ORG_SHARE = ORGS[0].endpoints / len(FLEET)


def _timestamp(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _ip(rng: random.Random) -> str:
    return f"{rng.randrange(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _operator(op: int) -> dict[str, Any]:
    oid, name, cid, country, code, mcc, iso, _, _ = OPERATORS[op]
    return {"id": oid, "name": name,
            "country": {"id": cid, "name": country, "country_code": code, "mcc": mcc, "iso_code": iso}}


def _location_detail(op: int) -> dict[str, Any]:
    detail = _operator(op)
    oid, mnc, tapcode = OPERATORS[op][0], OPERATORS[op][7], OPERATORS[op][8]
    detail["tapcode"] = [{"id": oid, "tapcode": tapcode}]
    detail["mnc"] = [{"id": oid, "mnc": mnc}]
    return detail


def _pdp_detail(rng: random.Random, op: int, dev: Endpoint, delete: bool) -> dict[str, Any]:
    detail = _operator(op)
    detail["session_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if delete:
        rx, tx = rng.random() * 2, rng.random() * 0.5
        detail["volume"] = {"total": round(rx + tx, 6), "rx": round(rx, 6), "tx": round(tx, 6)}
    detail["pdp_context"] = {
        "sgsn_control_plane_ip_address": _ip(rng), "ggsn_data_plane_ip_address": _ip(rng),
        "rat_type": rng.choice((1, 2, 6, 6, 6, 8)), "apn": "em", "ci": rng.randrange(65535),
        "lac": rng.randrange(1, 9999), "ue_ip_address": dev.endpoint["ip_address"],
    }
    return detail


def _describe(type_id: int, rng: random.Random, dev: Endpoint, detail: Any) -> tuple[str, Any]:
    imsi = dev.imsi["imsi"]
    if type_id in (1, 15):
        verb = "New location received from VLR" if type_id == 1 else "Location purged at VLR"
        return f"{verb} for IMSI='{imsi}', now attached to VLR='491720{_digits(rng, 6)}'.", detail
    if type_id in (2, 16):
        return (f"New location received from SGSN for IMSI='{imsi}', now attached to "
                f"SGSN='{_digits(rng, 15)}', IP='{_ip(rng)}'.", detail)
    if type_id in (3, 4):
        pdp = detail["pdp_context"]
        cp, dp = pdp["sgsn_control_plane_ip_address"], pdp["ggsn_data_plane_ip_address"]
        return f"New PDP Context successfully activated with SGSN CP={cp}, DP={dp}.", detail
    if type_id == 5:
        return "PDP Context deleted.", detail
    quota = {"threshold_percentage": 80, "threshold_volume": 0.8, "volume": round(rng.random(), 6)}
    texts = {
        18: ("Endpoint quota threshold reached, volume is below 80%.", {"quota": quota}),
        19: ("Quota volume is completely used up and data access denied for endpoint.", {"quota": quota}),
        11: ("Blocking data access for endpoint, traffic limit exceeded.", None),
        8: ("Status of SIM changed from 'Suspended' to 'Activated'", None),
        9: ("Status of SIM changed from 'Activated' to 'Suspended'", None),
        56: ("Data quota assigned to endpoint.", {"volume": 1024, "expiry_date": "2026-12-31T00:00:00.000Z"}),
        52: ("Data quota enabled for endpoint.", None),
        42: ("Endpoint enabled.", None),
        43: ("Endpoint disabled.", None),
    }
    return texts[type_id]


def event(i: int, rng: random.Random) -> dict[str, Any]:
    """The i-th event as a producer would send it (emnify's documented JSON)."""
    type_id = rng.choices(_TYPES, cum_weights=_CUM)[0]
    dev = FLEET[int(len(FLEET) * rng.random() ** 1.3)]
    ts_ms = T0_MS + i * STEP_MS + rng.randrange(STEP_MS)
    op = dev.operator if rng.random() < 0.85 else rng.randrange(len(OPERATORS))
    doc: dict[str, Any] = {
        "id": FIRST_ID + i * 8 + rng.randrange(8), "timestamp": _timestamp(ts_ms),
        "event_type": {"id": type_id}, "organisation": {"id": dev.org.id, "name": dev.org.name},
    }
    if type_id == 6:
        username = f"ops{dev.org.id}@example.com"
        doc["description"] = f"Failed authentication request from '{username}', Reason: Invalid password"
        doc["user"] = {"id": 3_490_000 + dev.org.id, "name": "Ops Desk", "username": username}
        return doc
    detail: Any = None
    if type_id in (1, 2, 15, 16):
        detail = _location_detail(op)
    elif type_id in (3, 4, 5):
        detail = _pdp_detail(rng, op, dev, type_id == 5)
    doc["description"], detail = _describe(type_id, rng, dev, detail)
    doc["endpoint"], doc["sim"], doc["imsi"] = dev.endpoint, dev.sim, dev.imsi
    if detail is not None:
        doc["detail"] = detail
    return doc


def events(start: int, stop: int) -> Iterator[dict[str, Any]]:
    """Events start..stop-1 (deterministic: the same range always yields the same documents)."""
    for chunk in range(start // CHUNK, (stop + CHUNK - 1) // CHUNK):
        rng = random.Random(f"{SEED}:{chunk}")
        first = chunk * CHUNK
        for i in range(first, first + CHUNK):
            doc = event(i, rng)  # always drawn, so the chunk's stream does not depend on `start`
            if start <= i < stop:
                yield doc
