"""Which automation an event fires: the trigger (a system event is one event type) and the targeting
properties, each a field of the Event API's `q` grammar with its values (`severity` ["2"], `tags`
["fleet-a"], `endpoint` ["tracker"], `country` ["Germany", "France"] …), parsed by the same parser as `q`
so automations, streams and the Event API agree on what a condition means. All properties must hold; the
values of one property are alternatives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cellstream.automations.model import Prop
from cellstream.errors import FieldProblem, InvalidInput, Unprocessable
from cellstream.events.columns import EventColumns
from cellstream.events.query import Q_FIELDS, parse_q

Predicate = Callable[[EventColumns], bool]
# Targeting parameters every system event supports: the q fields that describe the event's subject.
TARGETING_PARAMETERS: tuple[str, ...] = tuple(Q_FIELDS)


def compile_targeting(properties: Sequence[Prop], where: str = "targeting_properties") -> Predicate | None:
    """The predicate of the properties, None when there are none. Unprocessable names the bad one."""
    if not properties:
        return None
    parts: list[str] = []
    for n, prop in enumerate(properties):
        values = prop.values()
        if prop.property not in Q_FIELDS:
            raise Unprocessable(FieldProblem(f"{where}.{n}.property", f"{prop.property!r} is not a targeting "
                                             f"parameter; use one of {', '.join(TARGETING_PARAMETERS)}"))
        if not values:
            raise Unprocessable(FieldProblem(f"{where}.{n}.value", "is required (value or value_array)"))
        if any("," in v or "|" in v for v in values):
            raise Unprocessable(FieldProblem(f"{where}.{n}.value", "must not contain ',' or '|'"))
        parts.append(f"{prop.property}:{'|'.join(values)}")
    try:
        query = parse_q(",".join(parts))
    except InvalidInput as exc:
        raise Unprocessable(FieldProblem(where, exc.message)) from None
    return query.matches
