"""The records Policy Control keeps beside the domain's own, and the units and calendar it counts in.

Units: data is counted in MB of 1,000,000 bytes (decimal), the unit operators bill in and the one the usage
records (cellstream.network.usage) and the data quotas' `volume` use, so a quota of 1 MB is used up by
exactly the bytes that make 1 MB in the usage records. Volumes are rounded to 6 decimals (one byte).
The factory-test allowance of "100 KB" is 100,000 bytes for the same reason.

Calendar: months and days are UTC. A monthly counter belongs to the month `month_key` names; a record whose
month is older than the current one counts as empty (nothing needs resetting at a month change), and usage
reported late for a month already closed is not added to the new month.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from cellstream.store.resources import Record

MB = 1_000_000  # bytes in a megabyte: decimal, as billed
DAY_MS = 86_400_000
FACTORY_TEST_BYTES = 100_000  # 100 KB of data (rx + tx) activates a SIM in Factory Test …
FACTORY_TEST_SMS = 10  # … and so does its 10th SMS (facts §H.2, §I)


def month_key(ts_ms: int) -> str:
    """The UTC calendar month of `ts_ms`, e.g. "2026-11"."""
    return _month_of_day(ts_ms // DAY_MS)


@functools.lru_cache(maxsize=64)
def _month_of_day(day: int) -> str:  # every charge asks; its day is nearly always one seen just before
    moment = datetime.fromtimestamp(day * (DAY_MS // 1000), tz=UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def day_start(ts_ms: int) -> int:
    """The UTC midnight at or before `ts_ms` (POSIX time has no leap seconds, so days are 86,400 s)."""
    return ts_ms - ts_ms % DAY_MS


def megabytes(octets: int) -> float:
    return round(octets / MB, 6)


class EndpointUsage(Record, kw_only=True):
    """Data an endpoint moved in one calendar month (id: the endpoint's), for its traffic limit.

    `blocked_month` is the month whose event 11 was stored: the event is stored once per block, and
    cleared when the block ends within the month (the service profile's limit raised or removed)."""

    KIND = "endpoint_usage"
    month: str
    data_mb: float = 0.0
    blocked_month: str | None = None


class OrganisationUsage(Record, kw_only=True):
    """What an organisation's traffic cost in one calendar month (id: the organisation's), for its
    monthly cost limit; `blocked_month` as in EndpointUsage, for event 12."""

    KIND = "organisation_usage"
    month: str
    cost: float = 0.0
    blocked_month: str | None = None


class OrganisationLimits(Record, kw_only=True):
    """An organisation's monthly cost limit (id: the organisation's; None: no limit), facts §H.5."""

    KIND = "organisation_limits"
    monthly_cost_limit: float | None = None


class FactoryTestUsage(Record, kw_only=True):
    """What a SIM in Factory Test used so far (id: the SIM's); gone once the SIM activates itself."""

    KIND = "factory_test_usage"
    data_bytes: int = 0
    sms: int = 0


class QuotaRefills(Record, kw_only=True):
    """The UTC midnight of the last daily refill of each quota of an endpoint (id: the endpoint's;
    0: never refilled)."""

    KIND = "quota_refills"
    data_ms: int = 0
    sms_ms: int = 0


class WatchedOrganisation(Record, kw_only=True):
    """An organisation Policy Control has seen, with the name its events carry (id: the organisation's).

    Held by the platform (`org_id` None) so the periodic sweep can list every organisation with one scan:
    the resource port scans one organisation at a time and has no list of organisations."""

    KIND = "policy_organisation"
    name: str | None = None
