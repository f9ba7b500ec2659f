"""The checks every admission starts with, data and SMS alike: a SIM that may be served, in an enabled
endpoint.

A SIM in Factory Test may be served (it activates itself once it used the factory-test volume, see
cellstream.policy.factory_test); Issued and Suspended SIMs may not (Deleted ones the Network source refuses
before asking Policy Control). A SIM that sits in no endpoint has no service profile and is refused too.
"""

from __future__ import annotations

from cellstream.domain import sims
from cellstream.domain.endpoint_model import ENABLED
from cellstream.domain.subscriber import Subscriber

USABLE_SIM_STATUSES = (sims.ACTIVATED, sims.FACTORY_TEST)

SIM_NOT_ACTIVATED = "SIM is not activated"  # documented (event 3)
NO_ENDPOINT = "SIM is not assigned to an endpoint"  # Cellstream's wording: no documented text
ENDPOINT_DISABLED = "endpoint is disabled"  # Cellstream's wording: no documented text


def access_refusal(sub: Subscriber) -> str | None:
    """Why the subscriber may not be served at all, or None."""
    if sub.sim.status_id not in USABLE_SIM_STATUSES:
        return SIM_NOT_ACTIVATED
    if sub.endpoint is None:
        return NO_ENDPOINT
    if sub.endpoint.status_id != ENABLED:
        return ENDPOINT_DISABLED
    return None
