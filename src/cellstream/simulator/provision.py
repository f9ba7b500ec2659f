"""What the simulator sets up in the organisation before it drives the fleet: N SIMs in N endpoints named
`sim-device-00001` …, reused on the next run, and the few changes a scenario makes (quotas, a suspended
SIM, an operator blacklist entry).

`ensure_fleet` holds the logic; a `Platform` does the individual steps, either in-process through the
domain services (`InProcessPlatform`) or over HTTP (`cellstream.simulator.provision_http`). SIM batches
get a batch identification code made of the organisation, the seed and a counter, so a fresh store
always gets the same SIMs, and a code that is taken just moves on to the next counter.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Protocol

from cellstream.domain import endpoints, profiles, sims
from cellstream.domain.connectivity import Connectivity
from cellstream.domain.endpoints import EndpointChanges, SimChoice
from cellstream.domain.principal import Principal
from cellstream.domain.quotas import QuotaRequest
from cellstream.errors import Conflict, NotFound
from cellstream.network.service import NetworkService
from cellstream.simulator import identities
from cellstream.store.resources import ResourceTx

NAME_PREFIX = "sim-device-"
_NAME = re.compile(r"sim-device-(\d{5,})")
ENDPOINTS_PER_TRANSACTION = 500
MAX_BIC_ATTEMPTS = 1000


@dataclass(frozen=True)
class EndpointView:
    """An endpoint of the organisation, as far as the simulator cares."""

    endpoint_id: int
    name: str
    service_profile_id: int
    imei: str | None
    sim_id: int | None
    imsi: str | None
    sim_status: int | None


@dataclass(frozen=True)
class NewEndpoint:
    name: str
    sim_id: int
    imei: str
    service_profile_id: int
    tariff_profile_id: int


@dataclass(frozen=True)
class ProvisionedDevice:
    index: int
    endpoint_id: int
    sim_id: int
    imsi: str
    imei: str | None
    service_profile_id: int


class Platform(Protocol):
    """The organisation-side steps, in-process or over the public and internal HTTP APIs."""

    org_id: int

    async def check_organisation(self) -> None:
        """Raise a CellstreamError saying what is wrong when the fleet cannot live in `org_id`."""
        ...

    async def endpoints(self) -> list[EndpointView]: ...

    async def default_profiles(self) -> tuple[int, int]:
        """The ids of the organisation's default service and tariff profiles."""
        ...

    async def provision_sims(self, count: int, bic: str) -> list[tuple[int, str]] | None:
        """New Activated SIMs registered to the organisation, as (sim id, IMSI); None if `bic` is taken."""
        ...

    async def create_endpoints(self, new: list[NewEndpoint]) -> list[int]: ...

    async def set_sim_status(self, sim_id: int, status_id: int) -> None: ...

    async def set_apply_data_quota(self, service_profile_id: int, on: bool) -> bool:
        """Switch data quota management of a service profile; answers what it was before."""
        ...

    async def assign_data_quota(self, endpoint_id: int, request: QuotaRequest) -> None: ...

    async def blacklist(self, endpoint_id: int, operator_id: int, *, add: bool) -> None:
        """Add or remove an operator blacklist entry; one that is already so is no error."""
        ...

    async def close(self) -> None: ...


def device_name(index: int) -> str:
    return f"{NAME_PREFIX}{index + 1:05d}"


def batch_code(org_id: int, seed: int, attempt: int) -> str:
    return f"SIM{org_id:04d}S{seed % 1_000_000:06d}N{attempt:03d}"


async def ensure_fleet(platform: Platform, count: int, seed: int) -> list[ProvisionedDevice]:
    """Devices 0 … count-1, each an endpoint `sim-device-NNNNN` holding an Activated SIM: the ones a
    previous run left are reused (a SIM a scenario left suspended is activated again), the rest made."""
    found: dict[int, EndpointView] = {}
    for view in await platform.endpoints():
        match = _NAME.fullmatch(view.name)
        if match is None or view.sim_id is None or view.imsi is None or view.sim_status == sims.DELETED:
            continue
        index = int(match.group(1)) - 1
        if index < count and (index not in found or view.endpoint_id < found[index].endpoint_id):
            found[index] = view
    for view in found.values():
        if view.sim_status == sims.SUSPENDED and view.sim_id is not None:
            await platform.set_sim_status(view.sim_id, sims.ACTIVATED)
    devices = [ProvisionedDevice(i, v.endpoint_id, v.sim_id, v.imsi, v.imei, v.service_profile_id)
               for i, v in found.items() if v.sim_id is not None and v.imsi is not None]
    missing = [i for i in range(count) if i not in found]
    if missing:
        devices += await _provision(platform, missing, seed)
    return sorted(devices, key=lambda d: d.index)


async def _provision(platform: Platform, missing: list[int], seed: int) -> list[ProvisionedDevice]:
    service_id, tariff_id = await platform.default_profiles()
    new_sims: list[tuple[int, str]] = []
    attempt = 0
    while len(new_sims) < len(missing):
        if attempt >= MAX_BIC_ATTEMPTS:
            raise Conflict(f"no free SIM batch code for organisation {platform.org_id} after "
                           f"{MAX_BIC_ATTEMPTS} tries")
        count = min(sims.MAX_BATCH, len(missing) - len(new_sims))
        made = await platform.provision_sims(count, batch_code(platform.org_id, seed, attempt))
        attempt += 1
        if made is not None:
            new_sims += made
    new = [NewEndpoint(device_name(i), sim_id, identities.imei(seed, i), service_id, tariff_id)
           for i, (sim_id, _) in zip(missing, new_sims, strict=True)]
    endpoint_ids: list[int] = []
    for start in range(0, len(new), ENDPOINTS_PER_TRANSACTION):
        endpoint_ids += await platform.create_endpoints(new[start:start + ENDPOINTS_PER_TRANSACTION])
    return [ProvisionedDevice(i, endpoint_id, sim_id, imsi, n.imei, service_id)
            for i, endpoint_id, (sim_id, imsi), n in zip(missing, endpoint_ids, new_sims, new, strict=True)]


class InProcessPlatform:
    """The steps through the platform's own services, acting as an application token of the organisation
    (administrator rights; its events carry no user)."""

    def __init__(self, connectivity: Connectivity, network: NetworkService, org_id: int) -> None:
        self.connectivity = connectivity
        self.network = network
        self.org_id = org_id
        self.principal = Principal(org_id, None, app_token_id=0)

    async def check_organisation(self) -> None:
        if await self.connectivity.accounts.get_organisation(self.org_id) is None:
            raise NotFound(f"organisation {self.org_id} not found; create it first "
                           f"(cellstream admin create-org --id {self.org_id} --name …)")

    async def endpoints(self) -> list[EndpointView]:
        return [EndpointView(d.endpoint.id, d.endpoint.name, d.endpoint.service_profile_id, d.endpoint.imei,
                             d.sim.id if d.sim else None, d.sim.imsi if d.sim else None,
                             d.sim.status_id if d.sim else None)
                for d in await self.connectivity.list_endpoints(self.principal)]

    async def default_profiles(self) -> tuple[int, int]:
        org_id = self.org_id

        def work(tx: ResourceTx) -> tuple[int, int]:
            service, tariff = profiles.ensure_defaults(tx, org_id)
            return service.id, tariff.id

        return await self.connectivity.change(work)

    async def provision_sims(self, count: int, bic: str) -> list[tuple[int, str]] | None:
        try:
            made = await self.connectivity.provision_sims(count=count, bic=bic, org_id=self.org_id)
        except Conflict:
            return None
        return [(s.id, s.imsi) for s in made]

    async def create_endpoints(self, new: list[NewEndpoint]) -> list[int]:
        # One transaction per chunk rather than per endpoint: provisioning 10,000 devices stays quick
        actor = await self.connectivity.actor(self.principal)

        def work(tx: ResourceTx) -> list[int]:
            return [endpoints.create_endpoint(tx, actor, EndpointChanges(
                name=n.name, status_id=endpoints.ENABLED, service_profile_id=n.service_profile_id,
                tariff_profile_id=n.tariff_profile_id, imei=n.imei, sim=SimChoice(n.sim_id))).id for n in new]

        return await self.connectivity.change(work)

    async def set_sim_status(self, sim_id: int, status_id: int) -> None:
        await self.connectivity.change_sim_status(self.principal, sim_id, status_id)

    async def set_apply_data_quota(self, service_profile_id: int, on: bool) -> bool:
        before = next(p for p in await self.connectivity.service_profiles(self.principal)
                      if p.id == service_profile_id)
        if before.apply_data_quota != on:
            await self.connectivity.update_service_profile(self.principal, service_profile_id,
                                                           {"apply_data_quota": on})
        return before.apply_data_quota

    async def assign_data_quota(self, endpoint_id: int, request: QuotaRequest) -> None:
        await self.connectivity.assign_quota(self.principal, "data", endpoint_id, request)

    async def blacklist(self, endpoint_id: int, operator_id: int, *, add: bool) -> None:
        # Already listed (add) or already gone (remove): the wanted state holds
        with contextlib.suppress(Conflict, NotFound):
            await self.network.change_blacklist(self.principal, endpoint_id, operator_id, add=add)

    async def close(self) -> None:
        return None
