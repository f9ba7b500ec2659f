"""What an automation action is. Each action module defines one `Action`: its public description (GET
/api/v1/automation/action), how to check the properties an automation configures for it, and `run`,
which does the work for one firing and returns a short message for the action log or raises
`ActionFailed`. Actions that change platform state do it through the same domain services the REST API
uses, as the automation's own principal, so their API events are stored like any other and carry the
automation as their user (`automation:<uuid>`), which the engine uses to stop loops."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cellstream.domain.principal import Principal
from cellstream.events.model import Event


class ActionFailed(Exception):
    """The action did not do its work. `permanent`: retrying cannot help (a bad property, a device that is
    gone); otherwise the engine retries with backoff, honouring `retry_after_s`."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class ActionContext:
    """One firing: the event (decoded, and its canonical JSON as stored), the automation, and the
    properties and recipients configured for this action."""

    principal: Principal  # the automation acting in its organisation (may_administer)
    automation_uuid: str
    automation_name: str
    execution_number: int
    event: Event
    event_body: bytes
    properties: Mapping[str, list[str]]
    recipients: list[str] = field(default_factory=list)

    def one(self, name: str, default: str | None = None) -> str | None:
        values = self.properties.get(name)
        return values[0] if values else default


class Action(Protocol):
    id: str  # a fixed uuid, stable across releases
    name: str
    type: str  # e.g. "WEBHOOK", "EMAIL", "SMS", "DISABLE_ENDPOINT"
    description: str
    configuration_properties: tuple[str, ...]
    required_event_output_parameters: tuple[str, ...]  # e.g. ("endpoint.id",)

    def check(self, properties: Mapping[str, list[str]], recipients: list[str]) -> None:
        """Raise cellstream.errors.Unprocessable naming the property when the configuration is wrong."""
        ...

    async def run(self, context: ActionContext) -> str:
        ...


def describe(action: Action) -> dict[str, Any]:
    """The Action object of GET /api/v1/automation/action (facts §G.1)."""
    return {"id": action.id, "status": "ACTIVE", "type": action.type,
            "configurationProperties": list(action.configuration_properties), "name": action.name,
            "translationKeyName": f"automation.action.{action.type.lower()}.name",
            "description": action.description,
            "translationKeyDescription": f"automation.action.{action.type.lower()}.description",
            "requiredEventOutputParameters": list(action.required_event_output_parameters)}
