"""The connectivity domain as the API, CLI and simulator use it: each operation runs as one resource
transaction with its events, and subscribers are woken once it has committed (emit after commit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from cellstream.domain import endpoints, profiles, quotas, sims
from cellstream.domain.actor import Actor, actor_of
from cellstream.domain.endpoint_model import Endpoint
from cellstream.domain.endpoints import EndpointChanges, EndpointDetails
from cellstream.domain.principal import Principal
from cellstream.domain.profiles import ServiceProfile, TariffProfile
from cellstream.domain.quotas import Kind, Quota, QuotaRequest
from cellstream.domain.sims import Sim, SimBatch
from cellstream.errors import NotFound
from cellstream.ingest.notifier import Notifier
from cellstream.store.protocols import AccountStore
from cellstream.store.resources import ResourceStore, ResourceTx

T = TypeVar("T")


class Connectivity:
    def __init__(self, resources: ResourceStore, accounts: AccountStore, notifier: Notifier) -> None:
        self.resources = resources
        self.accounts = accounts
        self.notifier = notifier

    async def change(self, work: Callable[[ResourceTx], T]) -> T:
        committed = await self.resources.transact(work)
        if committed.appended.stored:
            await self.notifier.committed(committed.appended.stored)
        await self.notifier.usage_committed(committed.usage)
        return committed.value

    async def actor(self, principal: Principal) -> Actor:
        return await actor_of(self.accounts, principal)

    # SIM batches --------------------------------------------------------------------------------------

    async def provision_sims(self, *, count: int, bic: str, org_id: int | None = None,
                             status_id: int = sims.ACTIVATED) -> list[Sim]:
        """The platform operator's step: new SIMs under `bic`; with `org_id`, registered there at once in
        `status_id` (Activated or Factory Test: event 48), or assigned to it in Issued (no event)."""
        actor = None
        if org_id is not None:
            org = await self.accounts.get_organisation(org_id)
            if org is None:
                raise NotFound(f"organisation {org_id} not found")
            actor = Actor({"id": org.id, "name": org.name}, None)

        def work(tx: ResourceTx) -> list[Sim]:
            batch = sims.provision_batch(tx, count=count, bic=bic)
            if actor is None:
                return [s for s in (tx.get(Sim, i) for i in batch.sim_ids) if s is not None]
            if status_id == sims.ISSUED:
                return sims.assign_batch(tx, actor.org_id, bic)
            return sims.register_batch(tx, actor, bic, status_id)

        return await self.change(work)

    async def validate_batch(self, principal: Principal, bic: str) -> SimBatch:
        return await self.resources.view(lambda tx: sims.unregistered_batch(tx, bic))

    async def register_batch(self, principal: Principal, bic: str, status_id: int) -> list[Sim]:
        principal.require_administrator("change SIMs and devices")
        actor = await self.actor(principal)
        return await self.change(lambda tx: sims.register_batch(tx, actor, bic, status_id))

    # SIMs ---------------------------------------------------------------------------------------------

    async def list_sims(self, principal: Principal) -> list[Sim]:
        return await self.resources.view(lambda tx: tx.scan(Sim, principal.org_id))

    async def get_sim(self, principal: Principal, sim_id: int) -> Sim:
        return await self.resources.view(lambda tx: sims.organisation_sim(tx, principal.org_id, sim_id))

    async def change_sim_status(self, principal: Principal, sim_id: int, status_id: int) -> Sim:
        principal.require_administrator("change SIMs and devices")
        actor = await self.actor(principal)
        return await self.change(lambda tx: sims.change_status(tx, actor, sim_id, status_id))

    async def delete_sim(self, principal: Principal, sim_id: int) -> Sim:
        principal.require_administrator("change SIMs and devices")
        actor = await self.actor(principal)
        return await self.change(lambda tx: sims.delete_sim(tx, actor, sim_id))


    # Endpoints ----------------------------------------------------------------------------------------

    async def list_endpoints(self, principal: Principal) -> list[EndpointDetails]:
        return await self.resources.view(
            lambda tx: [endpoints.details(tx, e) for e in tx.scan(Endpoint, principal.org_id)])

    async def get_endpoint(self, principal: Principal, endpoint_id: int) -> EndpointDetails:
        return await self.resources.view(lambda tx: endpoints.details(
            tx, endpoints.organisation_endpoint(tx, principal.org_id, endpoint_id)))

    async def create_endpoint(self, principal: Principal, changes: EndpointChanges) -> Endpoint:
        principal.require_administrator("change SIMs and devices")
        actor = await self.actor(principal)
        return await self.change(lambda tx: endpoints.create_endpoint(tx, actor, changes))

    async def update_endpoint(self, principal: Principal, endpoint_id: int,
                              changes: EndpointChanges) -> Endpoint:
        principal.require_administrator("change SIMs and devices")
        actor = await self.actor(principal)
        return await self.change(lambda tx: endpoints.update_endpoint(tx, actor, endpoint_id, changes))

    async def delete_endpoint(self, principal: Principal, endpoint_id: int) -> None:
        principal.require_administrator("change SIMs and devices")
        actor = await self.actor(principal)
        await self.change(lambda tx: endpoints.delete_endpoint(tx, actor, endpoint_id))

    # Profiles -----------------------------------------------------------------------------------------

    async def service_profiles(self, principal: Principal) -> list[ServiceProfile]:
        def work(tx: ResourceTx) -> list[ServiceProfile]:
            profiles.ensure_defaults(tx, principal.org_id)
            return tx.scan(ServiceProfile, principal.org_id)

        return await self.change(work)

    async def tariff_profiles(self, principal: Principal) -> list[TariffProfile]:
        def work(tx: ResourceTx) -> list[TariffProfile]:
            profiles.ensure_defaults(tx, principal.org_id)
            return tx.scan(TariffProfile, principal.org_id)

        return await self.change(work)

    async def update_service_profile(self, principal: Principal, profile_id: int,
                                     changes: dict[str, Any]) -> ServiceProfile:
        principal.require_administrator("change SIMs and devices")
        actor = await self.actor(principal)
        return await self.change(lambda tx: profiles.update_service_profile(tx, actor, profile_id, changes))


    # Quotas -------------------------------------------------------------------------------------------

    async def get_quota(self, principal: Principal, kind: Kind, endpoint_id: int) -> Quota:
        return await self.resources.view(lambda tx: quotas.get_quota(tx, principal.org_id, kind, endpoint_id))

    async def assign_quota(self, principal: Principal, kind: Kind, endpoint_id: int,
                           request: QuotaRequest) -> Quota:
        principal.require_administrator("change SIMs and devices")
        actor = await self.actor(principal)
        return await self.change(lambda tx: quotas.assign_quota(tx, actor, kind, endpoint_id, request))

    async def delete_quota(self, principal: Principal, kind: Kind, endpoint_id: int) -> None:
        principal.require_administrator("change SIMs and devices")
        actor = await self.actor(principal)
        await self.change(lambda tx: quotas.delete_quota(tx, actor, kind, endpoint_id))
