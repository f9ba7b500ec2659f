"""/api/v1/event/custom/… (facts §G.3): the custom-event templates and the configurations deployed from
them. Deploy answers 201 with the CustomEvent, delete 200; an invalid body is a 422 naming the field."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path
from fastapi.responses import JSONResponse

from cellstream.api.auth import principal_dependency
from cellstream.api.schemas import RESOURCE_PROBLEMS, Problem
from cellstream.automations.custom.service import CustomEvents
from cellstream.domain.principal import Principal
from cellstream.errors import Unprocessable
from cellstream.services import Services

CustomId = Annotated[str, Path(min_length=1, max_length=64)]
BASE = "/api/v1/event/custom"


def _service(services: Services) -> CustomEvents:
    # Looked up per request, not at router construction: the composition root sets the attribute.
    found = getattr(services, "custom_events", None)
    if not isinstance(found, CustomEvents):
        raise RuntimeError("custom events are not wired into these services")
    return found


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Unprocessable.of("body", "must be a JSON object")
    return body


def router(services: Services) -> APIRouter:
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    api = APIRouter(tags=["Custom events"], responses=RESOURCE_PROBLEMS)
    not_found: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "not found"}}

    @api.get(f"{BASE}/template", summary="Templates custom events are deployed from")
    async def templates(caller: Caller) -> list[dict[str, Any]]:
        return [t.as_json() for t in _service(services).templates()]

    @api.get(f"{BASE}/template/{{template_id}}", summary="One template", responses=not_found)
    async def template(caller: Caller, template_id: CustomId) -> dict[str, Any]:
        return _service(services).template(template_id).as_json()

    @api.get(f"{BASE}/configuration", summary="The organisation's custom events")
    async def configurations(caller: Caller) -> list[dict[str, Any]]:
        custom = _service(services)
        return [custom.configuration_json(c) for c in await custom.all(caller)]

    @api.post(f"{BASE}/configuration", status_code=201, summary="Deploy a custom event from a template")
    async def deploy(caller: Caller, body: Annotated[Any, Body()]) -> JSONResponse:
        custom = _service(services)
        created = await custom.create(caller, _object(body))
        return JSONResponse(custom.configuration_json(created), status_code=201,
                            headers={"Location": f"{BASE}/configuration/{created.uuid}"})

    @api.get(f"{BASE}/configuration/{{custom_event_id}}", summary="One custom event", responses=not_found)
    async def configuration(caller: Caller, custom_event_id: CustomId) -> dict[str, Any]:
        custom = _service(services)
        return custom.configuration_json(await custom.get(caller, custom_event_id))

    @api.delete(f"{BASE}/configuration/{{custom_event_id}}", summary="Delete a custom event",
                responses=not_found)
    async def delete(caller: Caller, custom_event_id: CustomId) -> JSONResponse:
        await _service(services).delete(caller, custom_event_id)
        return JSONResponse({}, status_code=200)

    return api
