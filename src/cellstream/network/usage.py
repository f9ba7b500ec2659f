"""Usage records (facts §E.5) and what they cost under the endpoint's tariff profile.

Data volumes are in MB of 1,000,000 bytes, as operators bill them; a record is written every 45 seconds of
an open session once at least 100 KB moved since the last one, and once when the session closes. The
home rate applies in the tariff's home countries (rate zone 1 "Home"), the roaming rate elsewhere (zone 2).
"""

from __future__ import annotations

from typing import Any

from cellstream.domain.subscriber import Subscriber
from cellstream.events.timefmt import format_timestamp
from cellstream.network.operators import Operator

MB = 1_000_000
RECORD_EVERY_MS = 45_000
RECORD_MIN_BYTES = 100_000
DATA, SMS = 5, 6
CURRENCIES = {"EUR": (1, "€"), "USD": (2, "$"), "GBP": (3, "£")}
HOME_ZONE, ROAMING_ZONE = (1, "Home"), (2, "Roaming")


def megabytes(octets: int) -> float:
    return round(octets / MB, 6)


def zone(sub: Subscriber, operator: Operator) -> tuple[int, str]:
    home = sub.tariff is not None and operator.country.iso_code in sub.tariff.home_countries
    return HOME_ZONE if home else ROAMING_ZONE


def data_cost(sub: Subscriber, operator: Operator, rx: int, tx: int) -> float:
    if sub.tariff is None:
        return 0.0
    rate = (sub.tariff.data_rate_per_mb if zone(sub, operator) == HOME_ZONE
            else sub.tariff.roaming_data_rate_per_mb)
    return round((rx + tx) / MB * rate, 8)


def sms_cost(sub: Subscriber, direction: str) -> float:
    if sub.tariff is None:
        return 0.0
    return sub.tariff.sms_mo_rate if direction == "MO" else sub.tariff.sms_mt_rate


def usage_record(sub: Subscriber, operator: Operator, *, traffic_type: int, rx: float, tx: float,
                 cost: float, start_ms: int, end_ms: int, session_id: str) -> dict[str, Any]:
    """One record; `rx`/`tx` are MB for data, message counts for SMS."""
    currency = sub.tariff.currency if sub.tariff is not None else "EUR"
    currency_id, symbol = CURRENCIES.get(currency, (0, currency))
    zone_id, zone_name = zone(sub, operator)
    endpoint = sub.endpoint
    sim = sub.sim
    return {
        "cost": cost,
        "currency": {"id": currency_id, "code": currency, "symbol": symbol},
        "traffic_type": {"id": traffic_type, "description": "Data" if traffic_type == DATA else "SMS"},
        "volume": {"total": round(rx + tx, 6), "rx": round(rx, 6), "tx": round(tx, 6)},
        "start_timestamp": format_timestamp(start_ms)[:19] + "Z",
        "end_timestamp": format_timestamp(end_ms),
        "session_id": session_id,
        "imsi": sim.imsi,
        "imsi_id": sim.id,
        "operator": {"id": operator.id, "name": operator.name, "mnc": operator.mncs[0],
                     "country": {"id": operator.country.id, "mcc": operator.country.mcc,
                                 "name": operator.country.name}},
        "organisation": sub.actor.organisation,
        "tariff": {"id": sub.tariff.id if sub.tariff else None,
                   "name": sub.tariff.name if sub.tariff else None,
                   "ratezone": {"id": zone_id, "name": zone_name}},
        "endpoint": None if endpoint is None else {
            "id": endpoint.id, "name": endpoint.name, "ip_address": endpoint.ip_address,
            "tags": endpoint.tags, "imei": endpoint.imei, "balance": None},
        "sim": {"id": sim.id, "iccid": sim.iccid, "msisdn": sim.msisdn,
                "production_date": format_timestamp(sim.production_ms)[:19] + "Z"},
    }
