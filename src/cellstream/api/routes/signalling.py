"""POST /internal/v1/signalling: a mobile core (or the simulator in --target mode) hands over signalling
records (cellstream.network.signalling); the answer holds one verdict per record, in order.

Authenticated with a service token, like /internal/v1/events. The batch is one transaction: records
are processed in order and either all of their effects are stored or none (a malformed batch is refused
whole with 422 before anything runs).
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cellstream.api.auth import read_body, service_dependency
from cellstream.api.schemas import Problem, problem_responses
from cellstream.errors import Unprocessable
from cellstream.network.signalling import decode_signals
from cellstream.services import Services
from cellstream.store.protocols import ServiceToken

_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "array", "items": {"type": "object", "required": ["kind", "imsi", "ts_ms"], "properties": {
        "kind": {"type": "string", "enum": ["update_location", "update_gprs_location", "purge_location",
                                           "purge_gprs_location", "create_pdp_context", "data_usage",
                                           "delete_pdp_context", "sms", "external"]},
        "imsi": {"type": "string"}, "ts_ms": {"type": "integer"}}}}}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "one verdict per record: {accepted, reason?, max_bytes_per_s?}",
          "content": {"application/json": {"schema": {"type": "object", "properties": {
              "verdicts": {"type": "array", "items": {"type": "object"}}}}}}},
    401: {"model": Problem, "description": "missing or invalid service token"},
    413: {"model": Problem, "description": "body larger than CELLSTREAM_INGEST_MAX_BODY_BYTES"},
    422: {"model": Problem, "description": "malformed records; the message names the record and field"},
}
_encoder = msgspec.json.Encoder()


def router(services: Services) -> APIRouter:
    limit = services.settings.ingest_max_body_bytes
    Service = Annotated[ServiceToken, Depends(service_dependency(services))]
    api = APIRouter(tags=["Internal"], responses=problem_responses(400, 401, 413, 422))

    @api.post("/internal/v1/signalling", responses=RESPONSES, summary="Submit signalling records",
              openapi_extra={"requestBody": _BODY})
    async def submit(request: Request, service: Service) -> Response:
        body = await read_body(request, limit)
        try:
            records = decode_signals(body)
        except msgspec.ValidationError as exc:
            raise Unprocessable.of(_field(str(exc)), str(exc)) from None
        except msgspec.DecodeError as exc:
            raise Unprocessable.of("body", f"is not a JSON array of records: {exc}") from None
        if not records:
            raise Unprocessable.of("body", "holds no records")
        verdicts = await services.network.submit(records)
        return Response(_encoder.encode({"verdicts": verdicts}), media_type="application/json")

    return api


def _field(message: str) -> str:
    """msgspec names the place as "... - at `$[3].rx_bytes`": report `[3].rx_bytes`."""
    _, _, where = message.rpartition("at `$")
    return where.rstrip("`") or "body"
