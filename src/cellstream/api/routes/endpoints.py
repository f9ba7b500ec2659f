"""/api/v1/endpoint (facts §H.1): list with paging headers, create (201 with Location), get, patch (204),
delete (204; 409 while a SIM is in it). Request fields emnify's clients send beyond the documented ones
are accepted and ignored, so unchanged clients keep working."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from cellstream.api.auth import principal_dependency
from cellstream.api.listing import list_params
from cellstream.api.resource_lists import LIST_HEADERS, ListField, order, page_response, select
from cellstream.api.schemas import RESOURCE_PROBLEMS, IdRef, Problem
from cellstream.domain import sims
from cellstream.domain.endpoint_model import STATUS_NAMES
from cellstream.domain.endpoints import UNSET, EndpointChanges, EndpointDetails, SimChoice
from cellstream.domain.principal import Principal
from cellstream.errors import Unprocessable
from cellstream.events.timefmt import format_timestamp
from cellstream.services import Services

MAX_PER_PAGE = 1000
EndpointId = Annotated[int, Path(ge=1, le=2**63 - 1)]
SORTS: dict[str, Any] = {
    "id": lambda d: d.endpoint.id, "name": lambda d: d.endpoint.name,
    "status": lambda d: d.endpoint.status_id, "ip_address": lambda d: d.endpoint.ip_address,
    "created": lambda d: d.endpoint.created_ms, "last_updated": lambda d: d.endpoint.last_updated_ms,
    "tags": lambda d: d.endpoint.tags, "imei": lambda d: d.endpoint.imei,
}
FIELDS: dict[str, ListField[EndpointDetails]] = {
    "id": ListField(lambda d: d.endpoint.id), "name": ListField(lambda d: d.endpoint.name, "text"),
    "tags": ListField(lambda d: d.endpoint.tags, "text"), "status": ListField(lambda d: d.endpoint.status_id),
    "ip_address": ListField(lambda d: d.endpoint.ip_address), "imei": ListField(lambda d: d.endpoint.imei),
    "sim_status": ListField(lambda d: d.sim.status_id if d.sim else None),
    "iccid": ListField(lambda d: d.sim.iccid if d.sim else None, "prefix"),
    "imsi": ListField(lambda d: d.sim.imsi if d.sim else None),
    "created": ListField(lambda d: format_timestamp(d.endpoint.created_ms), "date"),
    "last_updated": ListField(lambda d: format_timestamp(d.endpoint.last_updated_ms), "date"),
}



class SimRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int | None  # `{"sim": {"id": null}}` (the official Python SDK's release) is `"sim": null`
    activate: bool | None = None
    status: IdRef | None = None


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    tags: str | None = None
    status: IdRef | None = None
    service_profile: IdRef | None = None
    tariff_profile: IdRef | None = None
    ip_address: str | None = None
    ip_address_space: IdRef | None = None
    imei: str | int | None = None
    imei_lock: bool | None = None
    sim: SimRef | None = None


def changes_of(body: EndpointBody) -> EndpointChanges:
    """Only the fields the request names; `"sim": null` or `"sim": {"id": null}` takes the SIM out."""
    given = body.model_fields_set

    def ref(name: str) -> Any:
        value = getattr(body, name)
        if name not in given:
            return UNSET
        if value is None:
            raise Unprocessable.of(f"{name}.id", "must not be null")
        return value.id

    sim: Any = UNSET
    if "sim" in given:
        if body.sim is None or body.sim.id is None:
            sim = None
        else:
            status = body.sim.status.id if body.sim.status is not None else (
                sims.ACTIVATED if body.sim.activate else None)
            sim = SimChoice(body.sim.id, status)
    return EndpointChanges(
        name=body.name if "name" in given else UNSET, tags=body.tags if "tags" in given else UNSET,
        status_id=ref("status"), service_profile_id=ref("service_profile"),
        tariff_profile_id=ref("tariff_profile"),
        ip_address=body.ip_address if "ip_address" in given else UNSET,
        imei=body.imei if "imei" in given else UNSET,
        imei_lock=body.imei_lock if "imei_lock" in given else UNSET, sim=sim)


def endpoint_json(details: EndpointDetails) -> dict[str, Any]:
    e, sim = details.endpoint, details.sim
    return {
        "id": e.id, "name": e.name, "tags": e.tags,
        "created": format_timestamp(e.created_ms), "last_updated": format_timestamp(e.last_updated_ms),
        "status": {"id": e.status_id, "description": STATUS_NAMES[e.status_id]},
        "service_profile": {"id": e.service_profile_id,
                            "name": details.service_profile.name if details.service_profile else None},
        "tariff_profile": {"id": e.tariff_profile_id,
                           "name": details.tariff_profile.name if details.tariff_profile else None},
        "ip_address": e.ip_address, "ip_address_space": {"id": e.ip_address_space_id},
        "sim": None if sim is None else {
            "id": sim.id, "iccid": sim.iccid, "iccid_with_luhn": sim.iccid_with_luhn, "eid": None,
            "imsi": sim.imsi, "msisdn": sim.msisdn,
            "status": {"id": sim.status_id, "description": sims.STATUS_NAMES[sim.status_id]}},
        "imei": e.imei, "imei_lock": e.imei_lock,
    }


def router(services: Services) -> APIRouter:
    connectivity = services.connectivity
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    api = APIRouter(prefix="/api/v1/endpoint", tags=["Endpoints"], responses=RESOURCE_PROBLEMS)
    problems: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem, "description": "missing, invalid or expired auth token"},
        404: {"model": Problem, "description": "no such endpoint in this organisation"},
        422: {"model": Problem, "description": "a field is invalid or names something that is not there"},
    }

    @api.get("", summary="List endpoints", responses={
        200: {"description": "one page of endpoints", "headers": LIST_HEADERS},
        400: {"model": Problem, "description": "bad page, per_page or sort"}, 401: problems[401],
        422: {"model": Problem, "description": "bad q"}})
    async def list_endpoints(request: Request, caller: Caller) -> JSONResponse:
        params = list_params(request, MAX_PER_PAGE, MAX_PER_PAGE)
        everything = order(select(await connectivity.list_endpoints(caller), params.q, FIELDS), params.sort,
                           SORTS)
        return page_response(request, params, everything, endpoint_json)

    @api.get("/status", summary="Endpoint statuses")
    async def statuses(caller: Caller) -> JSONResponse:
        return JSONResponse([{"id": k, "description": v} for k, v in STATUS_NAMES.items()])

    @api.post("", status_code=201, response_class=Response, summary="Create an endpoint", responses={
        201: {"description": "created; Location names it (SIM events stored when a SIM is given)"},
        401: problems[401], 422: problems[422]})
    async def create(request: Request, caller: Caller, body: EndpointBody) -> Response:
        endpoint = await connectivity.create_endpoint(caller, changes_of(body))
        return Response(status_code=201, headers={"Location": f"{request.url.path}/{endpoint.id}"})

    @api.get("/{endpoint_id}", summary="One endpoint", responses={401: problems[401], 404: problems[404]})
    async def get(caller: Caller, endpoint_id: EndpointId) -> JSONResponse:
        return JSONResponse(endpoint_json(await connectivity.get_endpoint(caller, endpoint_id)))

    @api.patch("/{endpoint_id}", status_code=204, summary="Change an endpoint", responses={
        204: {"description": "changed (status → 42/43, SIM → 50/51)"}, **problems})
    async def patch(caller: Caller, endpoint_id: EndpointId, body: EndpointBody) -> Response:
        await connectivity.update_endpoint(caller, endpoint_id, changes_of(body))
        return Response(status_code=204)

    @api.delete("/{endpoint_id}", status_code=204, summary="Delete an endpoint", responses={
        204: {"description": "deleted"}, 401: problems[401], 404: problems[404],
        409: {"model": Problem, "description": "a SIM is still assigned"}})
    async def delete(caller: Caller, endpoint_id: EndpointId) -> Response:
        await connectivity.delete_endpoint(caller, endpoint_id)
        return Response(status_code=204)

    return api
