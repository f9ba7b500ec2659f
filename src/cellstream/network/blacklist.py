"""Operators an endpoint must not use (`/api/v1/endpoint/{id}/operator_blacklist`): a registration in such
a network is refused with the documented Warn location event, so the device moves to another network."""

from __future__ import annotations

from msgspec.structs import replace

from cellstream.domain.endpoints import organisation_endpoint
from cellstream.errors import Conflict, NotFound
from cellstream.network.operators import Operator, operator_by_id
from cellstream.store.resources import Record, ResourceTx

NOT_SUPPORTED = ("This operator is currently not supported for this IMSI. A different IMSI or operator will "
                 "be used for the network registration.")


class OperatorBlacklist(Record, kw_only=True):
    KIND = "operator_blacklist"  # one per endpoint, sharing its id
    operator_ids: list[int]


def blacklisted(tx: ResourceTx, endpoint_id: int) -> list[int]:
    found = tx.get(OperatorBlacklist, endpoint_id)
    return [] if found is None else found.operator_ids


def list_operators(tx: ResourceTx, org_id: int, endpoint_id: int) -> list[Operator]:
    organisation_endpoint(tx, org_id, endpoint_id)
    return [o for o in (operator_by_id(i) for i in blacklisted(tx, endpoint_id)) if o is not None]


def add(tx: ResourceTx, org_id: int, endpoint_id: int, operator_id: int) -> None:
    organisation_endpoint(tx, org_id, endpoint_id)
    if operator_by_id(operator_id) is None:
        raise NotFound(f"Operator with id '{operator_id}' not found")
    current = tx.get(OperatorBlacklist, endpoint_id) or OperatorBlacklist(id=endpoint_id, org_id=org_id,
                                                                           operator_ids=[])
    if operator_id in current.operator_ids:
        raise Conflict(f"Operator with Id '{operator_id}' is already blacklisted on Endpoint with Id "
                       f"'{endpoint_id}'.")
    tx.put(replace(current, operator_ids=sorted([*current.operator_ids, operator_id])))


def remove(tx: ResourceTx, org_id: int, endpoint_id: int, operator_id: int) -> None:
    organisation_endpoint(tx, org_id, endpoint_id)
    current = tx.get(OperatorBlacklist, endpoint_id)
    if current is None or operator_id not in current.operator_ids:
        raise NotFound(f"Operator with id '{operator_id}' not found")
    tx.put(replace(current, operator_ids=[i for i in current.operator_ids if i != operator_id]))
