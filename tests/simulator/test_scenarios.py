"""Each scenario, run in-process for a small fleet, leaves in the platform what the scenario is about."""

from __future__ import annotations

from cellstream.domain.principal import Principal
from cellstream.domain.sims import ACTIVATED
from cellstream.events.timefmt import parse_timestamp
from cellstream.network.operators import operators
from cellstream.services import Services

from .conftest import ORG, of_type, simulate, stored, types, usage

ADMIN = Principal(ORG, None, app_token_id=0)
NOT_SUPPORTED = "This operator is currently not supported for this IMSI"


async def test_normal_day_attaches_every_device_and_moves_data(platform: Services) -> None:
    start = platform.clock.now_ms()
    counters = await simulate(platform, "normal-day", devices=20, duration_s=600)
    events = await stored(platform)
    seen = types(events)
    assert seen[(48, "Info")] == 1  # one SIM batch registered
    assert seen[(51, "Info")] == 20  # each SIM put into its endpoint
    for type_id in (1, 2, 3, 5):
        assert seen[(type_id, "Info")] > 0, seen
    attached = {e["endpoint"]["id"] for e in of_type(events, 1)}
    assert len(attached) == 20
    assert {e["detail"]["country"]["iso_code"] for e in of_type(events, 1)} == {"de"}  # at home
    network = [e for e in events if e["event_source"]["id"] == 0]
    assert all(start <= parse_timestamp(e["timestamp"]) <= start + 601_000 for e in network)
    records = await usage(platform)
    assert any(r["traffic_type"]["id"] == 5 and r["volume"]["total"] > 0 for r in records)
    assert counters.sent["CreatePdpContext"] > 0
    assert counters.sent["DataUsage"] > counters.sent["CreatePdpContext"]
    assert counters.sim_ms == 600_000


async def test_roaming_trip_registers_in_visited_networks_of_several_countries(platform: Services) -> None:
    await simulate(platform, "roaming-trip", devices=20, duration_s=600)
    events = await stored(platform)
    registrations = [e for e in events if e["event_type"]["id"] in (1, 2)
                     and e["event_severity"]["description"] == "Info"]
    countries = {e["detail"]["country"]["iso_code"] for e in registrations}
    assert "de" in countries
    assert len(countries - {"de"}) >= 2, countries
    # one device's own history goes through at least two countries
    per_endpoint: dict[int, set[str]] = {}
    for e in registrations:
        per_endpoint.setdefault(e["endpoint"]["id"], set()).add(e["detail"]["country"]["iso_code"])
    assert max(len(c) for c in per_endpoint.values()) >= 2
    # steering of roaming: a blacklisted visited network is refused, and the device takes another one
    refused = [e for e in of_type(events, 1) if e["event_severity"]["description"] == "Warn"]
    assert refused
    assert all(NOT_SUPPORTED in e["description"] for e in refused)
    for e in refused:
        later = [r for r in registrations if r["endpoint"]["id"] == e["endpoint"]["id"]
                 and r["event_type"]["id"] == 1 and r["id"] > e["id"]]
        assert later
        assert later[0]["detail"]["id"] != e["detail"]["id"]
    roaming_usage = [r for r in await usage(platform) if r["tariff"]["ratezone"]["name"] == "Roaming"]
    assert roaming_usage
    # the scenario put the blacklists back as it found them
    for endpoint_id in {e["endpoint"]["id"] for e in refused}:
        assert await platform.network.operator_blacklist(ADMIN, endpoint_id) == []


async def test_quota_exhaustion_uses_up_quotas_and_devices_back_off(platform: Services) -> None:
    counters = await simulate(platform, "quota-exhaustion", devices=12, duration_s=300)
    events = await stored(platform)
    seen = types(events)
    assert seen[(52, "Warn")] == 1  # quota management switched on for the default service profile
    assert seen[(56, "Info")] == 12  # a data quota for each endpoint
    assert seen[(19, "Warn")] > 0  # quotas used up
    blocked = [e for e in of_type(events, 3) if e["event_severity"]["description"] == "Warn"]
    throttled = of_type(events, 0)
    assert blocked or counters.refused["DataUsage"], "Block quotas refuse sessions"
    assert throttled, "Throttle quotas throttle"
    assert counters.refused["CreatePdpContext"] + counters.refused["DataUsage"] > 0
    # refused devices back off instead of hammering: far fewer refused sessions than reports
    assert counters.refused["CreatePdpContext"] < counters.sent["DataUsage"] / 4
    assert seen[(53, "Warn")] == 1  # and switched off again at the end, as the organisation had it
    profiles = await platform.connectivity.service_profiles(ADMIN)
    assert not any(p.apply_data_quota for p in profiles)


async def test_auth_storm_rejects_registrations_and_leaves_the_sims_as_found(platform: Services) -> None:
    counters = await simulate(platform, "auth-storm", devices=20, duration_s=300)
    events = await stored(platform)
    rejected = [e for e in events if e["event_type"]["id"] in (1, 2)
                and e["event_severity"]["description"] == "Warn"]
    reasons = {e["description"].split(". ", 1)[1] for e in rejected}
    assert "Registration refused, because the SIM is suspended." in reasons
    assert any(NOT_SUPPORTED in r for r in reasons)
    assert all(e["description"].startswith("Location update rejected from ") for e in rejected)
    assert counters.reasons["unknown IMSI"] > 20  # IMSIs nobody issued keep trying
    assert len(of_type(events, 9)) == 4
    assert len(of_type(events, 8)) == 4
    assert all(s.status_id == ACTIVATED for s in await platform.connectivity.list_sims(ADMIN))
    # devices whose preferred network is blacklisted get in elsewhere: they open sessions
    steered = {e["endpoint"]["id"] for e in rejected if NOT_SUPPORTED in e["description"]}
    opened = {e["endpoint"]["id"] for e in of_type(events, 3) if e["event_severity"]["description"] == "Info"}
    assert steered
    assert steered <= opened


async def test_outage_purges_everyone_at_once_and_they_reattach(platform: Services) -> None:
    start = platform.clock.now_ms()
    await simulate(platform, "outage-reattach", devices=20, duration_s=300)
    events = await stored(platform)
    outage = start + 120_000  # 40 % of the run
    purged = [e for e in events if e["event_type"]["id"] in (15, 16)
              and outage <= parse_timestamp(e["timestamp"]) <= outage + 3_000]  # all within 3 s
    # everyone but a device that happened to be asleep (a meter the network had purged already)
    assert len(of_type(purged, 15)) >= 18
    assert len(of_type(purged, 16)) >= 18
    closed = [e for e in of_type(events, 5) if outage <= parse_timestamp(e["timestamp"]) <= outage + 3_000]
    assert closed, "the purge ended the open sessions"
    back = 30_000 + 30_000  # offline 10 % of the run, then a 10 % window
    reattached = {e["endpoint"]["id"] for e in of_type(events, 1)
                  if outage + 30_000 <= parse_timestamp(e["timestamp"]) <= outage + back + 1_000}
    assert reattached >= {e["endpoint"]["id"] for e in of_type(purged, 15)}


def test_the_home_network_is_german() -> None:
    assert {o.country.iso_code for o in operators() if o.id in (1, 3, 5)} == {"de"}
