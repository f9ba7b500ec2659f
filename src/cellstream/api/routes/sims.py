"""/api/v1/sim and /api/v1/sim_batch/bic/{bic} (facts §H.2): list, get, status change, delete; batch
validation and registration. Shapes follow emnify's SIM object; numbers are strings, as in its lists."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from cellstream.api.auth import principal_dependency
from cellstream.api.listing import list_params
from cellstream.api.resource_lists import LIST_HEADERS, ListField, order, page_response, select, unglue
from cellstream.api.schemas import RESOURCE_PROBLEMS, Problem
from cellstream.domain import sims
from cellstream.domain.principal import Principal
from cellstream.domain.sims import Sim, SimBatch
from cellstream.errors import Unprocessable
from cellstream.events.timefmt import format_timestamp
from cellstream.services import Services

MAX_PER_PAGE = 1000
SIM_FIELDS: dict[str, ListField[Sim]] = {
    "id": ListField(lambda s: s.id), "iccid": ListField(lambda s: s.iccid, "prefix"),
    "imsi": ListField(lambda s: s.imsi), "msisdn": ListField(lambda s: s.msisdn),
    "status": ListField(lambda s: s.status_id), "endpoint": ListField(lambda s: s.endpoint_id),
    "model": ListField(lambda s: s.model_id), "customer_org": ListField(lambda s: s.org_id),
    "issuer_org": ListField(lambda s: None), "reseller_org": ListField(lambda s: None),
    "production_date": ListField(lambda s: format_timestamp(s.production_ms), "date"),
}
SORTS: dict[str, Any] = {
    "id": lambda s: s.id, "iccid": lambda s: s.iccid, "status": lambda s: s.status_id,
    "msisdn": lambda s: s.msisdn, "imsi": lambda s: s.imsi, "endpoint": lambda s: s.endpoint_id,
    "production_date": lambda s: s.production_ms, "model": lambda s: s.model_id,
    "customer_org": lambda s: s.org_id, "issuer_org": lambda s: None, "reseller_org": lambda s: None,
}
SORT_ALIASES = {"customer_prg": "customer_org"}  # the official SDK's spelling of CUSTOMER_ORG
SimId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class StatusRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int


class SimPatch(BaseModel):
    """Only `status` changes here; the organisation fields emnify lets resellers set are refused."""
    model_config = ConfigDict(extra="forbid")
    status: StatusRef


class BatchRegistration(BaseModel):
    """The docs send `{"sim_status": {"id": 1}}`; the official Python SDK sends the status object itself,
    `{"id": 1, "description": "Activated"}`. Both are read."""
    model_config = ConfigDict(extra="forbid")
    sim_status: StatusRef | None = None
    id: int | None = None
    description: str | None = None

    def status_id(self) -> int:
        if self.sim_status is not None:
            return self.sim_status.id
        if self.id is None:
            raise Unprocessable.of("sim_status.id", "is required")
        return self.id


def sim_json(sim: Sim) -> dict[str, Any]:
    status = {"id": sim.status_id, "description": sims.STATUS_NAMES[sim.status_id]}
    return {
        "id": sim.id, "iccid": sim.iccid, "iccid_with_luhn": sim.iccid_with_luhn,
        "production_date": format_timestamp(sim.production_ms),
        "activation_date": None if sim.activation_ms is None else format_timestamp(sim.activation_ms),
        "status": status, "imsi": sim.imsi, "msisdn": sim.msisdn,
        "endpoint": None if sim.endpoint_id is None else {"id": sim.endpoint_id},
        "customer_org": None if sim.org_id is None else {"id": sim.org_id},
        "model": {"id": sim.model_id},
    }


def batch_json(batch: SimBatch) -> dict[str, Any]:
    return {"id": batch.id, "bic": batch.bic, "quantity": str(len(batch.sim_ids)),
            "sim_model_id": str(batch.model_id), "status": {"id": 0, "description": "IN STOCK"},
            "model": {"id": batch.model_id}}


def router(services: Services) -> APIRouter:
    connectivity = services.connectivity
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    api = APIRouter(tags=["SIMs"], responses=RESOURCE_PROBLEMS)
    problems: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem, "description": "missing, invalid or expired auth token"},
        404: {"model": Problem, "description": "no such SIM in this organisation"},
    }

    @api.get("/api/v1/sim", summary="List the organisation's SIMs", responses={
        200: {"description": "one page of SIMs", "headers": LIST_HEADERS},
        400: {"model": Problem, "description": "bad page, per_page or sort"}, 401: problems[401],
        422: {"model": Problem, "description": "bad q"}})
    async def list_sims(request: Request, caller: Caller) -> JSONResponse:
        params = list_params(request, MAX_PER_PAGE, MAX_PER_PAGE)
        q = unglue(params.q, "endpoint:null")
        everything = order(select(await connectivity.list_sims(caller), q, SIM_FIELDS), params.sort, SORTS,
                           SORT_ALIASES)
        return page_response(request, params, everything, sim_json)

    @api.get("/api/v1/sim/status", summary="SIM statuses")
    async def sim_statuses(caller: Caller) -> JSONResponse:
        return JSONResponse([{"id": k, "description": v} for k, v in sims.STATUS_NAMES.items()])

    @api.get("/api/v1/sim/{sim_id}", summary="One SIM", responses={401: problems[401], 404: problems[404]})
    async def get_sim(caller: Caller, sim_id: SimId) -> JSONResponse:
        return JSONResponse(sim_json(await connectivity.get_sim(caller, sim_id)))

    @api.patch("/api/v1/sim/{sim_id}", status_code=204, summary="Change a SIM's status", responses={
        204: {"description": "changed (event 8, 9 or 45 stored)"}, **problems,
        422: {"model": Problem, "description": "a transition the SIM lifecycle does not allow"}})
    async def patch_sim(caller: Caller, sim_id: SimId, body: SimPatch) -> Response:
        await connectivity.change_sim_status(caller, sim_id, body.status.id)
        return Response(status_code=204)

    @api.delete("/api/v1/sim/{sim_id}", status_code=204, summary="Delete a SIM for good", responses={
        204: {"description": "deleted (event 10 stored)"}, **problems,
        409: {"model": Problem, "description": "the SIM is assigned to an endpoint"}})
    async def delete_sim(caller: Caller, sim_id: SimId) -> Response:
        await connectivity.delete_sim(caller, sim_id)
        return Response(status_code=204)

    @api.get("/api/v1/sim_batch/bic/{bic}", summary="Validate a batch identification code", responses={
        401: problems[401], 422: {"model": Problem, "description": "unknown or already registered"}})
    async def validate_batch(caller: Caller, bic: str) -> JSONResponse:
        return JSONResponse(batch_json(await connectivity.validate_batch(caller, bic)))

    @api.patch("/api/v1/sim_batch/bic/{bic}", summary="Register a SIM batch", responses={
        200: {"description": "the registered SIMs (event 48 stored)"}, 401: problems[401],
        422: {"model": Problem, "description": "unknown or already registered BIC, or a status other "
                                               "than 1 (Activated) or 4 (Factory Test)"}})
    async def register_batch(caller: Caller, bic: str, body: BatchRegistration) -> JSONResponse:
        registered = await connectivity.register_batch(caller, bic, body.status_id())
        return JSONResponse({"sim": [{"id": s.id, "iccid": s.iccid} for s in registered]})

    return api
