"""POST /internal/v1/sim_batch: the platform operator's step of making SIMs — a batch of new SIMs under a
batch identification code (BIC), registered to an organisation at once when `org_id` is given.

emnify's public API only lets an organisation register a batch it was delivered (`PATCH
/api/v1/sim_batch/bic/{bic}`); who makes the batch is the operator, so this lives with the internal
routes and takes a service token. `cellstream simulate --target` uses it to provision its fleet.
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from cellstream.api.auth import service_dependency
from cellstream.api.schemas import Problem, problem_responses
from cellstream.domain import sims
from cellstream.services import Services
from cellstream.store.protocols import ServiceToken

RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "the new SIMs: {\"sim\": [{\"id\", \"iccid\", \"imsi\"}]} (event 48 stored when "
                         "registered to an organisation)"},
    401: {"model": Problem, "description": "missing or invalid service token"},
    404: {"model": Problem, "description": "no such organisation"},
    409: {"model": Problem, "description": "a batch with this BIC exists already"},
    422: {"model": Problem, "description": "count out of range, malformed BIC or a status other than 1 "
                                           "(Activated) or 4 (Factory Test)"},
}


class SimBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int
    bic: str
    org_id: int | None = None  # None: the SIMs stay with the platform until an organisation registers them
    status_id: int = sims.ACTIVATED


def router(services: Services) -> APIRouter:
    connectivity = services.connectivity
    Service = Annotated[ServiceToken, Depends(service_dependency(services))]
    api = APIRouter(tags=["Internal"], responses=problem_responses(400, 401, 404, 409, 413, 422))

    @api.post("/internal/v1/sim_batch", status_code=201, responses=RESPONSES, summary="Provision SIMs")
    async def provision(body: SimBatchRequest, service: Service) -> JSONResponse:
        made = await connectivity.provision_sims(count=body.count, bic=body.bic, org_id=body.org_id,
                                                 status_id=body.status_id)
        return JSONResponse({"sim": [{"id": s.id, "iccid": s.iccid, "imsi": s.imsi} for s in made]},
                            status_code=201)

    return api
