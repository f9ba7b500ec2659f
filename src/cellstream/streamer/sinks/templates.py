"""Destination names made from a template: the MQTT sink's topics and the NATS sink's subjects follow the
same rules, so the rules live here once and the two cannot drift apart.

A template holds the placeholders {organisation_id}, {event_type_id}, {endpoint_id}, {stream_id} and
{kind}; usage records have no event type, so {event_type_id} renders as `usage`, and a value a record lacks
renders as `none`. Records are decoded only when the template needs one of their fields, and then only the
fields it can use. What makes a valid name differs by protocol, so each sink passes its own check.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

from cellstream.streamer.destinations import PLACEHOLDERS
from cellstream.streamer.sinks.base import Batch, DeliveryFailed

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class _Ref(msgspec.Struct):
    id: int | str | None = None


class _Fields(msgspec.Struct):
    """The only parts of a record a template can use; msgspec skips everything else while decoding."""

    organisation: _Ref | None = None
    event_type: _Ref | None = None
    endpoint: _Ref | None = None


_decode_fields = msgspec.json.Decoder(_Fields).decode


def _id(ref: _Ref | None) -> str:
    return "none" if ref is None or ref.id is None else str(ref.id)


class Template:
    """A template, split once into literal text and placeholder names. `what` names the result in messages
    ("topic", "subject"); `name_problem` says what is wrong with a rendered name, or None."""

    def __init__(self, template: str, what: str, name_problem: Callable[[str], str | None]) -> None:
        self.template = template
        self._what = what
        self._name_problem = name_problem
        self._parts = _PLACEHOLDER.split(template)  # literal, name, literal, name, …, literal
        names = set(self._parts[1::2])
        unknown = sorted(names - set(PLACEHOLDERS))
        self.problem: str | None = None
        if unknown:
            self.problem = (f"{what} template {template!r} has unknown placeholder(s) "
                            f"{', '.join('{' + u + '}' for u in unknown)}; use "
                            f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        self._names = names

    def _join(self, values: dict[str, str]) -> str:
        parts = self._parts[:]
        parts[1::2] = [values[name] for name in self._parts[1::2]]
        return "".join(parts)

    def render(self, batch: Batch) -> list[str]:
        """The name of each record of `batch`; DeliveryFailed (permanent) when a record cannot be read or a
        name is not valid, since the same batch would fail the same way on every retry."""
        names = self._render(batch)
        for name in set(names):
            problem = self._name_problem(name)
            if problem:
                raise DeliveryFailed(f"{self._what} {name!r} (from template {self.template!r}) {problem}",
                                     permanent=True)
        return names

    def _render(self, batch: Batch) -> list[str]:
        values = {"stream_id": batch.stream_id, "kind": batch.kind}
        if batch.kind == "usage":
            values["event_type_id"] = "usage"
        if self._names <= values.keys():
            return [self._join(values)] * len(batch.records)
        names = []
        for n, record in enumerate(batch.records):
            try:
                fields = _decode_fields(record)
            except msgspec.DecodeError as exc:
                raise DeliveryFailed(f"record {n} of batch {batch.delivery_id} is not a JSON object with the "
                                     f"fields the {self._what} template needs: {exc}",
                                     permanent=True) from None
            values["organisation_id"] = _id(fields.organisation)
            values["endpoint_id"] = _id(fields.endpoint)
            if batch.kind == "events":
                values["event_type_id"] = _id(fields.event_type)
            names.append(self._join(values))
        return names
