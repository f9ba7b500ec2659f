"""The Network source's entry point: a batch of signalling records is one transaction; subscribers are
woken after it commits. Used in-process by the simulator and behind `POST /internal/v1/signalling`; also
the API's view of the network (connectivity, its reset, operator blacklists)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from cellstream.clock import Clock
from cellstream.domain.endpoint_model import Endpoint
from cellstream.domain.endpoints import organisation_endpoint
from cellstream.domain.principal import Principal
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import Subscriber, UnknownOrganisation, Verdict, resolve
from cellstream.errors import Conflict, Unprocessable
from cellstream.ingest.notifier import Notifier
from cellstream.network import blacklist, connectivity
from cellstream.network.core import NetworkCore, PolicyControl
from cellstream.network.operators import Operator
from cellstream.network.signalling import AnySignal
from cellstream.network.sms import SmsMessage
from cellstream.store.protocols import AccountStore
from cellstream.store.resources import ResourceStore, ResourceTx

MAX_BATCH = 10_000
T = TypeVar("T")


class NetworkService:
    def __init__(self, resources: ResourceStore, accounts: AccountStore, notifier: Notifier,
                 policy: PolicyControl, clock: Clock) -> None:
        self.clock = clock
        self.resources = resources
        self.accounts = accounts
        self.notifier = notifier
        self.core = NetworkCore(policy, {})

    async def submit(self, records: Sequence[AnySignal]) -> list[Verdict]:
        """Process `records` in order as one transaction; one verdict per record."""
        if len(records) > MAX_BATCH:
            raise Unprocessable.of("records", f"at most {MAX_BATCH:,} per batch, not {len(records):,}")
        batch = list(records)
        return await self._run(lambda tx: self.core.process(tx, batch))

    async def connectivity(self, principal: Principal, endpoint_id: int) -> dict[str, Any]:
        return await self.resources.view(lambda tx: connectivity.connectivity(
            tx, organisation_endpoint(tx, principal.org_id, endpoint_id)))

    async def reset_connectivity(self, principal: Principal, endpoint_id: int, *, location: bool) -> None:
        """End the endpoint's data sessions and, with `location`, its network registrations."""
        principal.require_administrator("reset connectivity")

        def work(tx: ResourceTx) -> None:
            sub = self._endpoint_subscriber(tx, principal, endpoint_id)
            if sub is not None:
                self.core.reset(tx, sub, self.clock.now_ms(), location=location)

        await self._run(work)

    async def operator_blacklist(self, principal: Principal, endpoint_id: int) -> list[Operator]:
        org_id = principal.org_id
        return await self.resources.view(lambda tx: blacklist.list_operators(tx, org_id, endpoint_id))

    async def change_blacklist(self, principal: Principal, endpoint_id: int, operator_id: int, *,
                               add: bool) -> None:
        principal.require_administrator("change an operator blacklist")
        change = blacklist.add if add else blacklist.remove
        await self._run(lambda tx: change(tx, principal.org_id, endpoint_id, operator_id))

    async def send_sms(self, principal: Principal, endpoint_id: int, *, payload: str, source: str,
                       source_type: int, udh: str) -> SmsMessage:
        """An MT-SMS through the API: kept as DELIVERED or FAILED (facts: the device must be connected
        and allowed SMS)."""
        principal.require_administrator("send SMS")

        def work(tx: ResourceTx) -> SmsMessage:
            sub = self._endpoint_subscriber(tx, principal, endpoint_id)
            if sub is None:
                raise Conflict(f"endpoint {endpoint_id} has no SIM to send to")
            return self.core.deliver_mt(tx, sub, self.clock.now_ms(), payload=payload, source=source,
                                        source_type=source_type, udh=udh)

        return await self._run(work)

    async def list_sms(self, principal: Principal, endpoint_id: int) -> tuple[Endpoint, list[SmsMessage],
                                                                            dict[int, Sim]]:
        def work(tx: ResourceTx) -> tuple[Endpoint, list[SmsMessage], dict[int, Sim]]:
            endpoint = organisation_endpoint(tx, principal.org_id, endpoint_id)
            messages = [m for m in tx.scan(SmsMessage, principal.org_id) if m.endpoint_id == endpoint_id]
            sims = {i: s for i in {m.sim_id for m in messages if m.sim_id is not None}
                    if (s := tx.get(Sim, i)) is not None}
            return endpoint, sorted(messages, key=lambda m: -m.id), sims

        return await self.resources.view(work)

    def _endpoint_subscriber(self, tx: ResourceTx, principal: Principal,
                             endpoint_id: int) -> Subscriber | None:
        """The subscriber of the SIM in the organisation's endpoint (None without a SIM)."""
        endpoint = organisation_endpoint(tx, principal.org_id, endpoint_id)
        sim = tx.get(Sim, endpoint.sim_id) if endpoint.sim_id is not None else None
        return resolve(tx, sim.imsi, self.core.names) if sim is not None else None

    async def _run(self, work: Callable[[ResourceTx], T]) -> T:
        while True:
            try:
                committed = await self.resources.transact(work)
            except UnknownOrganisation as missing:
                await self._learn(missing.org_id)
                continue
            if committed.appended.stored:
                await self.notifier.committed(committed.appended.stored)
            await self.notifier.usage_committed(committed.usage)
            return committed.value

    async def _learn(self, org_id: int) -> None:
        org = await self.accounts.get_organisation(org_id)
        self.core.names[org_id] = org.name if org is not None else None
