"""Where a data stream delivers: the connection types and their credential fields (facts §E.2), checked
once when a stream is created or changed so a sink never sees a bad configuration.

Each connection type is a msgspec Struct whose field constraints are the documented ranges; validation
errors name the field (`destination.credentials.flush_size`). `SECRET_FIELDS` are write-only: a GET shows
`<masked>` in their place, and a PATCH that sends `<masked>` back keeps the stored value.

`Mqtt` and `Nats` are Cellstream's own connection types. `EventHubs` and `PubSub` are known but cannot be
tested against a real server here, so creating one answers 422 saying they are unavailable.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from cellstream.errors import FieldProblem, Unprocessable

MASK = "<masked>"

Size = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class Credentials(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class RestApiCredentials(Credentials):
    url: Url
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: list[str] = msgspec.field(default_factory=list)  # "name:value"
    size: Size = 3000  # 1: one object per request; else a JSON array of up to `size`
    signing_secret: str | None = None  # whsec_…; generated when absent
    # Cellstream's extension: "json" (emnify's plain bodies) or CloudEvents "structured" / "batch" mode.
    cloudevents: Literal["off", "structured", "batch"] = "off"
    timeout_ms: Annotated[int, msgspec.Meta(ge=100, le=120_000)] = 10_000


class S3Credentials(Credentials):
    region: Text
    bucket_name: Annotated[str, msgspec.Meta(min_length=3, max_length=63)]
    role_arn: Text
    flush_size: Annotated[int, msgspec.Meta(ge=10, le=100_000)] = 10_000
    rotate_interval: Annotated[int, msgspec.Meta(ge=10_000, le=900_000)] = 10_000  # ms


class KinesisCredentials(Credentials):
    region: Text
    stream_name: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    role_arn: Text


class KeenIoCredentials(Credentials):
    project_id: Text
    write_key: Text
    collection_name: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    size: Size = 3000


class DatadogCredentials(Credentials):
    api_key: Text
    region: Literal["US", "US3", "US5", "EU", "AP1", "US1FED"] = "US"


class EventHubsCredentials(Credentials):
    connection_string: Text


class PubSubCredentials(Credentials):
    cps_topic: Text
    cps_project: Text


class MqttCredentials(Credentials):
    url: Url  # mqtt://host:1883 or mqtts://host:8883
    topic: Text = "cellstream/{organisation_id}/{event_type_id}"
    qos: Literal[0, 1, 2] = 1
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    ca_certificate: str | None = None  # PEM, for a private CA on mqtts://
    tls_insecure: bool = False


class NatsCredentials(Credentials):
    url: Url  # nats://host:4222 or tls://host:4222
    subject: Text = "cellstream.{organisation_id}.{event_type_id}"
    user: str | None = None
    password: str | None = None
    token: str | None = None


CONNECTION_TYPES: dict[str, type[Credentials]] = {
    "RestAPI": RestApiCredentials,
    "S3": S3Credentials,
    "AwsKinesis": KinesisCredentials,
    "KeenIO": KeenIoCredentials,
    "Datadog": DatadogCredentials,
    "EventHubs": EventHubsCredentials,
    "PubSub": PubSubCredentials,
    "Mqtt": MqttCredentials,
    "Nats": NatsCredentials,
}
UNAVAILABLE = {
    "EventHubs": "Azure Event Hubs cannot be tested against a real server here, so it is not offered",
    "PubSub": "Google Cloud Pub/Sub cannot be tested against a real server here, so it is not offered",
}
SECRET_FIELDS: dict[str, frozenset[str]] = {
    "RestAPI": frozenset({"signing_secret"}),  # header values are masked one by one, below
    "KeenIO": frozenset({"write_key"}),
    "Datadog": frozenset({"api_key"}),
    "EventHubs": frozenset({"connection_string"}),
    "Mqtt": frozenset({"password"}),
    "Nats": frozenset({"password", "token"}),
}
FORMATS = {"S3": "Csv"}  # every other connection type sends Json


# The placeholders MQTT topic and NATS subject templates may hold (rendered by streamer.sinks.templates).
PLACEHOLDERS = ("organisation_id", "event_type_id", "endpoint_id", "stream_id", "kind")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_WILDCARDS = {"Mqtt": ("topic", "+#"), "Nats": ("subject", "*> \t")}


def _template_problem(connection_type: str, credentials: Credentials) -> tuple[str, str] | None:
    """An MQTT topic or NATS subject template that can never render a valid name, caught at creation."""
    field, wildcards = _WILDCARDS[connection_type]
    template: str = getattr(credentials, field)
    unknown = sorted(set(_PLACEHOLDER.findall(template)) - set(PLACEHOLDERS))
    if unknown:
        return field, (f"unknown placeholder {{{unknown[0]}}}; use "
                       + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
    literal = _PLACEHOLDER.sub("x", template)
    if any(c in literal for c in wildcards):
        return field, "must not contain wildcards or white space (only subscriptions use wildcards)"
    return None


def format_of(connection_type: str) -> str:
    return FORMATS.get(connection_type, "Json")


def _field_of(message: str) -> tuple[str, str]:
    """msgspec's 'Expected `int` >= 10 - at `$.flush_size`' -> ('flush_size', 'Expected `int` >= 10')."""
    problem, _, where = message.rpartition(" - at `$")
    if not problem:
        return "", message
    return where.rstrip("`").lstrip(".").replace("[", ".").replace("]", ""), problem


def parse_credentials(connection_type: str, raw: Any, prefix: str = "destination.credentials") -> Credentials:
    """Validate `raw` as the credentials of `connection_type`; Unprocessable naming the field if not."""
    schema = CONNECTION_TYPES.get(connection_type)
    if schema is None:
        known = ", ".join(CONNECTION_TYPES)
        raise Unprocessable.of("destination.connection_type", f"unknown connection type {connection_type!r}; "
                               f"use one of {known}")
    if connection_type in UNAVAILABLE:
        raise Unprocessable.of("destination.connection_type", UNAVAILABLE[connection_type])
    if not isinstance(raw, dict):
        raise Unprocessable.of(prefix, "must be an object")
    try:
        credentials = msgspec.convert(raw, schema)
    except msgspec.ValidationError as exc:
        where, problem = _field_of(str(exc))
        raise Unprocessable.of(f"{prefix}.{where}" if where else prefix, problem) from None
    if connection_type in _WILDCARDS:
        found = _template_problem(connection_type, credentials)
        if found is not None:
            raise Unprocessable.of(f"{prefix}.{found[0]}", found[1])
    if isinstance(credentials, RestApiCredentials):
        for n, header in enumerate(credentials.headers):
            name, colon, _ = header.partition(":")
            if not colon or not name.strip() or any(c in header for c in "\r\n"):
                raise Unprocessable(FieldProblem(f"{prefix}.headers.{n}", 'must be "name:value"'))
        if credentials.signing_secret is not None and not credentials.signing_secret.startswith("whsec_"):
            raise Unprocessable.of(f"{prefix}.signing_secret", "must start with whsec_")
    return credentials


def masked(connection_type: str, credentials: dict[str, Any]) -> dict[str, Any]:
    """The credentials as a GET shows them: every secret replaced by `<masked>`."""
    secret = SECRET_FIELDS.get(connection_type, frozenset())
    shown = {k: (MASK if k in secret and v is not None else v) for k, v in credentials.items()}
    if connection_type == "RestAPI" and shown.get("headers"):
        shown["headers"] = [f"{h.partition(':')[0]}:{MASK}" for h in shown["headers"]]
    return shown


def unmask(connection_type: str, given: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """A PATCH's credentials with every `<masked>` placeholder replaced by the stored value it hides."""
    out = {k: (stored.get(k) if v == MASK else v) for k, v in given.items()}
    headers = out.get("headers")
    if connection_type == "RestAPI" and isinstance(headers, list):
        old = {h.partition(":")[0]: h for h in stored.get("headers") or []}
        out["headers"] = [old.get(h.partition(":")[0], h) if isinstance(h, str) and h.endswith(f":{MASK}")
                          else h for h in headers]
    return out


def as_dict(credentials: Credentials) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(credentials)
    return out
