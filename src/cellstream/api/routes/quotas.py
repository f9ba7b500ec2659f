"""/api/v1/endpoint/{endpoint_id}/quota/data and …/quota/sms (facts §H.4): get (200/404), assign (201,
event 56/58), delete (204/404, event 57/59)."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from cellstream.api.auth import principal_dependency
from cellstream.api.schemas import RESOURCE_PROBLEMS, IdRef, Problem
from cellstream.domain import quotas
from cellstream.domain.principal import Principal
from cellstream.domain.quotas import Kind, Quota, QuotaRequest
from cellstream.errors import Unprocessable
from cellstream.events.timefmt import format_timestamp, parse_timestamp
from cellstream.services import Services

EndpointId = Annotated[int, Path(ge=1, le=2**63 - 1)]



class ActionRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    peak_throughput: int | None = None


class QuotaBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: IdRef
    volume: float
    expiry_date: str
    auto_refill: bool | int = False
    threshold_percentage: float | None = None
    action_on_exhaustion: ActionRef | None = None
    peak_throughput: int | None = None  # the GET shape puts it here; accepted on POST too


def request_of(body: QuotaBody) -> QuotaRequest:
    try:
        expiry = parse_timestamp(body.expiry_date)
    except ValueError as exc:
        raise Unprocessable.of("expiry_date", str(exc)) from None
    action = body.action_on_exhaustion
    peak = action.peak_throughput if action is not None and action.peak_throughput else body.peak_throughput
    return QuotaRequest(status_id=body.status.id, volume=body.volume, expiry_ms=expiry,
                        auto_refill=bool(body.auto_refill), threshold_percentage=body.threshold_percentage,
                        action_id=action.id if action is not None else quotas.BLOCK, peak_throughput=peak)


def quota_json(kind: Kind, quota: Quota) -> dict[str, Any]:
    out: dict[str, Any] = {
        "volume": round(quota.volume, 6), "expiry_date": format_timestamp(quota.expiry_ms),
        "last_volume_added": quota.last_volume_added,
        "last_status_change_date": format_timestamp(quota.last_status_change_ms),
        # emnify's data quota says 0/1, its SMS quota a boolean
        "auto_refill": int(quota.auto_refill) if kind == "data" else quota.auto_refill,
        "threshold_percentage": quota.threshold_percentage,
        "threshold_volume": round(quota.threshold_volume, 6),
        "status": {"description": quotas.STATUS_NAMES[quota.status_id], "id": quota.status_id},
        "action_on_exhaustion": {"action_on_quota_exhaustion_id": str(quota.action_id),
                                 "description": quotas.ACTION_NAMES[quota.action_id], "id": quota.action_id},
    }
    if kind == "data":
        out["peak_throughput"] = quota.peak_throughput
    return out


def router(services: Services) -> APIRouter:
    api = APIRouter(tags=["Quotas"], responses=RESOURCE_PROBLEMS)
    for kind in ("data", "sms"):
        _add_routes(api, services, kind)
    return api


def _add_routes(api: APIRouter, services: Services, kind: Kind) -> None:
    connectivity = services.connectivity
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    path = f"/api/v1/endpoint/{{endpoint_id}}/quota/{kind}"
    label = "data" if kind == "data" else "SMS"
    assigned, deleted = quotas.EVENTS[kind]
    problems: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem, "description": "missing, invalid or expired auth token"},
        404: {"model": Problem, "description": "no such endpoint, or it has no such quota"},
    }

    @api.get(path, summary=f"The endpoint's {label} quota", name=f"get_{kind}_quota", responses=problems)
    async def get(caller: Caller, endpoint_id: EndpointId) -> JSONResponse:
        return JSONResponse(quota_json(kind, await connectivity.get_quota(caller, kind, endpoint_id)))

    @api.post(path, status_code=201, response_class=Response, summary=f"Assign a {label} quota",
              name=f"assign_{kind}_quota",
              responses={201: {"description": f"assigned (event {assigned} stored)"}, **problems,
                         422: {"model": Problem, "description": "invalid field"}})
    async def assign(caller: Caller, endpoint_id: EndpointId, body: QuotaBody) -> Response:
        await connectivity.assign_quota(caller, kind, endpoint_id, request_of(body))
        return Response(status_code=201)

    @api.delete(path, status_code=204, summary=f"Delete the {label} quota", name=f"delete_{kind}_quota",
                responses={204: {"description": f"deleted (event {deleted} stored)"}, **problems})
    async def delete(caller: Caller, endpoint_id: EndpointId) -> Response:
        await connectivity.delete_quota(caller, kind, endpoint_id)
        return Response(status_code=204)
