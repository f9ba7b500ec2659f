"""Actions that change a device: disable or enable the event's endpoint, suspend its SIM, send it an SMS,
assign (or refill) its data or SMS quota (facts §A.4, §H.1, §H.2, §H.4).

They act through the same domain services as the REST API, as the automation's principal, so each change
stores exactly the API event a person making it would store (42/43, 9, 56/58), with the automation as its
user; an SMS goes through the Network source like one sent with POST /api/v1/endpoint/{id}/sms, so its
usage record and any Policy Control events follow from delivery as usual.

A change already in effect (the endpoint is already disabled, the SIM already suspended) is a success that
stores nothing: an automation firing twice must not fill the log with non-changes. What can never work —
the event names no device, the device or SIM is gone, the transition is not allowed — fails for good;
only a store that is unavailable for now is worth retrying.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from cellstream.automations.actions.base import Action, ActionContext, ActionFailed
from cellstream.clock import Clock
from cellstream.domain import quotas, sims
from cellstream.domain.connectivity import Connectivity
from cellstream.domain.endpoint_model import DISABLED, ENABLED, STATUS_NAMES
from cellstream.domain.endpoints import EndpointChanges
from cellstream.domain.quotas import Kind, QuotaRequest
from cellstream.errors import CellstreamError, InvalidInput, NotFound, RetryableError, Unprocessable
from cellstream.events.timefmt import format_timestamp
from cellstream.network import sms
from cellstream.network.service import NetworkService

T = TypeVar("T")
DAY_MS = 86_400_000
DEFAULT_EXPIRY_DAYS = 30
# A bound only so that the expiry stays a date the event text can print (year 9999 is far beyond it).
MAX_EXPIRY_DAYS = 36_500
ENDPOINT_ID = ("endpoint.id",)
QUOTA_PROPERTIES = ("volume", "expiry_days", "action_on_exhaustion", "threshold_percentage", "auto_refill")


# What an event names ---------------------------------------------------------------------------------

def _ref_id(context: ActionContext, name: str) -> int | None:
    ref = getattr(context.event, name)
    value = None if ref is None else ref.get("id")
    return value if isinstance(value, int) else None


def _endpoint_id(context: ActionContext) -> int:
    endpoint_id = _ref_id(context, "endpoint")
    if endpoint_id is None:
        raise ActionFailed("the event names no endpoint", permanent=True)
    return endpoint_id


async def _domain(call: Awaitable[T]) -> T:
    """The domain's answer, or its error as the action's outcome: only an unavailable store is retried."""
    try:
        return await call
    except RetryableError as exc:
        raise ActionFailed(f"store unavailable: {exc.message}") from exc
    except InvalidInput as exc:  # the change is not allowed in the state the device is in
        raise ActionFailed("; ".join(p.problem for p in exc.problems), permanent=True) from exc
    except CellstreamError as exc:  # gone (404), contradicts what is stored (409), corrupt store
        raise ActionFailed(exc.message, permanent=True) from exc


# Properties ------------------------------------------------------------------------------------------

def _only(properties: Mapping[str, list[str]], recipients: list[str], allowed: tuple[str, ...],
          action: str) -> None:
    for name in properties:
        if name not in allowed:
            raise Unprocessable.of(name, f"is not a property of the action {action!r}")
    if recipients:
        raise Unprocessable.of("recipients", f"the action {action!r} has no recipients")


def _one(properties: Mapping[str, list[str]], name: str) -> str | None:
    values = properties.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise Unprocessable.of(name, "takes one value")
    return values[0]


def _number(properties: Mapping[str, list[str]], name: str) -> float | None:
    text = _one(properties, name)
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise Unprocessable.of(name, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise Unprocessable.of(name, "must be a finite number")
    return value


def _whole(properties: Mapping[str, list[str]], name: str) -> int | None:
    value = _number(properties, name)
    if value is None:
        return None
    if value != int(value):
        raise Unprocessable.of(name, "must be a whole number")
    return int(value)


def _boolean(properties: Mapping[str, list[str]], name: str) -> bool | None:
    text = _one(properties, name)
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise Unprocessable.of(name, "must be true or false")


def _checked(parse: Callable[[], T]) -> T:
    """Properties parsed at run time: a configuration stored before a rule changed fails for good."""
    try:
        return parse()
    except InvalidInput as exc:
        raise ActionFailed(f"misconfigured: {exc.message}", permanent=True) from exc


# Endpoint status -------------------------------------------------------------------------------------

class _EndpointStatusAction:
    name: str
    status_id: int
    configuration_properties: tuple[str, ...] = ()
    required_event_output_parameters: tuple[str, ...] = ENDPOINT_ID

    def __init__(self, connectivity: Connectivity) -> None:
        self.connectivity = connectivity

    def check(self, properties: Mapping[str, list[str]], recipients: list[str]) -> None:
        _only(properties, recipients, self.configuration_properties, self.name)

    async def run(self, context: ActionContext) -> str:
        endpoint_id = _endpoint_id(context)
        status = STATUS_NAMES[self.status_id].lower()
        current = await _domain(self.connectivity.get_endpoint(context.principal, endpoint_id))
        if current.endpoint.status_id == self.status_id:
            return f"endpoint {endpoint_id} already {status}"
        await _domain(self.connectivity.update_endpoint(context.principal, endpoint_id,
                                                        EndpointChanges(status_id=self.status_id)))
        return f"endpoint {endpoint_id} {status}"


class DisableEndpointAction(_EndpointStatusAction):
    id = "f9162ec3-ff98-4f03-a68d-b7e308b404e2"
    type = "DISABLE_ENDPOINT"
    name = "Disable endpoint"
    description = "Disables the endpoint the event names, so it can no longer connect (event 43)."
    status_id = DISABLED


class EnableEndpointAction(_EndpointStatusAction):
    id = "48341831-afe9-4b4d-bace-f1551d0de036"
    type = "ENABLE_ENDPOINT"
    name = "Enable endpoint"
    description = "Enables the endpoint the event names, so it may connect again (event 42)."
    status_id = ENABLED


# SIM -------------------------------------------------------------------------------------------------

class SuspendSimAction:
    id = "b8c1ea8a-9389-4e64-8a2e-e9928071e207"
    type = "SUSPEND_SIM"
    name = "Suspend SIM"
    description = ("Suspends the SIM in the endpoint the event names (or, for an event about a SIM alone, "
                   "that SIM), so it gets no service (event 9).")
    configuration_properties: tuple[str, ...] = ()
    # An event about a SIM outside any endpoint will do, so the SIM is what the event must name.
    required_event_output_parameters: tuple[str, ...] = ("sim.id",)

    def __init__(self, connectivity: Connectivity) -> None:
        self.connectivity = connectivity

    def check(self, properties: Mapping[str, list[str]], recipients: list[str]) -> None:
        _only(properties, recipients, self.configuration_properties, self.name)

    async def run(self, context: ActionContext) -> str:
        principal = context.principal
        endpoint_id = _ref_id(context, "endpoint")
        if endpoint_id is not None:
            # The endpoint's SIM now, not the one the event saw: a SIM swapped out since is not the
            # device's any more, and suspending stock would surprise.
            details = await _domain(self.connectivity.get_endpoint(principal, endpoint_id))
            if details.sim is None:
                raise ActionFailed(f"endpoint {endpoint_id} holds no SIM", permanent=True)
            sim = details.sim
            where = f" of endpoint {endpoint_id}"
        else:
            sim_id = _ref_id(context, "sim")
            if sim_id is None:
                raise ActionFailed("the event names no endpoint and no SIM", permanent=True)
            sim = await _domain(self.connectivity.get_sim(principal, sim_id))
            where = ""
        if sim.status_id == sims.SUSPENDED:
            return f"SIM {sim.id}{where} already suspended"
        if sim.status_id == sims.DELETED:
            raise ActionFailed(f"SIM {sim.id}{where} is deleted", permanent=True)
        await _domain(self.connectivity.change_sim_status(principal, sim.id, sims.SUSPENDED))
        return f"SIM {sim.id}{where} suspended"


# SMS -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _SmsSettings:
    payload: str
    source: str
    source_type: int

    @classmethod
    def parse(cls, properties: Mapping[str, list[str]]) -> _SmsSettings:
        payload = _one(properties, "payload")
        if not payload:
            raise Unprocessable.of("payload", "is required")
        if len(payload) > sms.MAX_PAYLOAD:
            raise Unprocessable.of("payload", f"at most {sms.MAX_PAYLOAD} characters")
        source = (_one(properties, "source_address") or "").strip()
        if not source:  # no sender, as the API allows
            return cls(payload, "", sms.NATIONAL)
        if source.isascii() and source.isdigit():
            return cls(payload, source, sms.NATIONAL)
        # The API asks for source_address_type 208 with a name; a property list has no room for it, so a
        # sender with letters is taken as the alphanumeric one it must be.
        if source.isascii() and source.isalnum() and len(source) <= sms.MAX_ALPHANUMERIC:
            return cls(payload, source, sms.ALPHANUMERIC)
        raise Unprocessable.of("source_address", f"a number, or 1 to {sms.MAX_ALPHANUMERIC} letters and "
                                                 "digits")


class SendSmsAction:
    id = "ff8118be-ddce-426c-9e92-4dfc13d6c1e6"
    type = "SEND_SMS"
    name = "Send SMS"
    description = "Sends a short message to the endpoint the event names (mobile-terminated)."
    configuration_properties: tuple[str, ...] = ("payload", "source_address")
    required_event_output_parameters: tuple[str, ...] = ENDPOINT_ID

    def __init__(self, network: NetworkService) -> None:
        self.network = network

    def check(self, properties: Mapping[str, list[str]], recipients: list[str]) -> None:
        _only(properties, recipients, self.configuration_properties, self.name)
        _SmsSettings.parse(properties)

    async def run(self, context: ActionContext) -> str:
        endpoint_id = _endpoint_id(context)
        settings = _checked(lambda: _SmsSettings.parse(context.properties))
        message = await _domain(self.network.send_sms(
            context.principal, endpoint_id, payload=settings.payload, source=settings.source,
            source_type=settings.source_type, udh=""))
        if message.status_id != sms.DELIVERED:
            # Kept as FAILED, as the API keeps it; not retried, since each attempt would keep another
            # failed message rather than deliver this one later.
            raise ActionFailed(f"SMS {message.id} to endpoint {endpoint_id} not delivered: {message.failure}",
                               permanent=True)
        return f"SMS {message.id} delivered to endpoint {endpoint_id}"


# Quotas ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _QuotaSettings:
    volume: float
    expiry_days: int
    action_id: int
    threshold_percentage: float | None
    auto_refill: bool

    @classmethod
    def parse(cls, kind: Kind, properties: Mapping[str, list[str]]) -> _QuotaSettings:
        volume = _number(properties, "volume")
        if volume is None:
            raise Unprocessable.of("volume", "is required")
        if not volume > 0:
            raise Unprocessable.of("volume", "must be a positive number")
        if kind == "sms" and volume != int(volume):
            raise Unprocessable.of("volume", "an SMS quota counts whole messages")
        days = _whole(properties, "expiry_days")
        days = DEFAULT_EXPIRY_DAYS if days is None else days
        if not 0 < days <= MAX_EXPIRY_DAYS:
            raise Unprocessable.of("expiry_days", f"must be from 1 to {MAX_EXPIRY_DAYS}")
        action_id = _whole(properties, "action_on_exhaustion")
        action_id = quotas.BLOCK if action_id is None else action_id
        if action_id not in quotas.ACTION_NAMES:
            raise Unprocessable.of("action_on_exhaustion", "must be 1 (Block) or 2 (Throttle)")
        threshold = _number(properties, "threshold_percentage")
        if threshold is not None and not 0 <= threshold <= 100:
            raise Unprocessable.of("threshold_percentage", "must be from 0 to 100")
        return cls(volume, days, action_id, threshold, bool(_boolean(properties, "auto_refill")))


class _AssignQuotaAction:
    name: str
    kind: Kind
    configuration_properties: tuple[str, ...] = QUOTA_PROPERTIES
    required_event_output_parameters: tuple[str, ...] = ENDPOINT_ID

    def __init__(self, connectivity: Connectivity, clock: Clock) -> None:
        self.connectivity = connectivity
        self.clock = clock

    def check(self, properties: Mapping[str, list[str]], recipients: list[str]) -> None:
        _only(properties, recipients, self.configuration_properties, self.name)
        _QuotaSettings.parse(self.kind, properties)

    async def run(self, context: ActionContext) -> str:
        endpoint_id = _endpoint_id(context)
        settings = _checked(lambda: _QuotaSettings.parse(self.kind, context.properties))
        refill = await _domain(self._has_quota(context, endpoint_id))
        # The API requires a threshold for an SMS quota; an action without one wants no threshold event.
        threshold = settings.threshold_percentage
        if threshold is None and self.kind == "sms":
            threshold = 0.0
        request = QuotaRequest(status_id=quotas.ACTIVE, volume=settings.volume,
                               expiry_ms=self.clock.now_ms() + settings.expiry_days * DAY_MS,
                               auto_refill=settings.auto_refill, threshold_percentage=threshold,
                               action_id=settings.action_id, peak_throughput=None)
        quota = await _domain(self.connectivity.assign_quota(context.principal, self.kind, endpoint_id,
                                                             request))
        what, unit = ("data", "MB") if self.kind == "data" else ("SMS", "SMS")
        until = format_timestamp(quota.expiry_ms)[:19] + "Z"
        return (f"{what} quota of endpoint {endpoint_id} {'refilled' if refill else 'assigned'}: "
                f"{_amount(quota.volume)} {unit} until {until}")

    async def _has_quota(self, context: ActionContext, endpoint_id: int) -> bool:
        try:
            await self.connectivity.get_quota(context.principal, self.kind, endpoint_id)
        except NotFound:  # no quota yet, or no endpoint: the assignment tells which
            return False
        return True


def _amount(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


class AssignDataQuotaAction(_AssignQuotaAction):
    id = "ce296dc1-591d-4798-ae1d-a066033d28d3"
    type = "ASSIGN_DATA_QUOTA"
    name = "Assign data quota"
    description = ("Assigns a data quota (volume in MB) to the endpoint the event names, replacing any it "
                   "has: the documented way to refill one (event 56).")
    kind: Kind = "data"


class AssignSmsQuotaAction(_AssignQuotaAction):
    id = "b32ff2e3-ddc5-4c0f-984b-ed814e7e8387"
    type = "ASSIGN_SMS_QUOTA"
    name = "Assign SMS quota"
    description = ("Assigns an SMS quota (a number of messages) to the endpoint the event names, replacing "
                   "any it has: the documented way to refill one (event 58).")
    kind: Kind = "sms"


def device_actions(connectivity: Connectivity, network: NetworkService, clock: Clock) -> list[Action]:
    return [DisableEndpointAction(connectivity), EnableEndpointAction(connectivity),
            SuspendSimAction(connectivity), SendSmsAction(network),
            AssignDataQuotaAction(connectivity, clock), AssignSmsQuotaAction(connectivity, clock)]
