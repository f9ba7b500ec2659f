"""The custom-event templates (facts §G.3 Template): what each measures, its typed configuration
properties with their validators, and the targeting parameters an automation on its events may use.

A template is identified by a number (`template.id` of a CustomEvent) and by a key (`no-data-session` …);
either finds it. Each has its own event type (1001–1005 in the catalog), so the Event API, streams and
automations can tell the templates apart by type alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cellstream.automations.model import Prop
from cellstream.errors import FieldProblem, Unprocessable
from cellstream.events.catalog import event_type

Value = int | float | list[str]
Settings = dict[str, Value]


@dataclass(frozen=True)
class Property:
    property: str
    type: str  # "integer", "number" or "array"
    description: str
    default: Value | None = None
    minimum: float | None = None
    maximum: float | None = None

    def is_required(self) -> bool:  # a method: the `property` field shadows the decorator in this body
        return self.default is None

    def as_json(self) -> dict[str, Any]:
        validators: list[dict[str, Any]] = []
        if self.minimum is not None:
            validators.append({"validator_type": "min", "validator_value": _number_text(self.minimum)})
        if self.maximum is not None:
            validators.append({"validator_type": "max", "validator_value": _number_text(self.maximum)})
        if self.type == "array":
            validators.append({"validator_type": "min_items", "validator_value": "1"})
        return {"property": self.property, "type": self.type, "default": self.default,
                "required": self.is_required(), "description": self.description, "validators": validators}

    def parse(self, values: list[str], where: str) -> Value:
        if self.type == "array":
            cleaned = [v.strip() for v in values if v.strip()]
            if not cleaned:
                raise Unprocessable.of(where, "lists at least one value")
            return cleaned
        if len(values) != 1:
            raise Unprocessable.of(where, "takes exactly one value")
        text = values[0].strip()
        number: int | float
        try:
            number = int(text) if self.type == "integer" else float(text)
        except ValueError:
            raise Unprocessable.of(where, f"must be a{'n integer' if self.type == 'integer' else ' number'}, "
                                          f"not {text!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise Unprocessable.of(where, "must be a finite number")
        if self.minimum is not None and number < self.minimum:
            raise Unprocessable.of(where, f"must be at least {_number_text(self.minimum)}")
        if self.maximum is not None and number > self.maximum:
            raise Unprocessable.of(where, f"must be at most {_number_text(self.maximum)}")
        return number


@dataclass(frozen=True)
class Template:
    id: int
    key: str
    name: str
    description: str
    type_id: int
    properties: tuple[Property, ...]
    targeting: tuple[str, ...]

    def settings(self, props: Sequence[Prop], where: str = "configuration_properties") -> Settings:
        """The typed settings of `props`; Unprocessable names the offending property."""
        known = {p.property: p for p in self.properties}
        given: dict[str, tuple[int, Prop]] = {}
        for n, prop in enumerate(props):
            if prop.property not in known:
                raise Unprocessable(FieldProblem(f"{where}.{n}.property", f"{prop.property!r} is not a "
                                                 f"property of template {self.key}; use one of "
                                                 f"{', '.join(known)}"))
            if prop.property in given:
                raise Unprocessable.of(f"{where}.{n}.property", f"{prop.property!r} is given twice")
            given[prop.property] = (n, prop)
        settings: Settings = {}
        for spec in self.properties:
            if spec.property in given:
                n, prop = given[spec.property]
                settings[spec.property] = spec.parse(prop.values(), f"{where}.{n}.value")
            elif spec.default is not None:
                settings[spec.property] = spec.default
            else:
                raise Unprocessable.of(where, f"property {spec.property!r} is required by template "
                                              f"{self.key}")
        return settings

    def as_json(self) -> dict[str, Any]:
        return {"id": str(self.id), "parent_organisation": {"id": 0}, "name": self.name,
                "translationKeyName": f"custom_event.{self.key}.name", "status": "ACTIVE",
                "description": self.description,
                "translationKeyDescription": f"custom_event.{self.key}.description",
                "key": self.key,
                "event_type": {"id": self.type_id, "description": event_type(self.type_id).name},
                "configuration_properties": [p.as_json() for p in self.properties],
                "supported_targeting_parameters": [_targeting_json(t) for t in self.targeting]}


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_TARGETING_DESCRIPTIONS = {
    "endpoint": ("string", "the endpoint's name contains one of the values"),
    "tags": ("string", "the endpoint's tags contain the value"),
    "imsi": ("string", "the IMSI is one of the values"),
    "iccid": ("string", "the ICCID is one of the values"),
    "country": ("string", "the country of the event contains one of the values"),
}


def _targeting_json(parameter: str) -> dict[str, Any]:
    kind, description = _TARGETING_DESCRIPTIONS[parameter]
    return {"parameter": parameter, "type": kind, "description": description, "validators": []}


SUBJECT_TARGETING = ("endpoint", "tags", "imsi", "iccid")

NO_DATA_SESSION = Template(
    1, "no-data-session", "No data session",
    "An endpoint had no data session (PDP context) for `hours` hours; reported once per silence.",
    1001, (Property("hours", "integer", "hours without a data session", 6, 1, 24 * 30),), SUBJECT_TARGETING)
FAILED_ATTACHES = Template(
    2, "failed-attaches", "Failed attaches",
    "More than `count` rejected location updates of an endpoint (or IMSI) within `minutes` minutes.",
    1002, (Property("count", "integer", "failed attaches tolerated within the window", 3, 1, 10_000),
           Property("minutes", "integer", "the window in minutes", 10, 1, 24 * 60)), SUBJECT_TARGETING)
DAILY_DATA_USAGE = Template(
    3, "daily-data-usage", "Daily data usage",
    "An endpoint used more than `megabytes` MB of data in one UTC day; reported once per endpoint and day.",
    1003, (Property("megabytes", "number", "MB (1,000,000 bytes) of data a day", None, 0.000001),),
    SUBJECT_TARGETING)
GEOFENCE = Template(
    4, "geofence", "Geofence",
    "An endpoint registered in a country outside `allowed_countries` (country names or ids).",
    1004, (Property("allowed_countries", "array", "country names or country ids where endpoints may be"),),
    (*SUBJECT_TARGETING, "country"))
FLAPPING = Template(
    5, "flapping", "Flapping",
    "More than `cycles` attach/detach cycles of an endpoint within `minutes` minutes.",
    1005, (Property("cycles", "integer", "attach/detach cycles tolerated within the window", 5, 1, 10_000),
           Property("minutes", "integer", "the window in minutes", 60, 1, 24 * 60)), SUBJECT_TARGETING)

TEMPLATES: tuple[Template, ...] = (NO_DATA_SESSION, FAILED_ATTACHES, DAILY_DATA_USAGE, GEOFENCE, FLAPPING)
_BY_ID = {t.id: t for t in TEMPLATES}
_BY_KEY = {t.key: t for t in TEMPLATES}


def find_template(ident: object) -> Template | None:
    """The template by number (1, "1") or key ("geofence")."""
    if isinstance(ident, bool):
        return None
    if isinstance(ident, int):
        return _BY_ID.get(ident)
    if isinstance(ident, str):
        return _BY_ID.get(int(ident)) if ident.isdigit() else _BY_KEY.get(ident)
    return None
