"""The network as the API shows it (facts §H.1): an endpoint's connectivity and its reset, its operator
blacklist, and the operator and country lookups."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from cellstream.api.auth import principal_dependency
from cellstream.api.schemas import RESOURCE_PROBLEMS, IdRef, Problem
from cellstream.domain.principal import Principal
from cellstream.domain.sims import Sim
from cellstream.errors import NotFound, Unprocessable
from cellstream.network import sms
from cellstream.network.operators import countries, operators
from cellstream.network.sms import SmsMessage
from cellstream.services import Services

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


def router(services: Services) -> APIRouter:
    network = services.network
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    api = APIRouter(tags=["Network"], responses=RESOURCE_PROBLEMS)
    not_found: dict[int | str, dict[str, Any]] = {
        404: {"model": Problem, "description": "no such endpoint (or operator) here"}}

    @api.get("/api/v1/endpoint/{endpoint_id}/connectivity", summary="Connectivity of an endpoint",
             responses=not_found)
    async def get_connectivity(caller: Caller, endpoint_id: Id) -> JSONResponse:
        return JSONResponse(await network.connectivity(caller, endpoint_id))

    @api.patch("/api/v1/endpoint/{endpoint_id}/connectivity", status_code=204, responses={
        **not_found, 204: {"description": "reset: sessions ended (5), with location also purged (15, 16)"},
        422: {"model": Problem, "description": "the body is neither {\"location\": null} nor "
                                               "{\"pdp_context\": null}"}},
        summary="Reset connectivity")
    async def reset(caller: Caller, endpoint_id: Id,
                    body: Annotated[dict[str, Any], Body(examples=[{"location": None}])]) -> Response:
        if not body or set(body) - {"location", "pdp_context"} or any(v is not None for v in body.values()):
            raise Unprocessable.of("body", 'send {"location": null} and/or {"pdp_context": null}')
        await network.reset_connectivity(caller, endpoint_id, location="location" in body)
        return Response(status_code=204)

    @api.get("/api/v1/endpoint/{endpoint_id}/operator_blacklist", summary="Operators the endpoint avoids",
             responses=not_found)
    async def get_blacklist(caller: Caller, endpoint_id: Id) -> JSONResponse:
        return JSONResponse([o.event_detail() for o in await network.operator_blacklist(caller, endpoint_id)])

    @api.put("/api/v1/endpoint/{endpoint_id}/operator_blacklist/{operator_id}", status_code=204, responses={
        **not_found, 409: {"model": Problem, "description": "already blacklisted"}},
        summary="Blacklist an operator for the endpoint")
    async def add(caller: Caller, endpoint_id: Id, operator_id: Id) -> Response:
        await network.change_blacklist(caller, endpoint_id, operator_id, add=True)
        return Response(status_code=204)

    @api.delete("/api/v1/endpoint/{endpoint_id}/operator_blacklist/{operator_id}", status_code=204,
                responses=not_found, summary="Allow an operator again")
    async def remove(caller: Caller, endpoint_id: Id, operator_id: Id) -> Response:
        await network.change_blacklist(caller, endpoint_id, operator_id, add=False)
        return Response(status_code=204)

    @api.get("/api/v1/endpoint/{endpoint_id}/sms", summary="The endpoint's short messages, newest first",
             responses=not_found)
    async def list_sms(caller: Caller, endpoint_id: Id) -> JSONResponse:
        endpoint, messages, sims = await network.list_sms(caller, endpoint_id)
        return JSONResponse([_sms_json(m, endpoint.name, sims) for m in messages])

    @api.get("/api/v1/endpoint/{endpoint_id}/sms/{sms_id}", summary="One short message", responses=not_found)
    async def get_sms(caller: Caller, endpoint_id: Id, sms_id: Id) -> JSONResponse:
        endpoint, messages, sims = await network.list_sms(caller, endpoint_id)
        for message in messages:
            if message.id == sms_id:
                return JSONResponse(_sms_json(message, endpoint.name, sims))
        raise NotFound(f"SMS {sms_id} of endpoint {endpoint_id} not found")

    @api.post("/api/v1/endpoint/{endpoint_id}/sms", status_code=201, summary="Send an SMS to the endpoint",
              responses={201: {"description": "kept, DELIVERED or FAILED; Location names it"}, **not_found})
    async def send_sms(request: Request, caller: Caller, endpoint_id: Id, body: SmsBody) -> JSONResponse:
        source, source_type = _source(body)
        if len(body.payload) > sms.MAX_PAYLOAD:
            raise Unprocessable.of("payload", f"at most {sms.MAX_PAYLOAD} characters; send longer text in "
                                              "parts with a udh")
        message = await network.send_sms(caller, endpoint_id, payload=body.payload, source=source,
                                         source_type=source_type, udh=body.udh or "")
        return JSONResponse({"id": message.id}, status_code=201,
                            headers={"Location": f"{request.url.path}/{message.id}"})

    @api.get("/api/v1/operator", summary="Mobile network operators")
    async def list_operators(caller: Caller) -> JSONResponse:
        return JSONResponse([o.as_json() for o in operators()])

    @api.get("/api/v1/country", summary="Countries")
    async def list_countries(caller: Caller) -> JSONResponse:
        return JSONResponse([c.as_json() for c in countries(geographic=True)])

    return api



class SmsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    payload: str
    source_address: str | int | None = None
    dest_address: str | int | None = None
    source_address_type: IdRef | None = None
    udh: str | None = None


def _source(body: SmsBody) -> tuple[str, int]:
    kind = body.source_address_type.id if body.source_address_type else sms.NATIONAL
    if body.source_address is None and body.dest_address is None and body.source_address_type is None:
        # no sender: the docs require none, and emnify takes `{"payload": …}` alone (the Python SDK sends it)
        return "", kind
    if kind not in sms.ADDRESS_TYPES:
        raise Unprocessable.of("source_address_type.id", "must be 161 (National), 145 (International) or "
                                                         "208 (Alphanumeric)")
    source = str(body.source_address if body.source_address is not None else body.dest_address or "")
    if kind == sms.ALPHANUMERIC:
        if not (source.isascii() and source.isalnum() and 0 < len(source) <= sms.MAX_ALPHANUMERIC):
            raise Unprocessable.of("source_address", "an alphanumeric sender is 1 to 11 letters and digits")
    elif not (source.isascii() and source.isdigit()):
        raise Unprocessable.of("source_address", "must be a number (or use source_address_type 208)")
    return source, kind


def _sms_json(message: SmsMessage, endpoint_name: str, sims: dict[int, Sim]) -> dict[str, Any]:
    sim = sims.get(message.sim_id) if message.sim_id is not None else None
    return sms.sms_json(message, endpoint_name=endpoint_name, iccid=sim.iccid if sim else None,
                        msisdn=sim.msisdn if sim else None, imsi=sim.imsi if sim else None)
