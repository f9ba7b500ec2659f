"""The organisations Policy Control knows, so its periodic sweep can find their quotas.

The resource port lists records one organisation at a time and holds no list of organisations (those live
in the account store, which a resource transaction cannot read). Policy Control therefore notes every
organisation it meets — at each admission and charge, and when a cost limit is set — in a platform-held
WatchedOrganisation record, with the name its events carry. The sweep visits those, plus any the caller
names.
"""

from __future__ import annotations

from cellstream.domain.subscriber import Subscriber
from cellstream.policy.records import WatchedOrganisation
from cellstream.store.resources import ResourceTx


def watch_organisation(tx: ResourceTx, org_id: int, name: str | None) -> None:
    """Note the organisation (and its name, when known and new); a read and no write once known."""
    known = tx.get(WatchedOrganisation, org_id)
    if known is None or (name is not None and known.name != name):
        tx.put(WatchedOrganisation(id=org_id, org_id=None, name=name))


def watch(tx: ResourceTx, sub: Subscriber) -> None:
    name = sub.actor.organisation.get("name")
    watch_organisation(tx, sub.org_id, None if name is None else str(name))


def watched(tx: ResourceTx) -> dict[int, str | None]:
    """Every organisation noted so far, with its name if known."""
    return {w.id: w.name for w in tx.scan(WatchedOrganisation, None)}
