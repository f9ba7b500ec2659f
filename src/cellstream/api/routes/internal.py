"""POST /internal/v1/events: trusted producers (network core adapters, the simulator) push events.

Authenticated with a service token, not an organisation's token: a producer writes events of many
organisations. The batch is atomic, as `cellstream ingest` is: one invalid event and nothing is stored.
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from cellstream.api.auth import read_body, service_dependency
from cellstream.api.schemas import IngestResult, Problem
from cellstream.errors import Unprocessable
from cellstream.ingest.reader import read_documents
from cellstream.services import Services
from cellstream.store.protocols import ServiceToken

_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"oneOf": [{"type": "array", "items": {"type": "object"}},
                                                  {"type": "object"}]}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one event per line"}},
    },
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": IngestResult, "description": "the batch is stored"},
    401: {"model": Problem, "description": "missing or invalid service token"},
    409: {"model": Problem, "description": "an event id is already stored with different content"},
    413: {"model": Problem, "description": "body larger than CELLSTREAM_INGEST_MAX_BODY_BYTES"},
    422: {"model": Problem, "description": "invalid events; errors name each one (where) and its field"},
}


def router(services: Services) -> APIRouter:
    limit = services.settings.ingest_max_body_bytes
    Service = Annotated[ServiceToken, Depends(service_dependency(services))]
    api = APIRouter(tags=["Internal"])

    @api.post("/internal/v1/events", status_code=201, responses=RESPONSES, summary="Ingest events",
              openapi_extra={"requestBody": _BODY})
    async def ingest(request: Request, service: Service) -> JSONResponse:
        documents = list(read_documents(await read_body(request, limit), "body"))
        if not documents:
            raise Unprocessable.of("body", "holds no events: send a JSON array, one object or JSON Lines")
        result = await services.ingestor.ingest_documents(documents)
        stored = result.stored
        return JSONResponse(IngestResult(
            stored=len(stored), duplicates=result.duplicates,
            first_position=stored[0].position if stored else None,
            last_position=stored[-1].position if stored else None,
        ).model_dump(), status_code=201)

    return api
