"""SIM cards: how they enter the platform, are registered by an organisation, change status and are deleted,
and the API events each change stores (facts §A.4, §H.2).

SIMs come in batches, as physical ones do: the platform operator provisions a batch (Issued SIMs held by
the platform, `org_id` None) under a batch identification code (BIC) printed on the delivery; the
organisation that knows the code registers the whole batch (event 48, once per batch), or the platform
operator assigns it to an organisation, whose SIMs then wait in Issued (no event). After that the
status moves only along the documented transitions, each with its event:

    Issued → Activated (8) | Factory Test (45);  Activated ↔ Suspended (9 / 8);  Factory Test → Activated (8)
    any but Deleted → Deleted (10, via DELETE, never while assigned to an endpoint)

Numbers are derived from the SIM's id, so they are unique without a search: ICCID 89 88 303 + 12 digits
(19 digits, the Luhn digit kept separately as emnify does), IMSI 901 43 + 10 digits (an international
MCC/MNC), MSISDN 88 239 + 8 digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from msgspec.structs import replace

from cellstream.domain.actor import Actor
from cellstream.domain.domain_events import domain_event
from cellstream.domain.endpoint_model import Endpoint
from cellstream.errors import Conflict, NotFound, Unprocessable
from cellstream.events.model import Event, Ref
from cellstream.events.timefmt import format_timestamp
from cellstream.store.resources import Record, ResourceTx

ISSUED, ACTIVATED, SUSPENDED, DELETED, FACTORY_TEST = 0, 1, 2, 3, 4
STATUS_NAMES = {ISSUED: "Issued", ACTIVATED: "Activated", SUSPENDED: "Suspended", DELETED: "Deleted",
                FACTORY_TEST: "Factory Test"}
TRANSITIONS: Mapping[int, frozenset[int]] = {
    ISSUED: frozenset({ACTIVATED, FACTORY_TEST}),
    ACTIVATED: frozenset({SUSPENDED}),
    SUSPENDED: frozenset({ACTIVATED}),
    FACTORY_TEST: frozenset({ACTIVATED}),
    DELETED: frozenset(),
}
STATUS_EVENT = {ACTIVATED: 8, SUSPENDED: 9, FACTORY_TEST: 45}
SIM_DELETED, SIM_REGISTRATION = 10, 48
REGISTRATION_STATUSES = (ACTIVATED, FACTORY_TEST)

MAX_BATCH = 10_000
BIC_PATTERN = re.compile(r"[A-Z0-9]{8,32}")
DEFAULT_MODEL = 9
ICCID_PREFIX, IMSI_PREFIX, MSISDN_PREFIX = "8988303", "90143", "88239"


def luhn_digit(digits: str) -> str:
    """The check digit that makes `digits` + it pass the Luhn test."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


class Sim(Record, kw_only=True):
    KIND = "sim"
    iccid: str
    imsi: str
    msisdn: str
    batch_id: int
    model_id: int = DEFAULT_MODEL
    production_ms: int
    activation_ms: int | None = None
    status_id: int = ISSUED
    endpoint_id: int | None = None

    def unique_keys(self) -> Mapping[str, str]:
        return {"iccid": self.iccid, "imsi": self.imsi, "msisdn": self.msisdn}

    @property
    def iccid_with_luhn(self) -> str:
        return self.iccid + luhn_digit(self.iccid)

    def ref(self) -> Ref:
        """The `sim` object of an event."""
        return {"id": self.id, "iccid": self.iccid, "production_date": format_timestamp(self.production_ms)}

    def imsi_ref(self) -> Ref:
        """The `imsi` object of an event (the IMSI shares the SIM's id: one IMSI per SIM here)."""
        return {"id": self.id, "imsi": self.imsi, "import_date": format_timestamp(self.production_ms)}


class SimBatch(Record, kw_only=True):
    KIND = "sim_batch"
    bic: str
    sim_ids: list[int]
    model_id: int = DEFAULT_MODEL
    created_ms: int
    registered_ms: int | None = None

    def unique_keys(self) -> Mapping[str, str]:
        return {"bic": self.bic}


def provision_batch(tx: ResourceTx, *, count: int, bic: str, model_id: int = DEFAULT_MODEL) -> SimBatch:
    """New Issued SIMs held by the platform under `bic` (no event: no organisation owns them yet)."""
    if not 1 <= count <= MAX_BATCH:
        raise Unprocessable.of("count", f"must be from 1 to {MAX_BATCH:,}, not {count}")
    if not BIC_PATTERN.fullmatch(bic):
        raise Unprocessable.of("bic", "must be 8 to 32 upper-case letters and digits")
    if tx.find(SimBatch, "bic", bic) is not None:
        raise Conflict(f"a SIM batch with BIC {bic} already exists")
    batch_id = tx.next_id(SimBatch)
    sims = [_new_sim(tx.next_id(Sim), batch_id, model_id, tx.now_ms) for _ in range(count)]
    for sim in sims:
        tx.put(sim)
    batch = SimBatch(id=batch_id, bic=bic, sim_ids=[s.id for s in sims], model_id=model_id,
                     created_ms=tx.now_ms)
    tx.put(batch)
    return batch


def _new_sim(sim_id: int, batch_id: int, model_id: int, now_ms: int) -> Sim:
    return Sim(id=sim_id, iccid=f"{ICCID_PREFIX}{sim_id:012d}", imsi=f"{IMSI_PREFIX}{sim_id:010d}",
               msisdn=f"{MSISDN_PREFIX}{sim_id:08d}", batch_id=batch_id, model_id=model_id,
               production_ms=now_ms)


def unregistered_batch(tx: ResourceTx, bic: str) -> SimBatch:
    """The batch `bic` names, if no organisation registered it yet (else 422 as emnify answers)."""
    batch = tx.find(SimBatch, "bic", bic)
    if batch is None:
        raise Unprocessable.of("bic", f"no SIM batch has the BIC {bic!r}")
    if batch.org_id is not None:
        raise Unprocessable.of("bic", f"the SIM batch {bic} is already registered")
    return batch


def register_batch(tx: ResourceTx, actor: Actor, bic: str, status_id: int) -> list[Sim]:
    """Give the batch's SIMs to the actor's organisation in status Activated or Factory Test (event 48)."""
    if status_id not in REGISTRATION_STATUSES:
        raise Unprocessable.of("sim_status.id", "must be 1 (Activated) or 4 (Factory Test)")
    batch = unregistered_batch(tx, bic)
    sims = [_sim(tx, sim_id) for sim_id in batch.sim_ids]
    registered = [replace(s, org_id=actor.org_id, status_id=status_id,
                           activation_ms=tx.now_ms if status_id == ACTIVATED else None) for s in sims]
    for sim in registered:
        tx.put(sim)
    tx.put(replace(batch, org_id=actor.org_id, registered_ms=tx.now_ms))
    first, last = registered[0], registered[-1]
    tx.emit(_event(tx, actor, SIM_REGISTRATION, f"Batch of {len(registered)} SIM(s) registered.", first,
                   detail={"sim_batch": {"id": batch.id, "sim_model": {"id": batch.model_id},
                                         "batch_size": len(registered), "first_iccid": first.iccid,
                                         "last_iccid": last.iccid}}, with_imsi=False))
    return registered


def assign_batch(tx: ResourceTx, org_id: int, bic: str) -> list[Sim]:
    """The platform operator hands the batch to an organisation: its SIMs stay Issued (the organisation
    activates them, 8, or puts them in Factory Test, 45) and no registration event is stored — facts §A.4:
    48 "not when emnify assigns SIMs"."""
    batch = unregistered_batch(tx, bic)
    assigned = [replace(_sim(tx, sim_id), org_id=org_id) for sim_id in batch.sim_ids]
    for sim in assigned:
        tx.put(sim)
    tx.put(replace(batch, org_id=org_id, registered_ms=tx.now_ms))
    return assigned


def organisation_sim(tx: ResourceTx, org_id: int, sim_id: int) -> Sim:
    """The organisation's SIM `sim_id` (a deleted one too); another organisation's is not found."""
    sim = tx.get(Sim, sim_id)
    if sim is None or sim.org_id != org_id:
        raise NotFound(f"SIM {sim_id} not found")
    return sim


def change_status(tx: ResourceTx, actor: Actor, sim_id: int, status_id: int) -> Sim:
    """Move the SIM along a documented transition and store its event; the same status is no change."""
    sim = organisation_sim(tx, actor.org_id, sim_id)
    if status_id == sim.status_id:
        return sim
    if status_id == DELETED:
        raise Unprocessable.of("status.id", "a SIM is deleted with DELETE /api/v1/sim/{sim_id}")
    if status_id not in STATUS_NAMES:
        raise Unprocessable.of("status.id", f"unknown SIM status {status_id}")
    if status_id not in TRANSITIONS[sim.status_id]:
        raise Unprocessable.of("status.id", f"a SIM in status {STATUS_NAMES[sim.status_id]} cannot become "
                                            f"{STATUS_NAMES[status_id]}")
    changed = replace(sim, status_id=status_id,
                       activation_ms=tx.now_ms if status_id == ACTIVATED else sim.activation_ms)
    tx.put(changed)
    description = (f"Status of SIM changed from '{STATUS_NAMES[sim.status_id]}' to "
                   f"'{STATUS_NAMES[status_id]}'")
    tx.emit(_event(tx, actor, STATUS_EVENT[status_id], description, changed))
    return changed


def delete_sim(tx: ResourceTx, actor: Actor, sim_id: int) -> Sim:
    """Mark the SIM Deleted for good (event 10 with its former status); 409 while assigned."""
    sim = organisation_sim(tx, actor.org_id, sim_id)
    if sim.status_id == DELETED:
        raise NotFound(f"SIM {sim_id} not found")
    if sim.endpoint_id is not None:
        raise Conflict(f"SIM {sim_id} is assigned to endpoint {sim.endpoint_id}; release it first")
    deleted = replace(sim, status_id=DELETED)
    tx.put(deleted)
    detail = {"old_status": {"id": sim.status_id, "description": STATUS_NAMES[sim.status_id]}}
    description = ("Activated SIM got deleted" if sim.status_id == ACTIVATED
                   else f"{STATUS_NAMES[sim.status_id]} SIM got deleted")
    tx.emit(_event(tx, actor, SIM_DELETED, description, deleted, detail=detail))
    return deleted


def _sim(tx: ResourceTx, sim_id: int) -> Sim:
    sim = tx.get(Sim, sim_id)
    if sim is None:
        raise NotFound(f"SIM {sim_id} not found")
    return sim


def _event(tx: ResourceTx, actor: Actor, type_id: int, description: str, sim: Sim, *,
           detail: object = None, with_imsi: bool = True) -> Event:
    return domain_event(tx.now_ms, actor, type_id, description, endpoint=endpoint_ref(tx, sim.endpoint_id),
                        sim=sim.ref(), imsi=sim.imsi_ref() if with_imsi else None, detail=detail)


def endpoint_ref(tx: ResourceTx, endpoint_id: int | None) -> Ref | None:
    """The `endpoint` object of an event about a SIM in that endpoint."""
    if endpoint_id is None:
        return None
    endpoint = tx.get(Endpoint, endpoint_id)
    return None if endpoint is None else endpoint.ref()
