"""`/api/v1/endpoint/{id}/connectivity` (facts §H.1): what the network knows of an endpoint's SIM now.

Status: BLOCKED when the SIM or endpoint may not use the network (not activated, disabled), ONLINE with an
open data session, ATTACHED when registered in a network, OFFLINE otherwise.
"""

from __future__ import annotations

from typing import Any

from cellstream.domain import sims
from cellstream.domain.endpoint_model import ENABLED, Endpoint
from cellstream.domain.sims import Sim
from cellstream.events.timefmt import format_timestamp
from cellstream.network.operators import operator_by_id
from cellstream.network.state import NetworkState
from cellstream.store.resources import ResourceTx


def connectivity(tx: ResourceTx, endpoint: Endpoint) -> dict[str, Any]:
    sim = tx.get(Sim, endpoint.sim_id) if endpoint.sim_id is not None else None
    state = tx.get(NetworkState, sim.id) if sim is not None else None
    if sim is None or state is None:
        status = "BLOCKED" if endpoint.status_id != ENABLED else "OFFLINE"
        return {"status": {"description": status}, "location": None, "pdp_context": None}
    usable = sim.status_id in (sims.ACTIVATED, sims.FACTORY_TEST) and endpoint.status_id == ENABLED
    status = ("BLOCKED" if not usable else "ONLINE" if state.sessions
              else "ATTACHED" if state.attached else "OFFLINE")
    operator = operator_by_id(state.ps_operator_id or state.cs_operator_id or 0)
    location = None if not state.attached else {
        "iccid": sim.iccid, "imsi": sim.imsi, "last_updated": format_timestamp(state.last_seen_ms),
        "sgsn_number": state.sgsn, "vlr_number": state.vlr, "msc": state.vlr,
        "sgsn_ip_address": state.sgsn_ip,
        "operator": None if operator is None else {"id": operator.id, "name": operator.name, "country": {
            "id": operator.country.id, "name": operator.country.name}},
        "country": None if operator is None else {
            "country_id": operator.country.id, "name": operator.country.name,
            "country_code": operator.country.country_code, "mcc": operator.country.mcc,
            "iso_code": operator.country.iso_code},
    }
    session = state.sessions[-1] if state.sessions else None
    pdp = None if session is None else {
        **session.context(), "endpoint_id": endpoint.id, "organisation_id": endpoint.org_id,
        "sim_id": sim.id, "imsi_id": sim.id, "session_id": session.session_id,
        "created": format_timestamp(session.created_ms),
        "volume": {"rx": round(session.total_rx / 1e6, 6), "tx": round(session.total_tx / 1e6, 6),
                   "total": round((session.total_rx + session.total_tx) / 1e6, 6)},
    }
    return {"status": {"description": status}, "location": location, "pdp_context": pdp}
