"""The automation API's operations (facts §G.1): create, list, get, change, delete, and the action logs.
Every body is checked before anything is stored — the trigger exists, each targeting property is a
field of the `q` grammar with valid values, each configured action exists and accepts its properties —
and a 422 names the offending field. After a change the engine reloads the active automations."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import msgspec

from cellstream.automations.actions.base import Action
from cellstream.automations.custom.model import CustomEventConfiguration
from cellstream.automations.engine import AutomationEngine, AutomationIndex
from cellstream.automations.model import (
    ACTIVE,
    STATUSES,
    ActionLog,
    Automation,
    ConfiguredAction,
    Prop,
)
from cellstream.automations.system_events import find_system_event
from cellstream.automations.targeting import compile_targeting
from cellstream.domain.principal import Principal
from cellstream.errors import Unprocessable
from cellstream.store.resources import ResourceStore, ResourceTx, owned

MAX_ACTIONS = 10


def _props(raw: Any, where: str) -> list[Prop]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Unprocessable.of(where, "must be a list of {property, value | value_array}")
    props: list[Prop] = []
    for n, item in enumerate(raw):
        try:
            prop = msgspec.convert(item, Prop)
        except msgspec.ValidationError as exc:
            raise Unprocessable.of(f"{where}.{n}", str(exc)) from None
        props.append(prop)
    return props


def _text(body: Mapping[str, Any], key: str, *, required: bool, limit: int) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise Unprocessable.of(key, "is required")
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise Unprocessable.of(key, f"must be a text of 1 to {limit} characters")
    return value


def _status(body: Mapping[str, Any], default: str | None) -> str | None:
    raw = body.get("status")
    if raw is None:
        return default
    status = raw.upper() if isinstance(raw, str) else None
    if status not in STATUSES:
        raise Unprocessable.of("status", f"must be one of {', '.join(STATUSES)}")
    return status


class Automations:
    def __init__(self, resources: ResourceStore, engine: AutomationEngine) -> None:
        self.resources = resources
        self.engine = engine

    @property
    def actions(self) -> Mapping[str, Action]:
        return self.engine.actions

    # ---------- validation ----------

    async def _trigger(self, principal: Principal, raw: Any) -> tuple[str | None, str | None]:
        """(system event id, custom event id): exactly one is set."""
        if not isinstance(raw, dict):
            raise Unprocessable.of("actionable_event",
                                   "is required: {system_event: {id}} or {custom_event: {id}}")
        system, custom = raw.get("system_event"), raw.get("custom_event")
        if custom is not None and system is None:
            wanted = custom.get("id") if isinstance(custom, dict) else None
            found = None
            if isinstance(wanted, str):
                found = await self.resources.view(
                    lambda tx: tx.find(CustomEventConfiguration, "custom_event_uuid", wanted))
            if found is None or found.org_id != principal.org_id:
                raise Unprocessable.of("actionable_event.custom_event.id",
                                       "must name a deployed custom event (GET …/event/custom/configuration)")
            return None, found.uuid
        ident = system.get("id") if isinstance(system, dict) else None
        if isinstance(ident, int) and not isinstance(ident, bool):
            ident = str(ident)
        if not isinstance(ident, str) or find_system_event(ident) is None:
            raise Unprocessable.of("actionable_event.system_event.id",
                                   "must name a system event (GET /api/v1/event/system/configuration)")
        return ident, None

    def _configured(self, raw: Any) -> list[ConfiguredAction]:
        if not isinstance(raw, list) or not raw:
            raise Unprocessable.of("configured_actions", "lists at least one action")
        if len(raw) > MAX_ACTIONS:
            raise Unprocessable.of("configured_actions", f"at most {MAX_ACTIONS} actions")
        configured: list[ConfiguredAction] = []
        for n, item in enumerate(raw):
            where = f"configured_actions.{n}"
            action_ref = item.get("action") if isinstance(item, dict) else None
            action_id = action_ref.get("id") if isinstance(action_ref, dict) else None
            action = self.actions.get(action_id) if isinstance(action_id, str) else None
            if action is None:
                raise Unprocessable.of(f"{where}.action.id",
                                       "must name an action (GET /api/v1/automation/action)")
            props = _props(item.get("properties"), f"{where}.properties")
            recipients_raw = (item.get("recipients") or {}).get("email") if isinstance(item.get("recipients"),
                                                                                      dict) else None
            recipients = recipients_raw if isinstance(recipients_raw, list) else []
            if not all(isinstance(r, str) for r in recipients):
                raise Unprocessable.of(f"{where}.recipients.email", "must be a list of e-mail addresses")
            one = ConfiguredAction(action_id=action.id, properties=props, recipients=list(recipients))
            try:
                action.check(one.props(), one.recipients)
            except Unprocessable as exc:
                raise Unprocessable([type(p)(f"{where}.{p.field}", p.problem, p.where)
                                     for p in exc.problems]) from None
            configured.append(one)
        return configured

    # ---------- operations ----------

    async def all(self, principal: Principal) -> list[Automation]:
        return await self.resources.view(lambda tx: tx.scan(Automation, principal.org_id))

    async def get(self, principal: Principal, automation_id: str) -> Automation:
        return await self.resources.view(lambda tx: self._find(tx, principal, automation_id))

    @staticmethod
    def _find(tx: ResourceTx, principal: Principal, automation_id: str) -> Automation:
        return owned(tx, Automation, "automation_uuid", automation_id, principal.org_id, "automation")

    async def create(self, principal: Principal, body: Mapping[str, Any]) -> Automation:
        principal.require_administrator("manage automations")
        name = _text(body, "name", required=True, limit=200) or ""
        description = _text(body, "description", required=False, limit=2000) or ""
        status = _status(body, ACTIVE) or ACTIVE
        system_event_id, custom_event_id = await self._trigger(principal, body.get("actionable_event"))
        targeting = _props(body.get("targeting_properties"), "targeting_properties")
        compile_targeting(targeting)
        configured = self._configured(body.get("configured_actions"))

        def work(tx: ResourceTx) -> Automation:
            automation = Automation(id=tx.next_id(Automation), org_id=principal.org_id,
                                    uuid=str(uuid.uuid4()), name=name, description=description,
                                    status=status, system_event_id=system_event_id,
                                    custom_event_id=custom_event_id, targeting_properties=targeting,
                                    configured_actions=configured, created_ms=tx.now_ms,
                                    modified_ms=tx.now_ms)
            tx.put(automation)
            index = tx.get(AutomationIndex, 1) or AutomationIndex(id=1)
            index.ids.append(automation.id)
            tx.put(index)
            return automation

        automation = (await self.resources.transact(work)).value
        await self.engine.reload()
        return automation

    async def patch(self, principal: Principal, automation_id: str, body: Mapping[str, Any]) -> Automation:
        principal.require_administrator("manage automations")
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = _text(body, "name", required=True, limit=200)
        if "description" in body:
            changes["description"] = _text(body, "description", required=False, limit=2000) or ""
        if body.get("status") is not None:
            changes["status"] = _status(body, None)
        if body.get("actionable_event") is not None:
            raise Unprocessable.of("actionable_event", "cannot change; create another automation")
        if "targeting_properties" in body:
            targeting = _props(body.get("targeting_properties"), "targeting_properties")
            compile_targeting(targeting)
            changes["targeting_properties"] = targeting
        if "configured_actions" in body:
            changes["configured_actions"] = self._configured(body.get("configured_actions"))

        def work(tx: ResourceTx) -> Automation:
            automation = self._find(tx, principal, automation_id)
            for key, value in changes.items():
                setattr(automation, key, value)
            automation.modified_ms = tx.now_ms
            tx.put(automation)
            return automation

        automation = (await self.resources.transact(work)).value
        await self.engine.reload()
        return automation

    async def delete(self, principal: Principal, automation_id: str) -> None:
        principal.require_administrator("manage automations")

        def work(tx: ResourceTx) -> None:
            automation = self._find(tx, principal, automation_id)
            tx.delete(Automation, automation.id)
            index = tx.get(AutomationIndex, 1) or AutomationIndex(id=1)
            index.ids = [i for i in index.ids if i != automation.id]
            tx.put(index)

        await self.resources.transact(work)
        await self.engine.reload()

    async def logs(self, principal: Principal, automation_id: str, execution_number: int) -> list[ActionLog]:
        def work(tx: ResourceTx) -> list[ActionLog]:
            return [entry for entry in tx.scan(ActionLog, principal.org_id)
                    if entry.automation_uuid == automation_id and entry.execution_number == execution_number]

        return await self.resources.view(work)
