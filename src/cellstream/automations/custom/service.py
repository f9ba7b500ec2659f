"""The custom-event API's operations (facts §G.3): list and read templates, deploy, list, read and delete
configurations. A body is checked completely before anything is stored (the template exists, every
required property is given, every value is valid) and a 422 names the offending field. After a change the
evaluator reloads the configurations; deleting one also deletes its windows."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from cellstream.automations.custom.evaluator import CustomEvaluator
from cellstream.automations.custom.model import ConfigurationIndex, CustomEventConfiguration, Window
from cellstream.automations.custom.templates import TEMPLATES, Template, find_template
from cellstream.automations.model import Prop
from cellstream.domain.principal import Principal
from cellstream.errors import NotFound, Unprocessable
from cellstream.store.resources import ResourceStore, ResourceTx, owned

NAME_LIMIT = 200


def _props(raw: Any, where: str = "configuration_properties") -> list[Prop]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Unprocessable.of(where, "must be a list of {property, value | value_array}")
    props: list[Prop] = []
    for n, item in enumerate(raw):
        if isinstance(item, dict) and isinstance(item.get("value"), int | float) \
                and not isinstance(item.get("value"), bool):
            item = {**item, "value": str(item["value"])}  # numbers are accepted as JSON numbers too
        try:
            props.append(msgspec.convert(item, Prop))
        except msgspec.ValidationError as exc:
            raise Unprocessable.of(f"{where}.{n}", str(exc)) from None
    return props


class CustomEvents:
    def __init__(self, resources: ResourceStore, evaluator: CustomEvaluator,
                 action_ids: Sequence[str] = ()) -> None:
        self.resources = resources
        self.evaluator = evaluator
        self.action_ids = list(action_ids)

    # ---------- templates ----------

    @staticmethod
    def templates() -> tuple[Template, ...]:
        return TEMPLATES

    @staticmethod
    def template(template_id: str) -> Template:
        found = find_template(template_id)
        if found is None:
            raise NotFound(f"template {template_id} not found")
        return found

    # ---------- configurations ----------

    async def all(self, principal: Principal) -> list[CustomEventConfiguration]:
        return await self.resources.view(lambda tx: tx.scan(CustomEventConfiguration, principal.org_id))

    async def get(self, principal: Principal, custom_event_id: str) -> CustomEventConfiguration:
        return await self.resources.view(lambda tx: self._find(tx, principal, custom_event_id))

    @staticmethod
    def _find(tx: ResourceTx, principal: Principal, custom_event_id: str) -> CustomEventConfiguration:
        return owned(tx, CustomEventConfiguration, "custom_event_uuid", custom_event_id, principal.org_id,
                     "custom event")

    async def create(self, principal: Principal, body: Mapping[str, Any]) -> CustomEventConfiguration:
        principal.require_administrator("deploy custom events")
        organisation = body.get("organisation")
        if organisation is not None:
            org_id = organisation.get("id") if isinstance(organisation, dict) else None
            if org_id is not None and org_id != principal.org_id and str(org_id) != str(principal.org_id):
                raise Unprocessable.of("organisation.id", "must be your own organisation")
        raw_template = body.get("template")
        template = find_template(raw_template.get("id") if isinstance(raw_template, dict) else None)
        if template is None:
            raise Unprocessable.of("template.id", "must name a template (GET /api/v1/event/custom/template)")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > NAME_LIMIT:
            raise Unprocessable.of("name", f"is required: a text of 1 to {NAME_LIMIT} characters")
        props = _props(body.get("configuration_properties"))
        template.settings(props)  # raises naming the bad property

        def work(tx: ResourceTx) -> CustomEventConfiguration:
            configuration = CustomEventConfiguration(
                id=tx.next_id(CustomEventConfiguration), org_id=principal.org_id, uuid=str(uuid.uuid4()),
                template_id=template.id, name=name, configuration_properties=props, created_ms=tx.now_ms)
            tx.put(configuration)
            index = tx.get(ConfigurationIndex, 1) or ConfigurationIndex(id=1)
            index.ids.append(configuration.id)
            tx.put(index)
            return configuration

        configuration = (await self.resources.transact(work)).value
        await self.evaluator.reload()
        return configuration

    async def delete(self, principal: Principal, custom_event_id: str) -> None:
        principal.require_administrator("delete custom events")

        def work(tx: ResourceTx) -> None:
            configuration = self._find(tx, principal, custom_event_id)
            tx.delete(CustomEventConfiguration, configuration.id)
            index = tx.get(ConfigurationIndex, 1) or ConfigurationIndex(id=1)
            index.ids = [i for i in index.ids if i != configuration.id]
            tx.put(index)
            for window in tx.scan(Window, principal.org_id):
                if window.configuration_id == configuration.id:
                    tx.delete(Window, window.id)

        await self.resources.transact(work)
        await self.evaluator.reload()

    # ---------- shapes ----------

    def configuration_json(self, configuration: CustomEventConfiguration) -> dict[str, Any]:
        template = find_template(configuration.template_id)
        return {"id": configuration.uuid, "organisation": {"id": configuration.org_id},
                "template": {"id": configuration.template_id}, "name": configuration.name,
                "configuration_properties": [
                    {"property": p.property, "value": p.value, "value_array": p.value_array}
                    for p in configuration.configuration_properties],
                "supportedTargetingParameters": list(template.targeting) if template else [],
                "supportedActions": list(self.action_ids),
                "event_type": {"id": template.type_id} if template else None}
