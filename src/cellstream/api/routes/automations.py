"""/api/v1/automation and /api/v1/event/system/configuration (facts §G): automations with their actions,
action logs and the system events that trigger them. Create answers 201 with the automation, PATCH 200,
DELETE 204, as emnify's automation API describes."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from cellstream.api.auth import principal_dependency
from cellstream.api.schemas import RESOURCE_PROBLEMS, Problem
from cellstream.automations.actions.base import describe
from cellstream.automations.model import ActionLog, Automation, Prop
from cellstream.automations.service import Automations
from cellstream.automations.system_events import find_system_event, system_event, system_events
from cellstream.domain.principal import Principal
from cellstream.errors import NotFound, Unprocessable
from cellstream.events.timefmt import format_optional
from cellstream.services import Services

AutomationId = Annotated[str, Path(min_length=1, max_length=64)]



def _props(props: list[Prop]) -> list[dict[str, Any]]:
    return [{"property": p.property, "value": p.value, "value_array": p.value_array} for p in props]


def automation_json(automation: Automation, automations: Automations,
                    custom_event: dict[str, Any] | None = None) -> dict[str, Any]:
    trigger = find_system_event(automation.system_event_id or "")
    org = automation.org_id or 0
    actions = automations.actions.values()
    return {
        "id": automation.uuid, "name": automation.name, "description": automation.description,
        "status": automation.status, "organisation": {"id": org},
        "number_of_executions": automation.number_of_executions,
        "last_execution": format_optional(automation.last_execution_ms),
        "created_at": format_optional(automation.created_ms),
        "modified_at": format_optional(automation.modified_ms),
        "actionable_event": {
            "system_event": None if trigger is None else system_event(trigger, org, actions),
            "custom_event": custom_event},
        "configured_actions": [{"action": {"id": c.action_id}, "properties": _props(c.properties),
                                "recipients": {"email": c.recipients}}
                               for c in automation.configured_actions],
        "targeting_properties": _props(automation.targeting_properties),
    }


def log_json(entry: ActionLog) -> dict[str, Any]:
    return {"id": str(entry.id), "automation": {"id": entry.automation_uuid},
            "action": {"id": entry.action_id}, "message": entry.message, "status": entry.status,
            "event": {"id": entry.event_id},
            "smart_event": None, "created_at": format_optional(entry.created_ms),
            "automation_execution_number": entry.execution_number, "organisation": {"id": entry.org_id},
            "attempt": entry.attempt, "duration_ms": entry.duration_ms}


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Unprocessable.of("body", "must be a JSON object")
    return body


def router(services: Services) -> APIRouter:
    automations = services.automations
    Caller = Annotated[Principal, Depends(principal_dependency(services))]

    async def shown(caller: Principal, automation: Automation) -> dict[str, Any]:
        custom = None
        if automation.custom_event_id is not None:
            with contextlib.suppress(NotFound):  # deleted since: the automation can no longer fire
                found = await services.custom_events.get(caller, automation.custom_event_id)
                custom = services.custom_events.configuration_json(found)
        return automation_json(automation, automations, custom)
    api = APIRouter(tags=["Automations"], responses=RESOURCE_PROBLEMS)
    not_found: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "not found"}}

    @api.get("/api/v1/automation/action", summary="Actions an automation can run")
    async def actions(caller: Caller) -> list[dict[str, Any]]:
        return [describe(a) for a in automations.actions.values()]

    @api.get("/api/v1/automation/action/{action_id}", summary="One action", responses=not_found)
    async def action(caller: Caller, action_id: AutomationId) -> dict[str, Any]:
        found = automations.actions.get(action_id)
        if found is None:
            raise NotFound(f"action {action_id} not found")
        return describe(found)

    @api.get("/api/v1/automation/log", summary="What one execution of an automation did")
    async def logs(caller: Caller,
                   automation_id: Annotated[str, Query(alias="automationId", min_length=1)],
                   number: Annotated[int, Query(alias="automationExecutionNumber", ge=0)],
                   ) -> list[dict[str, Any]]:
        await automations.get(caller, automation_id)  # 404 for another organisation's automation
        return [log_json(e) for e in await automations.logs(caller, automation_id, number)]

    @api.get("/api/v1/automation", summary="List automations")
    async def list_automations(caller: Caller) -> list[dict[str, Any]]:
        return [await shown(caller, a) for a in await automations.all(caller)]

    @api.post("/api/v1/automation", status_code=201, summary="Create an automation")
    async def create(caller: Caller, body: Annotated[Any, Body()]) -> JSONResponse:
        created = await automations.create(caller, _object(body))
        return JSONResponse(await shown(caller, created), status_code=201,
                            headers={"Location": f"/api/v1/automation/{created.uuid}"})

    @api.get("/api/v1/automation/{automation_id}", summary="Get an automation", responses=not_found)
    async def get(caller: Caller, automation_id: AutomationId) -> dict[str, Any]:
        return await shown(caller, await automations.get(caller, automation_id))

    @api.patch("/api/v1/automation/{automation_id}", summary="Change an automation", responses=not_found)
    async def patch(caller: Caller, automation_id: AutomationId,
                    body: Annotated[Any, Body()]) -> dict[str, Any]:
        return await shown(caller, await automations.patch(caller, automation_id, _object(body)))

    @api.delete("/api/v1/automation/{automation_id}", status_code=204, summary="Delete an automation",
                responses=not_found)
    async def delete(caller: Caller, automation_id: AutomationId) -> Response:
        await automations.delete(caller, automation_id)
        return Response(status_code=204)

    @api.get("/api/v1/event/system/configuration", summary="System events automations can trigger on")
    async def list_system_events(caller: Caller) -> list[dict[str, Any]]:
        return system_events(caller.org_id, automations.actions.values())

    @api.get("/api/v1/event/system/configuration/{system_event_id}", summary="One system event",
             responses=not_found)
    async def get_system_event(caller: Caller, system_event_id: AutomationId) -> dict[str, Any]:
        found = find_system_event(system_event_id)
        if found is None:
            raise NotFound(f"system event {system_event_id} not found")
        return system_event(found, caller.org_id, automations.actions.values())

    return api
