"""Who a domain change is made for and by: the organisation and user objects its API events carry."""

from __future__ import annotations

from dataclasses import dataclass

from cellstream.domain.principal import Principal
from cellstream.events.model import Ref
from cellstream.store.protocols import AccountStore

AUTOMATION_PREFIX = "automation:"


@dataclass(frozen=True)
class Actor:
    organisation: Ref  # {"id", "name"}
    user: Ref | None  # {"id", "name", "username"}; None for an application token or the platform

    @property
    def org_id(self) -> int:
        return int(self.organisation["id"])


async def actor_of(accounts: AccountStore, principal: Principal) -> Actor:
    org = await accounts.get_organisation(principal.org_id)
    organisation: Ref = {"id": principal.org_id} if org is None else {"id": org.id, "name": org.name}
    if principal.automation is not None:  # the events it causes name it: loops are told apart by this
        uuid, name = principal.automation
        # user id 0: no real user acted (events require an integer id on every reference)
        return Actor(organisation, {"id": 0, "name": f"Automation {name}",
                                    "username": f"{AUTOMATION_PREFIX}{uuid}"})
    if principal.user_id is None:
        return Actor(organisation, None)
    user = await accounts.get_user(principal.user_id)
    if user is None:
        return Actor(organisation, {"id": principal.user_id})
    return Actor(organisation, {"id": user.id, "name": user.name, "username": user.username})
