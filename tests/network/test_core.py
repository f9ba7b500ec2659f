"""Signalling → events, state and usage records, in the documented shapes (facts §A.2, §A.3, §E.5)."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec.structs import replace

from cellstream.domain import sims
from cellstream.domain.endpoint_model import Endpoint
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import ACCEPTED
from cellstream.events.timefmt import format_timestamp
from cellstream.network.core import EXTERNAL_TYPES
from cellstream.network.signalling import (
    CreatePdpContext,
    DataUsage,
    DeletePdpContext,
    ExternalEvent,
    PurgeGprsLocation,
    PurgeLocation,
    Sms,
    UpdateGprsLocation,
    UpdateLocation,
)
from cellstream.network.state import NetworkState

from .conftest import World, only

T0 = 1_790_000_000_000
SESSION = "2a4ff039-fbb9-4eaa-b74c-2f0eaafaf624"


def attach(imsi: str, ts: int = T0, mcc: str = "262", mnc: str = "02") -> list[Any]:
    return [UpdateLocation(imsi=imsi, ts_ms=ts, vlr="491720000095", mcc=mcc, mnc=mnc),
            UpdateGprsLocation(imsi=imsi, ts_ms=ts + 1, sgsn="491720000096", sgsn_ip="213.181.60.148",
                               mcc=mcc, mnc=mnc)]


def create(imsi: str, ts: int, session: str = SESSION) -> CreatePdpContext:
    return CreatePdpContext(imsi=imsi, ts_ms=ts, session_id=session, mcc="262", mnc="02",
                            imeisv="4555797980633712", lac=767, ci=6471,
                            sgsn_control_plane_ip_address="234.39.123.228",
                            sgsn_data_plane_ip_address="173.69.12.45",
                            ggsn_control_plane_ip_address="67.185.18.116",
                            ggsn_data_plane_ip_address="225.129.61.136", tx_teid_data_plane=966839357,
                            tx_teid_control_plane=397629956, rx_teid=18195957)


async def test_registration_stores_update_location_events_with_the_visited_operator(world: World) -> None:
    imsi = world.imsis[0]
    assert await world.send(*attach(imsi)) == [ACCEPTED, ACCEPTED]
    first, second = await world.stored_network()
    assert first["event_type"] == {"id": 1, "description": "Update location"}
    assert first["event_source"] == {"id": 0, "description": "Network"}
    assert first["description"] == (f"New location received from VLR for IMSI='{imsi}', now attached to "
                                    "VLR='491720000095'.")
    assert first["detail"]["name"] == "Vodafone"
    assert first["detail"]["country"]["iso_code"] == "de"
    assert first["detail"]["tapcode"] == [{"id": 2, "tapcode": "DEUD2"}]
    assert first["timestamp"] == format_timestamp(T0)
    assert first["endpoint"]["id"] == world.endpoint_ids[0]
    assert first["imsi"]["imsi"] == imsi
    assert second["event_type"]["id"] == 2
    assert second["description"].endswith("now attached to SGSN='491720000096', IP='213.181.60.148'.")
    state = await world.resources.view(lambda tx: tx.find(Sim, "imsi", imsi))
    assert state is not None
    net = await world.resources.view(lambda tx: tx.get(NetworkState, state.id))
    assert net is not None
    assert net.vlr == "491720000095"
    assert net.sgsn == "491720000096"


async def test_a_data_session_stores_3_and_5_with_usage_records_every_45_s(world: World) -> None:
    imsi = world.imsis[0]
    await world.send(*attach(imsi))
    assert (await world.send(create(imsi, T0 + 10)))[0].accepted
    reports = [DataUsage(imsi=imsi, ts_ms=T0 + 10 + s * 1000, session_id=SESSION, rx_bytes=30_000,
                         tx_bytes=10_000)
               for s in range(1, 91)]  # 40 KB a second for 90 s
    verdicts = await world.send(*reports)
    assert all(v.accepted for v in verdicts)
    assert (await world.send(DeletePdpContext(imsi=imsi, ts_ms=T0 + 100_010, session_id=SESSION,
                                              rx_bytes=3_000, tx_bytes=1_000)))[0].accepted
    events = await world.stored_network()
    assert [e["event_type"]["id"] for e in events] == [1, 2, 3, 5]
    created, deleted = events[2], events[3]
    assert created["description"] == ("New PDP Context successfully activated with SGSN CP=234.39.123.228, "
                                      "DP=173.69.12.45.")
    assert created["detail"]["session_id"] == SESSION
    assert created["detail"]["pdp_context"]["tariff_profile_id"] is not None
    assert "tariff_id" not in deleted["detail"]["pdp_context"]
    assert deleted["detail"]["volume"] == {"total": 3.604, "rx": 2.703, "tx": 0.901}
    records = await world.usage()
    # every 45 s once ≥ 100 KB: at 45 s and 90 s of reports, then the rest at close
    assert [r["volume"]["total"] for r in records] == [1.8, 1.8, 0.004]
    assert sum(r["volume"]["total"] for r in records) == deleted["detail"]["volume"]["total"]
    first = records[0]
    assert first["traffic_type"] == {"id": 5, "description": "Data"}
    assert first["session_id"] == SESSION
    assert first["imsi"] == imsi
    assert first["operator"]["name"] == "Vodafone"
    assert first["operator"]["country"]["mcc"] == "262"
    assert first["tariff"]["ratezone"] == {"id": 1, "name": "Home"}
    assert first["cost"] == round(1.8 * 0.01, 8)
    assert first["start_timestamp"] == format_timestamp(T0 + 10)[:19] + "Z"
    assert [r["id"] for r in records] == [1, 2, 3]


async def test_roaming_costs_the_roaming_rate(world: World) -> None:
    imsi = world.imsis[0]
    await world.send(*attach(imsi, mcc="234", mnc="15"))  # Vodafone UK
    await world.send(replace(create(imsi, T0 + 10), mcc="234", mnc="15"))
    await world.send(DeletePdpContext(imsi=imsi, ts_ms=T0 + 20, session_id=SESSION, rx_bytes=1_000_000))
    record = only(await world.usage())
    assert record["tariff"]["ratezone"] == {"id": 2, "name": "Roaming"}
    assert record["cost"] == 0.05


async def test_purges_store_15_and_16_and_end_open_sessions(world: World) -> None:
    imsi = world.imsis[0]
    await world.send(*attach(imsi), create(imsi, T0 + 10))
    await world.send(PurgeGprsLocation(imsi=imsi, ts_ms=T0 + 20), PurgeLocation(imsi=imsi, ts_ms=T0 + 30),
                     PurgeLocation(imsi=imsi, ts_ms=T0 + 40))
    events = await world.stored_network()
    assert [e["event_type"]["id"] for e in events] == [1, 2, 3, 5, 16, 15]  # a second purge: nothing to purge
    assert events[-1]["description"] == f"VLR location information has been purged for IMSI='{imsi}'."
    assert events[-2]["description"] == f"SGSN location information has been purged for IMSI='{imsi}'."
    assert len(await world.usage()) == 1
    assert not (await world.send(DataUsage(imsi=imsi, ts_ms=T0 + 50, session_id=SESSION, rx_bytes=1,
                                           tx_bytes=1)))[0].accepted


async def test_an_unknown_imsi_is_refused_and_stores_nothing(world: World) -> None:
    verdict = only(await world.send(*attach("999990000000001")[:1]))
    assert not verdict.accepted
    assert verdict.reason == "unknown IMSI"
    assert await world.stored_network() == []


async def test_a_deleted_or_suspended_sim_and_a_disabled_endpoint_are_refused_with_a_warning(
        world: World) -> None:
    first, second = world.imsis[0], world.imsis[1]

    async def set_sim(imsi: str, status: int) -> None:
        def work(tx: Any) -> None:
            sim = tx.find(Sim, "imsi", imsi)
            tx.put(replace(sim, status_id=status))
        await world.change(work)

    await set_sim(first, sims.SUSPENDED)
    refused = only(await world.send(attach(first)[0]))
    assert not refused.accepted
    assert "suspended" in (refused.reason or "")
    await world.change(lambda tx: tx.put(replace(tx.get(Endpoint, world.endpoint_ids[1]), status_id=1)))
    refused = only(await world.send(attach(second)[1]))
    assert not refused.accepted
    assert "disabled" in (refused.reason or "")
    events = await world.stored_network()
    assert [(e["event_type"]["id"], e["event_severity"]["description"])
            for e in events] == [(1, "Warn"), (2, "Warn")]
    assert events[0]["description"].startswith(
        "Location update rejected from VLR 491720000095 (Vodafone) for IMSI")


async def test_an_unknown_network_is_refused(world: World) -> None:
    verdict = only(await world.send(attach(world.imsis[0], mcc="001", mnc="01")[0]))
    assert not verdict.accepted
    assert only(await world.stored_network())["event_severity"]["id"] == 1


async def test_sms_become_usage_records(world: World) -> None:
    imsi = world.imsis[0]
    await world.send(*attach(imsi))
    await world.send(Sms(imsi=imsi, ts_ms=T0 + 5, direction="MO", peer="4915112345678"),
                     Sms(imsi=imsi, ts_ms=T0 + 6, direction="MT", peer="4915112345678"))
    mo, mt = await world.usage()
    assert mo["traffic_type"] == {"id": 6, "description": "SMS"}
    assert mo["volume"] == {"total": 1, "rx": 1, "tx": 0}
    assert mo["cost"] == 0.05
    assert mt["volume"] == {"total": 1, "rx": 0, "tx": 1}
    assert mt["cost"] == 0.0
    assert mo["session_id"] != mt["session_id"]


async def test_sessions_need_a_packet_registration_and_unique_ids(world: World) -> None:
    imsi = world.imsis[0]
    assert not only(await world.send(create(imsi, T0))).accepted
    await world.send(*attach(imsi))
    assert only(await world.send(create(imsi, T0 + 10))).accepted
    assert not only(await world.send(create(imsi, T0 + 11))).accepted


async def test_external_events_of_known_organisations_are_stored_as_given(world: World) -> None:
    event = {"timestamp": format_timestamp(T0), "event_type": {"id": 30}, "organisation": {"id": 1},
             "description": "OpenVPN client (re-)authenticated successfully",
             "detail": {"region": "eu-west-1", "protocol": "udp"}}
    ok, wrong_type, unknown_org = await world.send(
        ExternalEvent(imsi="", ts_ms=T0, event=event),
        ExternalEvent(imsi="", ts_ms=T0, event={**event, "event_type": {"id": 3}}),
        ExternalEvent(imsi="", ts_ms=T0, event={**event, "organisation": {"id": 77}}))
    assert ok.accepted
    assert not wrong_type.accepted
    assert not unknown_org.accepted
    assert only(await world.stored_network())["event_type"]["id"] == 30


@pytest.mark.parametrize("type_id", sorted(EXTERNAL_TYPES))
async def test_every_cloudconnect_and_openvpn_type_arrives_as_an_external_record(world: World,
                                                                                 type_id: int) -> None:
    event = {"timestamp": format_timestamp(T0), "event_type": {"id": type_id}, "organisation": {"id": 1},
             "description": f"reported by the platform outside ({type_id})",
             "detail": {"region": "eu-west-1"}}
    assert only(await world.send(ExternalEvent(imsi="", ts_ms=T0, event=event))).accepted
    stored = only(await world.stored_network())
    assert stored["event_type"]["id"] == type_id
    assert stored["organisation"]["id"] == 1
