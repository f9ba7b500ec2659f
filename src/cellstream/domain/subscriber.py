"""A subscriber as the network sees one: a registered SIM, the endpoint it sits in, that endpoint's
profiles and organisation — resolved from an IMSI (`resolve`; `Subscribers` does it once per IMSI for a
batch of signalling records) — and the verdict the platform returns to the network for a record."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec

from cellstream.domain.actor import Actor
from cellstream.domain.endpoint_model import Endpoint
from cellstream.domain.profiles import ServiceProfile, TariffProfile
from cellstream.domain.sims import Sim
from cellstream.events.model import Ref
from cellstream.store.resources import Record, ResourceTx

R = TypeVar("R", bound=Record)


class Verdict(msgspec.Struct, frozen=True, omit_defaults=True):
    """The answer to the network for one record: accepted or not, why not, and the throughput the
    subscriber may use from now on (None: unrestricted)."""

    accepted: bool
    reason: str | None = None
    max_bytes_per_s: int | None = None


ACCEPTED = Verdict(True)


@dataclass(frozen=True)
class Subscriber:
    actor: Actor  # the organisation; no user (network and policy changes are nobody's action)
    sim: Sim
    endpoint: Endpoint | None  # a SIM need not sit in an endpoint
    service: ServiceProfile | None
    tariff: TariffProfile | None

    @property
    def org_id(self) -> int:
        return self.actor.org_id

    def refs(self) -> dict[str, Ref | None]:
        """The endpoint, sim and imsi objects of this subscriber's events (keyword arguments of
        cellstream.domain.domain_events.domain_event); made once per subscriber and shared by its events,
        as their organisation object is."""
        return self._refs

    @functools.cached_property
    def _refs(self) -> dict[str, Ref | None]:
        return {"endpoint": None if self.endpoint is None else self.endpoint.ref(), "sim": self.sim.ref(),
                "imsi": self.sim.imsi_ref()}


class UnknownOrganisation(Exception):
    """`resolve` met an organisation whose name the caller did not pass: look it up and retry (the
    transaction rolls back, so nothing is stored twice)."""

    def __init__(self, org_id: int) -> None:
        super().__init__(f"organisation {org_id} is not among the names given")
        self.org_id = org_id


def resolve(tx: ResourceTx, imsi: str, organisation_names: Mapping[int, str | None]) -> Subscriber | None:
    """The subscriber of `imsi`, or None when no organisation owns such a SIM (unknown to the platform,
    or provisioned and not yet registered). Raises UnknownOrganisation when its organisation's name is not
    in `organisation_names` (None: known to be gone; its events then carry the id alone)."""
    return _subscriber(tx, tx.find(Sim, "imsi", imsi), organisation_names, tx)


class _Records(Protocol):
    def get(self, cls: type[R], record_id: int) -> R | None: ...


def _subscriber(tx: ResourceTx, sim: Sim | None, organisation_names: Mapping[int, str | None],
                profiles: _Records) -> Subscriber | None:
    if sim is None or sim.org_id is None:
        return None
    endpoint = tx.get(Endpoint, sim.endpoint_id) if sim.endpoint_id is not None else None
    service = profiles.get(ServiceProfile, endpoint.service_profile_id) if endpoint is not None else None
    tariff = profiles.get(TariffProfile, endpoint.tariff_profile_id) if endpoint is not None else None
    if sim.org_id not in organisation_names:
        raise UnknownOrganisation(sim.org_id)
    name = organisation_names[sim.org_id]
    organisation: Ref = {"id": sim.org_id} if name is None else {"id": sim.org_id, "name": name}
    return Subscriber(Actor(organisation, None), sim, endpoint, service, tariff)


class _Decoded:
    """Records read once and shared (the profiles of a batch's subscribers)."""

    def __init__(self, tx: ResourceTx) -> None:
        self.tx = tx
        self.records: dict[tuple[str, int], Any] = {}

    def get(self, cls: type[R], record_id: int) -> R | None:
        key = (cls.KIND, record_id)
        try:
            found: R | None = self.records[key]
        except KeyError:
            found = self.records[key] = self.tx.get(cls, record_id)
        return found


# The kinds a Subscriber is made of: a batch that changes one of them resolves afresh
SUBSCRIBER_KINDS = frozenset({Sim.KIND, Endpoint.KIND, ServiceProfile.KIND, TariffProfile.KIND})


class Subscribers:
    """`resolve` for the records of one batch, inside its transaction: each IMSI is resolved once and its
    organisation's profiles decoded once, until `forget` (the batch changed a SIM, an endpoint or a
    profile: see SUBSCRIBER_KINDS), so what it answers is always what `resolve` would answer now.
    `preload` fetches the batch's SIMs, their endpoints and network states together beforehand."""

    def __init__(self, tx: ResourceTx, organisation_names: Mapping[int, str | None]) -> None:
        self.tx = tx
        self.names = organisation_names
        self._subscribers: dict[str, Subscriber | None] = {}
        self._sims: dict[str, Sim | None] = {}  # found by `preload`, not resolved yet
        self._profiles = _Decoded(tx)

    def forget(self) -> None:
        self._subscribers.clear()
        self._sims.clear()
        self._profiles.records.clear()

    def get(self, imsi: str) -> Subscriber | None:
        try:
            return self._subscribers[imsi]
        except KeyError:
            sim = self._sims.pop(imsi) if imsi in self._sims else self.tx.find(Sim, "imsi", imsi)
            sub = _subscriber(self.tx, sim, self.names, self._profiles)
            self._subscribers[imsi] = sub
            return sub

    def preload(self, imsis: Iterable[str], state: type[Record] | None = None) -> None:
        """Fetch the SIMs of `imsis`, their endpoints and (`state`: the kind keyed by SIM id, e.g. the
        network state) in a few statements beforehand; nothing is resolved yet."""
        tx, imsis = self.tx, list(imsis)
        tx.preload_keys(Sim, "imsi", imsis)
        found = self._sims
        for imsi in imsis:
            found[imsi] = tx.find(Sim, "imsi", imsi)
        sims = [s for s in found.values() if s is not None and s.org_id is not None]
        tx.preload(Endpoint, [s.endpoint_id for s in sims if s.endpoint_id is not None])
        if state is not None:
            tx.preload(state, [s.id for s in sims])
