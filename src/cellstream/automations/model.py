"""Automations, their executions and action logs, as records in the resource store (facts §G.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import msgspec

from cellstream.store.resources import Record

ACTIVE, INACTIVE = "ACTIVE", "INACTIVE"
STATUSES = (ACTIVE, INACTIVE)
# Execution and action-log statuses.
PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED = "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED"


class Prop(msgspec.Struct, omit_defaults=True):
    """emnify's property: a name with one value or a list of values."""

    property: str
    value: str | None = None
    value_array: list[str] | None = None

    def values(self) -> list[str]:
        if self.value_array:
            return list(self.value_array)
        return [] if self.value is None else [self.value]


class ConfiguredAction(msgspec.Struct, kw_only=True):
    action_id: str  # the Action's uuid (GET /api/v1/automation/action)
    properties: list[Prop] = msgspec.field(default_factory=list)
    recipients: list[str] = msgspec.field(default_factory=list)  # e-mail recipients

    def props(self) -> dict[str, list[str]]:
        return {p.property: p.values() for p in self.properties}


class Automation(Record, kw_only=True):
    KIND: ClassVar[str] = "automation"
    uuid: str  # the public id
    name: str
    description: str = ""
    status: str = ACTIVE
    system_event_id: str | None = None  # SystemEvent id: fires on events of its type
    custom_event_id: str | None = None
    targeting_properties: list[Prop] = msgspec.field(default_factory=list)
    configured_actions: list[ConfiguredAction] = msgspec.field(default_factory=list)
    number_of_executions: int = 0
    last_execution_ms: int | None = None
    created_ms: int = 0
    modified_ms: int = 0

    def unique_keys(self) -> Mapping[str, str]:
        return {"automation_uuid": self.uuid}


class Execution(Record, kw_only=True):
    """One firing of an automation by one event: its actions run in order, each retried until it succeeds
    or fails for good; an execution is done when its last action is."""

    KIND: ClassVar[str] = "automation_execution"
    automation_id: int  # Automation record id
    number: int  # the automation's execution number (1, 2, …)
    event_body: bytes  # the canonical JSON of the event that fired it
    event_id: int
    endpoint_id: int | None = None
    next_action: int = 0  # index into the automation's configured actions
    attempt: int = 0  # failed attempts of the current action
    not_before_ms: int = 0
    status: str = PENDING
    created_ms: int = 0


class ActionLog(Record, kw_only=True):
    KIND: ClassVar[str] = "automation_action_log"
    automation_id: int
    automation_uuid: str
    execution_number: int
    action_id: str
    event_id: int
    status: str
    message: str = ""
    attempt: int = 1
    duration_ms: float = 0.0
    created_ms: int = 0
