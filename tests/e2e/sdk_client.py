"""Drive Cellstream with emnify's own Python SDK (`emnify-sdk`), the way a user of the SDK would.

Run by `tests/e2e/test_emnify_sdk.py` with the interpreter of a separate virtual environment that holds
`emnify-sdk` (it needs pydantic 1, which Cellstream's own environment cannot have). Nothing here imports
Cellstream. Settings come from the environment:

- `EMNIFY_SDK_API_ENDPOINT_URL`: the SDK's own setting, `http://127.0.0.1:PORT/api`
- `SDK_APP_TOKEN`: an application token of the organisation
- `SDK_SERVICE_PROFILE_ID`, `SDK_TARIFF_PROFILE_ID`: the organisation's profiles (a user reads them
  from the portal; the SDK has no call for them)
- `SDK_ORG_ID`: the organisation's id
- `SDK_BIC`: a batch identification code the organisation has not registered yet
- `SDK_CELLSTREAM_URL`, `SDK_SERVICE_TOKEN`: where the simulated mobile network hands over signalling, so
  the device can register in a network like a real one (this part does not use the SDK)

Every step runs even after another failed (a step whose inputs are missing fails with that reason). The
script prints one JSON object, `{"steps": {name: result}, "errors": [{step, error, message}]}`, and
exits 1 when any step failed.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import requests
from emnify import EMnify
from emnify import constants as emnify_constants
from emnify.errors import EMnifyBaseException, UnauthorisedException, ValidationErrorException

APP_TOKEN = os.environ["SDK_APP_TOKEN"]
SERVICE_PROFILE_ID = int(os.environ["SDK_SERVICE_PROFILE_ID"])
TARIFF_PROFILE_ID = int(os.environ["SDK_TARIFF_PROFILE_ID"])
BIC = os.environ["SDK_BIC"]
ORG_ID = int(os.environ["SDK_ORG_ID"])

emnify = EMnify(APP_TOKEN)
state: dict[str, Any] = {}
steps: dict[str, Any] = {}
errors: list[dict[str, str]] = []


class Missing(Exception):
    """A step's input was not produced because an earlier step failed."""


def need(key: str) -> Any:
    if key not in state:
        raise Missing(f"needs {key!r}, which an earlier step did not produce")
    return state[key]


def step(name: str, action: Callable[[], Any]) -> None:
    try:
        steps[name] = action()
    except Exception as exc:  # every failure is reported, the run goes on
        steps[name] = None
        errors.append({"step": name, "error": type(exc).__name__, "message": str(exc)[:2000],
                       "where": "" if isinstance(exc, Missing | EMnifyBaseException) else
                       traceback.format_exc(limit=-3)[-1500:]})


def expect_error(kind: type[Exception], action: Callable[[], Any]) -> dict[str, str]:
    """A call the SDK must refuse (or that fails inside the SDK whatever the server says)."""
    try:
        result = action()
        if hasattr(result, "__next__"):
            result = list(result)
    except kind as exc:
        return {"error": type(exc).__name__, "message": str(exc)}
    raise AssertionError(f"expected {kind.__name__}, got {result!r}")


def status_of(obj: Any) -> str | None:
    status = getattr(obj, "status", None)
    if status is None:
        return None
    return status.description if hasattr(status, "description") else status.get("description")


def sims_json(sims: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"id": s.id, "iccid": s.iccid, "status": status_of(s),
             "device": None if s.device is None else s.device.id} for s in sims]


def device_json(device: Any) -> dict[str, Any]:
    sim = device.sim
    return {"id": device.id, "name": device.name, "tags": device.tags, "status": status_of(device),
            "service_profile": device.service_profile.id, "tariff_profile": device.tariff_profile.id,
            "ip_address": device.ip_address,
            "sim": None if sim is None else {"id": sim.id, "status": status_of(sim)}}


# --- authentication ---------------------------------------------------------------------------------

def bad_token() -> dict[str, str]:
    stranger = EMnify("not-an-application-token")
    return expect_error(UnauthorisedException, lambda: stranger.devices.get_devices_list())


step("authenticate_with_a_bad_token", bad_token)
step("authenticate", lambda: {"devices": len(list(emnify.devices.get_devices_list())),
                              "got_auth_token": emnify.token is not None})

# --- operators --------------------------------------------------------------------------------------


def operators() -> dict[str, Any]:
    found = list(emnify.operator.get_operators())
    state["operators"] = found
    german = [o for o in found if o.country and o.country.mcc == "262"]
    return {"count": len(found), "first": {"id": found[0].id, "name": found[0].name,
                                           "country": found[0].country.name if found[0].country else None,
                                           "mnc": [m.mnc for m in found[0].mnc or []]},
            "german": [o.name for o in german]}


step("operators", operators)

# --- SIMs -------------------------------------------------------------------------------------------


def sim_list() -> list[dict[str, Any]]:
    found = list(emnify.sim.get_sim_list())
    state["sims"] = found
    return sims_json(found)


def sims_without_device() -> list[dict[str, Any]]:
    found = list(emnify.sim.get_sim_list(without_device=True))
    state["free_activated"] = [s for s in found if s.status and s.status.id == 1]
    state["free_issued"] = [s for s in found if s.status and s.status.id == 0]
    return sims_json(found)


def status_filter_bug() -> dict[str, str]:
    """SDK bug: `SimFilter.status` is annotated with the builtin `id`, so pydantic refuses every value but
    None — filtering SIMs by status (as the SDK's own example does) fails before any request is sent."""
    return expect_error(ValueError, lambda: emnify.sim.get_sim_filter_model(
        status=emnify_constants.SimStatusesID.ACTIVATED_ID.value))


def sims_filtered() -> dict[str, Any]:
    sim = emnify.sim
    first = need("sims")[0]
    ours = sim.get_sim_filter_model(customer_org=ORG_ID)
    others = sim.get_sim_filter_model(customer_org=ORG_ID + 1)
    sort = sim.get_sim_sort_enum
    return {
        "status_filter": status_filter_bug(),
        "by_iccid": sims_json(sim.get_sim_list(filter_model=sim.get_sim_filter_model(iccid=first.iccid))),
        "by_customer_org": len(list(sim.get_sim_list(filter_model=ours))),
        # the SDK glues its own `endpoint:null` to the filter without a comma: `customer_org:1endpoint:null`
        "by_customer_org_without_device": sims_json(sim.get_sim_list(filter_model=ours, without_device=True)),
        "by_other_org": len(list(sim.get_sim_list(filter_model=others))),
        "sorted_by_iccid": [s.iccid for s in sim.get_sim_list(sort_enum=sort.iccid.value)],
        "sorted_by_customer_org": len(list(sim.get_sim_list(sort_enum=sort.customer_org.value))),
    }


def register_batch() -> list[dict[str, Any]]:
    registered = emnify.sim.register_sim(bic=BIC)
    registered = registered if isinstance(registered, list) else [registered]
    state["registered"] = registered
    return [{"id": s.id, "iccid": s.iccid} for s in registered]


def register_again() -> dict[str, str]:
    return expect_error(ValidationErrorException, lambda: emnify.sim.register_sim(bic=BIC))


def retrieve_registered() -> dict[str, Any]:
    sim = emnify.sim.retrieve_sim(need("registered")[0].id)
    return {"id": sim.id, "iccid": sim.iccid, "status": status_of(sim), "imsi": sim.imsi,
            "msisdn": sim.msisdn}


def suspend_and_activate() -> list[str | None]:
    sim_id = need("registered")[-1].id
    seen = []
    emnify.sim.suspend_sim(sim_id=sim_id)
    seen.append(status_of(emnify.sim.retrieve_sim(sim_id)))
    emnify.sim.activate_sim(sim_id=sim_id)
    seen.append(status_of(emnify.sim.retrieve_sim(sim_id)))
    update = emnify.sim.get_sim_update_model(status=emnify_constants.SimStatusesDict.SUSPENDED_DICT.value)
    emnify.sim.update_sim(sim_id=sim_id, sim=update)
    seen.append(status_of(emnify.sim.retrieve_sim(sim_id)))
    return seen


step("sim_list", sim_list)
step("sim_list_without_device", sims_without_device)
step("sim_list_filtered_and_sorted", sims_filtered)
step("register_sim_batch", register_batch)
step("register_sim_batch_again", register_again)
step("retrieve_sim", retrieve_registered)
step("suspend_activate_update_sim", suspend_and_activate)

# --- devices ----------------------------------------------------------------------------------------

devices = emnify.devices
service_profile = devices.service_profile_model(id=SERVICE_PROFILE_ID)
tariff_profile = devices.tariff_profile_model(id=TARIFF_PROFILE_ID)


def mass_sim_activation() -> dict[str, Any]:
    """The SDK's `mass_sim_activation` example: a device per registered SIM, created Enabled (the SDK turns
    that into Disabled for a SIM whose status it does not know), then enabled, then sent an SMS."""
    sim = need("registered")[0]
    model = devices.device_create_model(
        tariff_profile=tariff_profile, service_profile=service_profile, sim=sim, name=f"Device({sim.iccid})",
        status=devices.status_model(**emnify_constants.DeviceStatuses.ENABLED_DICT.value))
    device = devices.retrieve_device(device_id=devices.create_device(device=model))
    created = device_json(device)
    devices.change_status(enable=True, device=device)
    sms = devices.sms_create_model(payload='AT+CGDCONT=1,"IP","em",,', source_address="12345")
    return {"created": created, "enabled": device_json(devices.retrieve_device(device_id=device.id)),
            "sms": devices.send_sms(device=device, sms=sms)}


def create_with_sim() -> dict[str, Any]:
    sim = need("free_activated")[0]
    model = devices.device_create_model(
        name="sdk-device", tags="sdk,e2e", status=devices.status_model(id=0), service_profile=service_profile,
        tariff_profile=tariff_profile, sim=sim)
    device_id = devices.create_device(device=model)
    state["device_id"] = device_id
    state["device_sim"] = sim
    return {"id": device_id, "sent": model.dict(exclude_none=True)}


def retrieve() -> dict[str, Any]:
    device = devices.retrieve_device(device_id=need("device_id"))
    state["device"] = device
    return device_json(device)


def update() -> dict[str, Any]:
    device_id = need("device_id")
    devices.update_device(device_id=device_id, device=devices.device_update_model(name="sdk-device-renamed",
                                                                                  tags="arduino"))
    return device_json(devices.retrieve_device(device_id=device_id))


def disable_then_enable() -> list[dict[str, Any]]:
    seen = []
    devices.change_status(need("device"), disable=True)
    seen.append(device_json(devices.retrieve_device(device_id=state["device_id"])))
    devices.change_status(state["device_id"], enable=True)  # by id: the SDK retrieves it first
    seen.append(device_json(devices.retrieve_device(device_id=state["device_id"])))
    devices.change_status(state["device_id"], enable=True)  # again: the SIM is Activated already
    seen.append(device_json(devices.retrieve_device(device_id=state["device_id"])))
    return seen


def device_lists() -> dict[str, Any]:
    enabled = devices.get_device_filter_model(status=emnify_constants.DeviceStatuses.ENABLED_ID.value)
    by_update = devices.get_device_sort_enum.LAST_UPDATED.value
    return {
        "all": [device_json(d) for d in devices.get_devices_list()],
        "enabled": [d.id for d in devices.get_devices_list(filter_model=enabled)],
        "enabled_with_sim": [d.id for d in devices.get_devices_list(filter_model=enabled) if d.sim],
        "by_name": [d.id for d in devices.get_devices_list(
            filter_model=devices.get_device_filter_model(name="sdk-device-renamed"))],
        "sorted_by_last_updated": [d.id for d in devices.get_devices_list(sort_enum=by_update)],
    }


def create_without_sim() -> dict[str, Any]:
    model = devices.device_create_model(name="sdk-device-2", status=devices.status_model(id=0),
                                        service_profile=service_profile, tariff_profile=tariff_profile)
    device_id = devices.create_device(model)
    state["device2_id"] = device_id
    return device_json(devices.retrieve_device(device_id=device_id))


def assign_issued_sim() -> dict[str, Any]:
    device_id, sim = need("device2_id"), need("free_issued")[0]
    devices.assign_sim(device_id=device_id, sim_id=sim.id)
    return device_json(devices.retrieve_device(device_id=device_id))


def activate_assigned() -> dict[str, Any]:
    devices.change_status(need("device2_id"), enable=True)
    return device_json(devices.retrieve_device(device_id=state["device2_id"]))


def assign_and_enable() -> dict[str, str]:
    """SDK bug: assign_sim(enable=True) enables the device before it assigns the SIM, then raises "Can`t
    enable device without sim card" for a device that has none yet — whatever the server answers."""
    model = devices.device_create_model(name="sdk-device-3", status=devices.status_model(id=0),
                                        service_profile=service_profile, tariff_profile=tariff_profile)
    device_id = devices.create_device(model)
    sim = need("free_issued")[1]
    return expect_error(ValidationErrorException,
                        lambda: devices.assign_sim(device_id=device_id, sim_id=sim.id, enable=True))


step("mass_sim_activation_example", mass_sim_activation)
step("create_device_with_sim", create_with_sim)
step("retrieve_device", retrieve)
step("update_device", update)
step("change_status", disable_then_enable)
step("device_lists", device_lists)
step("create_device_without_sim", create_without_sim)
step("assign_issued_sim", assign_issued_sim)
step("enable_device_with_assigned_sim", activate_assigned)
step("assign_sim_and_enable", assign_and_enable)

# --- the network: registration, connectivity, SMS, events, blacklist -------------------------------


def attach() -> list[Any]:
    """The simulated network registers the device's SIM in Telekom Germany (262 01); not the SDK."""
    sim = emnify.sim.retrieve_sim(need("device_sim").id)
    now = int(time.time() * 1000)
    records = [{"kind": "update_location", "imsi": sim.imsi, "ts_ms": now, "vlr": "491720000095",
                "mcc": "262", "mnc": "01"},
               {"kind": "update_gprs_location", "imsi": sim.imsi, "ts_ms": now + 1, "sgsn": "491720000096",
                "sgsn_ip": "192.0.2.1", "mcc": "262", "mnc": "01"}]
    answer = requests.post(f"{os.environ['SDK_CELLSTREAM_URL']}/internal/v1/signalling", json=records,
                           headers={"Authorization": f"Bearer {os.environ['SDK_SERVICE_TOKEN']}"}, timeout=30)
    answer.raise_for_status()
    return [v["accepted"] for v in answer.json()["verdicts"]]


def connectivity() -> dict[str, Any]:
    status = devices.get_device_connectivity_status(device_id=need("device_id"))
    return {"status": status.status.description if status.status else None,
            "location": status.location, "services": status.services}


def send_sms() -> dict[str, Any]:
    device = devices.retrieve_device(device_id=need("device_id"))
    sent = devices.send_sms(device=device, sms=devices.sms_create_model(payload="hello from the SDK",
                                                                         source_address="12345"))
    alnum = devices.sms_create_model(payload="config", source_address="Fleet",
                                     source_address_type={"id": 208})
    return {"national": sent, "alphanumeric": devices.send_sms(device=device.id, sms=alnum)}


def send_sms_without_sender() -> Any:
    """The SDK's own example misspells `source_adress`, so the SDK sends no sender at all."""
    device_id = need("device_id")
    sms = devices.sms_create_model(payload='AT+CGDCONT=1,"IP","em",,', source_adress="city_scooters_admin")
    return devices.send_sms(device=device_id, sms=sms)


def sms_list() -> list[dict[str, Any]]:
    return [{"id": m.id, "payload": m.payload, "status": (m.status or {}).get("description"),
             "source_address": m.source_address}
            for m in devices.get_device_sms_list(device=need("device_id"))]


def events() -> dict[str, Any]:
    found = list(devices.get_device_events_list(need("device_id")))
    return {"count": len(found), "types": sorted({e.event_type.description for e in found if e.event_type}),
            "first": None if not found else {"id": found[0].id, "timestamp": found[0].timestamp,
                                             "severity": found[0].event_severity.description
                                             if found[0].event_severity else None}}


def blacklist() -> dict[str, Any]:
    device_id = need("device_id")
    chosen = [o.id for o in need("operators")[:2]]
    for operator_id in chosen:
        devices.add_device_blacklist_operator(device_id=device_id, operator_id=operator_id)
    listed = [{"id": o.id, "name": o.name, "mnc": [m.mnc for m in o.mnc or []]}
              for o in devices.get_device_operator_blacklist(device_id=device_id)]
    again = expect_error(ValidationErrorException, lambda: devices.add_device_blacklist_operator(
        device_id=device_id, operator_id=chosen[0]))
    removed = devices.delete_device_blacklist_operator(device_id=device_id, operator_id=chosen[-1])
    after = [o.id for o in devices.get_device_operator_blacklist(device_id=device_id)]
    return {"added": chosen, "listed": listed, "add_again": again, "removed": removed, "after": after}


def reset() -> dict[str, Any]:
    device_id = need("device_id")
    return {"data": devices.reset_connectivity_data(device_id=device_id),
            "network": devices.reset_connectivity_network(device_id=device_id)}


def unknown_device() -> dict[str, str]:
    return expect_error(ValidationErrorException,
                        lambda: devices.get_device_connectivity_status(device_id=999999))


step("attach_to_network", attach)
step("connectivity_attached", connectivity)
step("send_sms", send_sms)
step("send_sms_like_the_sdk_example", send_sms_without_sender)
step("sms_list", sms_list)
step("events", events)
step("operator_blacklist", blacklist)
step("reset_connectivity", reset)
step("connectivity_after_reset", connectivity)
step("connectivity_of_unknown_device", unknown_device)

# --- delete: the SDK releases the SIM first ---------------------------------------------------------


def delete() -> dict[str, Any]:
    device_id, sim = need("device_id"), need("device_sim")
    before = [d.id for d in devices.get_devices_list()]
    deleted = devices.delete_device(device_id=device_id)
    after = [d.id for d in devices.get_devices_list()]
    released = emnify.sim.retrieve_sim(sim.id)
    return {"deleted": deleted, "before": before, "after": after, "sim_status": status_of(released),
            "sim_device": None if released.device is None else released.device.id}


def retrieve_deleted() -> dict[str, str]:
    device_id = need("device_id")
    return expect_error(ValidationErrorException, lambda: devices.retrieve_device(device_id=device_id))


step("delete_device", delete)
step("retrieve_deleted_device", retrieve_deleted)

print(json.dumps({"steps": steps, "errors": errors}, indent=1, default=str))
sys.exit(1 if errors else 0)
