"""/api/v2/data_stream (facts §E): emnify's Data Streamer API — create answers 201 with `Location` and an
empty body, PATCH and DELETE 202 — plus Cellstream's stats, replay, test delivery and webhook secret
rotation. Bodies are validated by the streamer service, which names the bad field in a 422."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from cellstream.api.auth import principal_dependency
from cellstream.api.schemas import RESOURCE_PROBLEMS, Problem
from cellstream.domain.principal import Principal
from cellstream.errors import Unprocessable
from cellstream.events.timefmt import parse_timestamp
from cellstream.services import Services
from cellstream.streamer.destinations import CONNECTION_TYPES, UNAVAILABLE, masked
from cellstream.streamer.model import (
    FILTER_FIELD_TYPES,
    RELATION_RESOLUTIONS,
    STATUSES,
    STREAM_TYPES,
    DataStream,
    lookup,
)

BASE = "/api/v2/data_stream"
StreamId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


class Replay(BaseModel):
    from_: str = Field(alias="from", description="a time within the stream retention (2026-11-27T10:00:00Z)")


def stream_json(stream: DataStream) -> dict[str, Any]:
    credentials = masked(stream.connection_type, stream.credentials)
    if stream.connection_type == "RestAPI":
        credentials["signing_secret"] = "<masked>"
    return {"id": stream.stream_id, "name": stream.name,
            "data_stream_type": lookup(STREAM_TYPES, stream.type_id),
            "destination": {"connection_type": stream.connection_type, "credentials": credentials,
                            "format": stream.format},
            "filters": stream.filters,
            "relation_resolution": lookup(RELATION_RESOLUTIONS, stream.relation_resolution_id),
            "status": lookup(STATUSES, stream.status_id)}


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Unprocessable.of("body", "must be a JSON object")
    return body


def router(services: Services) -> APIRouter:
    streams = services.streams
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    api = APIRouter(tags=["Data Streamer"], responses=RESOURCE_PROBLEMS)
    not_found: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "no such stream"}}

    @api.get(f"{BASE}/status", summary="Data stream statuses")
    async def statuses(caller: Caller) -> list[dict[str, Any]]:
        return [lookup(STATUSES, k) for k in STATUSES]

    @api.get(f"{BASE}/type", summary="Data stream types")
    async def types(caller: Caller) -> list[dict[str, Any]]:
        return [lookup(STREAM_TYPES, k) for k in STREAM_TYPES]

    @api.get(f"{BASE}/connection_type", summary="Connection types and whether this platform offers them")
    async def connection_types(caller: Caller) -> list[dict[str, Any]]:
        return [{"id": name, "description": name, "available": name not in UNAVAILABLE}
                for name in CONNECTION_TYPES]

    @api.get(f"{BASE}/filter_field_type", summary="Fields a stream can filter on")
    async def filter_field_types(caller: Caller) -> list[dict[str, Any]]:
        return FILTER_FIELD_TYPES

    @api.get(BASE, summary="List data streams")
    async def list_streams(caller: Caller) -> list[dict[str, Any]]:
        return [stream_json(s) for s in await streams.list(caller)]

    @api.post(BASE, status_code=201, summary="Create a data stream",
              responses={201: {"description": "created; Location names it"}})
    async def create(caller: Caller, body: Annotated[Any, Body()]) -> Response:
        stream = await streams.create(caller, _object(body))
        return Response(status_code=201, headers={"Location": f"{BASE}/{stream.stream_id}"})

    @api.get(f"{BASE}/{{data_stream_id}}", summary="Get a data stream", responses=not_found)
    async def get(caller: Caller, data_stream_id: StreamId) -> dict[str, Any]:
        return stream_json(await streams.get(caller, data_stream_id))

    @api.patch(f"{BASE}/{{data_stream_id}}", status_code=202, responses=not_found,
               summary="Change a data stream (status 2 pauses, 1 resumes)")
    async def patch(caller: Caller, data_stream_id: StreamId, body: Annotated[Any, Body()]) -> Response:
        await streams.patch(caller, data_stream_id, _object(body))
        return Response(status_code=202)

    @api.delete(f"{BASE}/{{data_stream_id}}", status_code=202, responses=not_found,
                summary="Delete a data stream")
    async def delete(caller: Caller, data_stream_id: StreamId) -> Response:
        await streams.delete(caller, data_stream_id)
        return Response(status_code=202)

    @api.post(f"{BASE}/{{data_stream_id}}/restart", status_code=202, responses=not_found,
              summary="Retry an Error stream now")
    async def restart(caller: Caller, data_stream_id: StreamId) -> Response:
        await streams.restart(caller, data_stream_id)
        return Response(status_code=202)

    @api.get(f"{BASE}/{{data_stream_id}}/stats", responses=not_found,
             summary="Delivery statistics: delivered, failures, lag, last error (Cellstream)")
    async def stats(caller: Caller, data_stream_id: StreamId) -> dict[str, Any]:
        return await streams.stats(caller, data_stream_id)

    @api.post(f"{BASE}/{{data_stream_id}}/replay", status_code=202, responses=not_found,
              summary="Deliver again everything stored since a time within the retention (Cellstream)")
    async def replay(caller: Caller, data_stream_id: StreamId, body: Replay) -> JSONResponse:
        try:
            from_ms = parse_timestamp(body.from_)
        except ValueError as exc:
            raise Unprocessable.of("from", str(exc)) from None
        position = await streams.replay(caller, data_stream_id, from_ms)
        return JSONResponse({"position": position}, status_code=202)

    @api.post(f"{BASE}/{{data_stream_id}}/test", responses=not_found,
              summary="Deliver one sample record now and report the outcome (Cellstream)")
    async def test(caller: Caller, data_stream_id: StreamId) -> dict[str, Any]:
        return await streams.test(caller, data_stream_id)

    @api.post(f"{BASE}/{{data_stream_id}}/rotate_secret", responses=not_found,
              summary="New webhook signing secret; the old one stays valid 24 hours (Cellstream)")
    async def rotate_secret(caller: Caller, data_stream_id: StreamId) -> dict[str, str]:
        return {"signing_secret": await streams.rotate_secret(caller, data_stream_id)}

    @api.get(f"{BASE}/{{data_stream_id}}/signing_secret", responses=not_found,
             summary="The webhook signing secrets in use (Administrators; Cellstream)")
    async def signing_secret(caller: Caller, data_stream_id: StreamId) -> dict[str, Any]:
        return await streams.signing_secrets(caller, data_stream_id)

    return api
