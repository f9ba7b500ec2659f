"""The device actions against the real domain services on memory stores: each change lands in the
resource store and stores the API event a person making it would, with the automation as its user; what
cannot work fails for good, an unavailable store is worth a retry, a change already in effect stores
nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cellstream.automations.actions.base import Action, ActionContext, ActionFailed, describe
from cellstream.automations.actions.device import (
    AssignDataQuotaAction,
    AssignSmsQuotaAction,
    DisableEndpointAction,
    EnableEndpointAction,
    SendSmsAction,
    SuspendSimAction,
    device_actions,
)
from cellstream.clock import ManualClock
from cellstream.domain import endpoint_model, quotas, sims
from cellstream.domain.endpoints import EndpointChanges, SimChoice
from cellstream.domain.principal import Principal
from cellstream.errors import StoreUnavailable, Unprocessable
from cellstream.events.codec import encode_event
from cellstream.events.query import EventQuery
from cellstream.network import sms
from cellstream.network.signalling import UpdateLocation
from cellstream.services import Services
from tests.api.conftest import open_test_services, settings_for
from tests.contracts.factory import event

ORG, OTHER_ORG = 1, 2
AUTOMATION = "5d0c6a2e-3f7b-4c1e-9a55-0b7f2f9d4e11"
AUTOMATION_USER = {"name": "Automation Quota guard", "username": f"automation:{AUTOMATION}"}
DAY_MS = 86_400_000
ENDPOINT_ACTIONS: list[Callable[[Services], Action]] = [
    lambda s: DisableEndpointAction(s.connectivity), lambda s: EnableEndpointAction(s.connectivity),
    lambda s: SendSmsAction(s.network), lambda s: AssignDataQuotaAction(s.connectivity, s.clock),
    lambda s: AssignSmsQuotaAction(s.connectivity, s.clock),
]
# Properties each action needs to get as far as the endpoint.
RUNNABLE: dict[str, dict[str, list[str]]] = {"SEND_SMS": {"payload": ["hi"]},
                                             "ASSIGN_DATA_QUOTA": {"volume": ["10"]},
                                             "ASSIGN_SMS_QUOTA": {"volume": ["10"]}}


@dataclass
class Device:
    """An organisation with one endpoint holding an activated SIM, and a spare activated SIM."""

    services: Services
    admin: Principal
    endpoint_id: int
    sim_id: int
    spare_sim_id: int
    imsi: str
    service_profile_id: int


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    opened = await open_test_services(settings_for(tmp_path), ManualClock())
    yield opened
    await opened.close()


async def make_device(services: Services, org: int = ORG) -> Device:
    connectivity = services.connectivity
    await services.auth.ensure_organisation(org, f"Org {org}")
    admin = Principal(org, None, app_token_id=1)
    provisioned = await connectivity.provision_sims(count=2, bic=f"AUTOMATE{org:04d}", org_id=org)
    service = (await connectivity.service_profiles(admin))[0]
    tariff = (await connectivity.tariff_profiles(admin))[0]
    endpoint = await connectivity.create_endpoint(admin, EndpointChanges(
        name="meter-1", status_id=endpoint_model.ENABLED, service_profile_id=service.id,
        tariff_profile_id=tariff.id, sim=SimChoice(provisioned[0].id)))
    return Device(services, admin, endpoint.id, provisioned[0].id, provisioned[1].id, provisioned[0].imsi,
                  service.id)


@pytest.fixture
async def device(services: Services) -> Device:
    return await make_device(services)


def context(*, endpoint_id: int | None = None, sim_id: int | None = None, org: int = ORG,
            properties: dict[str, list[str]] | None = None) -> ActionContext:
    """A firing by event 19 "Quota used up" naming the endpoint and/or SIM given."""
    fired = event(org, id=7001, type=19, org_name=f"Org {org}",
                  endpoint=None if endpoint_id is None else {"id": endpoint_id, "name": "meter-1"},
                  sim=None if sim_id is None else {"id": sim_id})
    return ActionContext(Principal.of_automation(org, AUTOMATION, "Quota guard"), AUTOMATION, "Quota guard",
                         1, fired, encode_event(fired), properties or {})


async def stored(services: Services, org: int = ORG) -> list[dict[str, Any]]:
    page = await services.events.page(EventQuery(org), limit=1000)
    return [msgspec.json.decode(body) for body in page.bodies]


async def by_automation(services: Services) -> list[dict[str, Any]]:
    return [e for e in await stored(services) if is_automation(e)]


def is_automation(stored_event: dict[str, Any]) -> bool:
    """The event names the automation as its user (the codec gives a user without an id the id 0)."""
    user = stored_event.get("user") or {}
    return {k: user.get(k) for k in AUTOMATION_USER} == AUTOMATION_USER


def assert_api_event(stored_event: dict[str, Any], type_id: int, endpoint_id: int) -> None:
    assert stored_event["event_type"]["id"] == type_id
    assert stored_event["event_source"]["description"] == "API"
    assert is_automation(stored_event)
    assert stored_event["endpoint"]["id"] == endpoint_id


# Endpoint status -------------------------------------------------------------------------------------

async def test_disable_then_enable_changes_the_endpoint_and_stores_43_then_42(device: Device) -> None:
    connectivity = device.services.connectivity
    fired = context(endpoint_id=device.endpoint_id)
    assert await DisableEndpointAction(connectivity).run(fired) == f"endpoint {device.endpoint_id} disabled"
    details = await connectivity.get_endpoint(device.admin, device.endpoint_id)
    assert details.endpoint.status_id == endpoint_model.DISABLED
    assert await EnableEndpointAction(connectivity).run(fired) == f"endpoint {device.endpoint_id} enabled"
    details = await connectivity.get_endpoint(device.admin, device.endpoint_id)
    assert details.endpoint.status_id == endpoint_model.ENABLED
    disabled, enabled = await by_automation(device.services)
    assert_api_event(disabled, 43, device.endpoint_id)
    assert_api_event(enabled, 42, device.endpoint_id)
    assert disabled["sim"]["id"] == device.sim_id


async def test_a_status_already_in_effect_succeeds_and_stores_nothing(device: Device) -> None:
    connectivity = device.services.connectivity
    fired = context(endpoint_id=device.endpoint_id)
    before = await stored(device.services)
    message = await EnableEndpointAction(connectivity).run(fired)
    assert message == f"endpoint {device.endpoint_id} already enabled"
    await DisableEndpointAction(connectivity).run(fired)
    assert await DisableEndpointAction(connectivity).run(fired) == \
        f"endpoint {device.endpoint_id} already disabled"
    assert len(await stored(device.services)) == len(before) + 1  # the one real change


# SIM -------------------------------------------------------------------------------------------------

async def test_suspend_sim_suspends_the_endpoints_sim_and_stores_9(device: Device) -> None:
    connectivity = device.services.connectivity
    action = SuspendSimAction(connectivity)
    fired = context(endpoint_id=device.endpoint_id, sim_id=device.sim_id)
    assert await action.run(fired) == f"SIM {device.sim_id} of endpoint {device.endpoint_id} suspended"
    assert (await connectivity.get_sim(device.admin, device.sim_id)).status_id == sims.SUSPENDED
    (suspended,) = await by_automation(device.services)
    assert_api_event(suspended, 9, device.endpoint_id)
    assert suspended["sim"]["id"] == device.sim_id
    again = await action.run(fired)
    assert again == f"SIM {device.sim_id} of endpoint {device.endpoint_id} already suspended"
    assert len(await by_automation(device.services)) == 1


async def test_an_event_about_a_sim_alone_suspends_that_sim(device: Device) -> None:
    connectivity = device.services.connectivity
    message = await SuspendSimAction(connectivity).run(context(sim_id=device.spare_sim_id))
    assert message == f"SIM {device.spare_sim_id} suspended"
    assert (await connectivity.get_sim(device.admin, device.spare_sim_id)).status_id == sims.SUSPENDED
    (suspended,) = await by_automation(device.services)
    assert suspended["event_type"]["id"] == 9
    assert is_automation(suspended)
    assert suspended["sim"]["id"] == device.spare_sim_id


async def test_a_deleted_sim_cannot_be_suspended(device: Device) -> None:
    connectivity = device.services.connectivity
    await connectivity.delete_sim(device.admin, device.spare_sim_id)
    with pytest.raises(ActionFailed, match="deleted") as failed:
        await SuspendSimAction(connectivity).run(context(sim_id=device.spare_sim_id))
    assert failed.value.permanent
    assert await by_automation(device.services) == []


async def test_an_endpoint_without_a_sim_has_none_to_suspend(device: Device) -> None:
    connectivity = device.services.connectivity
    await connectivity.update_endpoint(device.admin, device.endpoint_id, EndpointChanges(sim=None))
    with pytest.raises(ActionFailed, match="holds no SIM") as failed:
        await SuspendSimAction(connectivity).run(context(endpoint_id=device.endpoint_id,
                                                         sim_id=device.sim_id))
    assert failed.value.permanent
    assert (await connectivity.get_sim(device.admin, device.sim_id)).status_id == sims.ACTIVATED


async def test_suspend_needs_an_endpoint_or_a_sim(device: Device) -> None:
    with pytest.raises(ActionFailed, match="names no endpoint and no SIM") as failed:
        await SuspendSimAction(device.services.connectivity).run(context())
    assert failed.value.permanent


# SMS -------------------------------------------------------------------------------------------------

async def attach(device: Device) -> None:
    services = device.services
    verdicts = await services.network.submit([UpdateLocation(
        imsi=device.imsi, ts_ms=services.clock.now_ms(), vlr="491720000095", mcc="262", mnc="02")])
    assert verdicts[0].accepted


async def test_send_sms_delivers_and_keeps_the_message_with_its_usage_and_policy_events(
        device: Device) -> None:
    services = device.services
    await attach(device)
    await services.connectivity.update_service_profile(device.admin, device.service_profile_id,
                                                       {"apply_sms_quota": True})
    # An SMS quota of one message, itself assigned by the automation (58).
    await AssignSmsQuotaAction(services.connectivity, services.clock).run(
        context(endpoint_id=device.endpoint_id, properties={"volume": ["1"]}))
    action = SendSmsAction(services.network)
    fired = context(endpoint_id=device.endpoint_id,
                    properties={"payload": ["Quota used up"], "source_address": ["Acme"]})
    message = await action.run(fired)
    assert message.endswith(f"delivered to endpoint {device.endpoint_id}")
    _, messages, _ = await services.network.list_sms(device.admin, device.endpoint_id)
    (kept,) = messages
    assert message == f"SMS {kept.id} delivered to endpoint {device.endpoint_id}"
    assert (kept.sms_type, kept.status_id, kept.payload) == (sms.MT, sms.DELIVERED, "Quota used up")
    assert (kept.source_address, kept.source_address_type) == ("Acme", sms.ALPHANUMERIC)
    assert kept.sim_id == device.sim_id
    usage = await services.connectivity.resources.usage_after(0, 100)
    assert len(usage) == 1
    assert msgspec.json.decode(usage[0].body)["traffic_type"]["description"] == "SMS"
    used_up = [e for e in await stored(services) if e["event_type"]["id"] == 21]
    assert len(used_up) == 1  # the message took the quota's last SMS
    assert used_up[0]["endpoint"]["id"] == device.endpoint_id
    assert [e["event_type"]["id"] for e in await by_automation(services)] == [58]

    # The quota is used up now: the next message is kept as FAILED and the action fails for good.
    exhausted = "not delivered: SMS quota volume of endpoint is exhausted"
    with pytest.raises(ActionFailed, match=exhausted) as failed:
        await action.run(fired)
    assert failed.value.permanent
    _, messages, _ = await services.network.list_sms(device.admin, device.endpoint_id)
    assert [m.status_id for m in messages] == [sms.FAILED, sms.DELIVERED]


async def test_an_sms_to_a_device_not_in_a_network_fails_for_good(device: Device) -> None:
    services = device.services
    fired = context(endpoint_id=device.endpoint_id,
                    properties={"payload": ["hi"], "source_address": ["4930"]})
    with pytest.raises(ActionFailed, match="not registered in a network") as failed:
        await SendSmsAction(services.network).run(fired)
    assert failed.value.permanent
    _, messages, _ = await services.network.list_sms(device.admin, device.endpoint_id)
    assert [(m.status_id, m.source_address, m.source_address_type) for m in messages] == [
        (sms.FAILED, "4930", sms.NATIONAL)]


async def test_an_sms_to_an_endpoint_without_a_sim_fails_for_good(device: Device) -> None:
    services = device.services
    await services.connectivity.update_endpoint(device.admin, device.endpoint_id, EndpointChanges(sim=None))
    with pytest.raises(ActionFailed, match="no SIM") as failed:
        await SendSmsAction(services.network).run(
            context(endpoint_id=device.endpoint_id, properties={"payload": ["hi"]}))
    assert failed.value.permanent


# Quotas ----------------------------------------------------------------------------------------------

async def test_a_data_quota_is_assigned_then_refilled_each_time_with_56(device: Device) -> None:
    services = device.services
    action = AssignDataQuotaAction(services.connectivity, services.clock)
    properties = {"volume": ["10"], "expiry_days": ["7"], "threshold_percentage": ["20"],
                  "auto_refill": ["true"], "action_on_exhaustion": ["1"]}
    message = await action.run(context(endpoint_id=device.endpoint_id, properties=properties))
    assert message == (f"data quota of endpoint {device.endpoint_id} assigned: 10 MB until "
                       "2026-01-08T00:00:00Z")
    quota = await services.connectivity.get_quota(device.admin, "data", device.endpoint_id)
    assert (quota.volume, quota.threshold_percentage, quota.auto_refill, quota.action_id) == (
        10, 20, True, quotas.BLOCK)
    assert quota.expiry_ms == services.clock.now_ms() + 7 * DAY_MS

    refill = {"volume": ["2.5"]}
    message = await action.run(context(endpoint_id=device.endpoint_id, properties=refill))
    assert message == (f"data quota of endpoint {device.endpoint_id} refilled: 2.5 MB until "
                       "2026-01-31T00:00:00Z")
    quota = await services.connectivity.get_quota(device.admin, "data", device.endpoint_id)
    assert (quota.volume, quota.last_volume_added, quota.auto_refill) == (2.5, 2.5, False)
    assigned, refilled = await by_automation(services)
    assert_api_event(assigned, 56, device.endpoint_id)
    assert_api_event(refilled, 56, device.endpoint_id)
    assert assigned["detail"]["quota"]["autoRefill"] is True
    assert refilled["detail"]["quota"]["volume"] == 2.5


async def test_an_sms_quota_counts_messages_and_needs_no_threshold(device: Device) -> None:
    services = device.services
    action = AssignSmsQuotaAction(services.connectivity, services.clock)
    properties = {"volume": ["100"], "action_on_exhaustion": ["1"]}
    message = await action.run(context(endpoint_id=device.endpoint_id, properties=properties))
    assert message.startswith(f"SMS quota of endpoint {device.endpoint_id} assigned: 100 SMS until ")
    quota = await services.connectivity.get_quota(device.admin, "sms", device.endpoint_id)
    assert (quota.volume, quota.threshold_percentage) == (100, 0)
    (assigned,) = await by_automation(services)
    assert_api_event(assigned, 58, device.endpoint_id)
    assert assigned["description"].startswith("SMS quota assigned with volume of 100 SMS")


# Failures --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", ENDPOINT_ACTIONS)
async def test_an_event_without_an_endpoint_fails_for_good(device: Device,
                                                           make: Callable[[Services], Action]) -> None:
    action = make(device.services)
    with pytest.raises(ActionFailed, match="names no endpoint") as failed:
        await action.run(context(sim_id=device.sim_id, properties=RUNNABLE.get(action.type)))
    assert failed.value.permanent
    assert await by_automation(device.services) == []


@pytest.mark.parametrize("make", [*ENDPOINT_ACTIONS, lambda s: SuspendSimAction(s.connectivity)])
async def test_a_gone_or_foreign_endpoint_fails_for_good(device: Device,
                                                          make: Callable[[Services], Action]) -> None:
    foreign = await make_device(device.services, OTHER_ORG)
    action = make(device.services)
    for endpoint_id in (9999, foreign.endpoint_id):
        with pytest.raises(ActionFailed, match=f"endpoint {endpoint_id} not found") as failed:
            await action.run(context(endpoint_id=endpoint_id, properties=RUNNABLE.get(action.type)))
        assert failed.value.permanent
    assert await by_automation(device.services) == []
    assert [e for e in await stored(device.services, OTHER_ORG) if e.get("user")] == []


class Unavailable:
    """A resource store that cannot be reached just now."""

    async def view(self, work: Any) -> Any:
        raise StoreUnavailable("database is locked")

    async def transact(self, work: Any) -> Any:
        raise StoreUnavailable("database is locked")


@pytest.mark.parametrize("make", [*ENDPOINT_ACTIONS, lambda s: SuspendSimAction(s.connectivity)])
async def test_an_unavailable_store_is_worth_a_retry(device: Device, monkeypatch: pytest.MonkeyPatch,
                                                     make: Callable[[Services], Action]) -> None:
    monkeypatch.setattr(device.services.connectivity, "resources", Unavailable())
    monkeypatch.setattr(device.services.network, "resources", Unavailable())
    action = make(device.services)
    with pytest.raises(ActionFailed, match="store unavailable: database is locked") as failed:
        await action.run(context(endpoint_id=device.endpoint_id, properties=RUNNABLE.get(action.type)))
    assert not failed.value.permanent


async def test_properties_that_no_longer_pass_fail_for_good_at_run_time(device: Device) -> None:
    services = device.services
    with pytest.raises(ActionFailed, match="misconfigured: volume") as failed:
        await AssignDataQuotaAction(services.connectivity, services.clock).run(
            context(endpoint_id=device.endpoint_id, properties={"volume": ["-1"]}))
    assert failed.value.permanent
    assert await by_automation(services) == []


# Configuration ---------------------------------------------------------------------------------------

def every_action(services: Services) -> dict[str, Action]:
    return {a.type: a for a in device_actions(services.connectivity, services.network, services.clock)}


@pytest.mark.parametrize(("type_", "properties", "field"), [
    ("DISABLE_ENDPOINT", {"payload": ["x"]}, "payload"),
    ("SUSPEND_SIM", {"volume": ["1"]}, "volume"),
    ("SEND_SMS", {}, "payload"),
    ("SEND_SMS", {"payload": [""]}, "payload"),
    ("SEND_SMS", {"payload": ["x" * 161]}, "payload"),
    ("SEND_SMS", {"payload": ["a", "b"]}, "payload"),
    ("SEND_SMS", {"payload": ["x"], "source_address": ["TooLongSenderName"]}, "source_address"),
    ("SEND_SMS", {"payload": ["x"], "source_address": ["+49 30"]}, "source_address"),
    ("SEND_SMS", {"payload": ["x"], "recipient": ["y"]}, "recipient"),
    ("ASSIGN_DATA_QUOTA", {}, "volume"),
    ("ASSIGN_DATA_QUOTA", {"volume": ["0"]}, "volume"),
    ("ASSIGN_DATA_QUOTA", {"volume": ["lots"]}, "volume"),
    ("ASSIGN_DATA_QUOTA", {"volume": ["nan"]}, "volume"),
    ("ASSIGN_DATA_QUOTA", {"volume": ["1"], "expiry_days": ["0"]}, "expiry_days"),
    ("ASSIGN_DATA_QUOTA", {"volume": ["1"], "expiry_days": ["1.5"]}, "expiry_days"),
    ("ASSIGN_DATA_QUOTA", {"volume": ["1"], "expiry_days": ["99999"]}, "expiry_days"),
    ("ASSIGN_DATA_QUOTA", {"volume": ["1"], "action_on_exhaustion": ["3"]}, "action_on_exhaustion"),
    ("ASSIGN_DATA_QUOTA", {"volume": ["1"], "threshold_percentage": ["101"]}, "threshold_percentage"),
    ("ASSIGN_DATA_QUOTA", {"volume": ["1"], "auto_refill": ["maybe"]}, "auto_refill"),
    ("ASSIGN_SMS_QUOTA", {"volume": ["1.5"]}, "volume"),
])
async def test_check_names_the_property_at_fault(services: Services, type_: str,
                                                 properties: dict[str, list[str]], field: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        every_action(services)[type_].check(properties, [])
    assert [p.field for p in refused.value.problems] == [field]


@pytest.mark.parametrize(("type_", "properties"), [
    ("DISABLE_ENDPOINT", {}), ("ENABLE_ENDPOINT", {}), ("SUSPEND_SIM", {}),
    ("SEND_SMS", {"payload": ["x" * 160]}), ("SEND_SMS", {"payload": ["hi"], "source_address": ["Acme"]}),
    ("SEND_SMS", {"payload": ["hi"], "source_address": ["4915112345678"]}),
    ("ASSIGN_DATA_QUOTA", {"volume": ["0.5"], "expiry_days": ["1"], "action_on_exhaustion": ["2"],
                           "threshold_percentage": ["0"], "auto_refill": ["0"]}),
    ("ASSIGN_SMS_QUOTA", {"volume": ["10"], "threshold_percentage": ["12.5"], "auto_refill": ["TRUE"]}),
])
async def test_check_accepts_good_configurations(services: Services, type_: str,
                                           properties: dict[str, list[str]]) -> None:
    every_action(services)[type_].check(properties, [])


async def test_device_actions_have_no_recipients(services: Services) -> None:
    with pytest.raises(Unprocessable) as refused:
        every_action(services)["DISABLE_ENDPOINT"].check({}, ["ops@example.com"])
    assert refused.value.problems[0].field == "recipients"


async def test_device_actions_describe_themselves(services: Services) -> None:
    actions = device_actions(services.connectivity, services.network, services.clock)
    assert [a.type for a in actions] == ["DISABLE_ENDPOINT", "ENABLE_ENDPOINT", "SUSPEND_SIM", "SEND_SMS",
                                         "ASSIGN_DATA_QUOTA", "ASSIGN_SMS_QUOTA"]
    assert len({a.id for a in actions}) == len(actions)
    for action in actions:
        described = describe(action)
        assert described["status"] == "ACTIVE"
        assert described["requiredEventOutputParameters"] == (
            ["sim.id"] if action.type == "SUSPEND_SIM" else ["endpoint.id"])
    quota = describe(every_action(services)["ASSIGN_DATA_QUOTA"])
    assert quota["configurationProperties"] == ["volume", "expiry_days", "action_on_exhaustion",
                                                "threshold_percentage", "auto_refill"]
