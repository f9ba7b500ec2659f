"""Connection types: documented fields and ranges, field names in errors, masking and unmasking."""

from __future__ import annotations

from typing import Any

import pytest

from cellstream.errors import Unprocessable
from cellstream.streamer.destinations import (
    MASK,
    KinesisCredentials,
    RestApiCredentials,
    S3Credentials,
    as_dict,
    masked,
    parse_credentials,
    unmask,
)


def test_documented_defaults() -> None:
    rest = parse_credentials("RestAPI", {"url": "https://example.com/hook"})
    assert isinstance(rest, RestApiCredentials)
    assert (rest.method, rest.size, rest.headers) == ("POST", 3000, [])
    s3 = parse_credentials("S3", {"region": "eu-west-1", "bucket_name": "my-bucket", "role_arn": "arn:x"})
    assert isinstance(s3, S3Credentials)
    assert (s3.flush_size, s3.rotate_interval) == (10_000, 10_000)
    kinesis = parse_credentials("AwsKinesis", {"region": "af-south-1", "stream_name": "s", "role_arn": "a"})
    assert isinstance(kinesis, KinesisCredentials)


@pytest.mark.parametrize(("kind", "raw", "field"), [
    ("RestAPI", {}, "destination.credentials"),
    ("RestAPI", {"url": "https://x", "method": "GET"}, "destination.credentials.method"),
    ("RestAPI", {"url": "https://x", "size": 10_001}, "destination.credentials.size"),
    ("RestAPI", {"url": "https://x", "headers": ["no-colon"]}, "destination.credentials.headers.0"),
    ("RestAPI", {"url": "https://x", "headers": ["a:b\r\nX-Injected:1"]},
     "destination.credentials.headers.0"),
    ("RestAPI", {"url": "https://x", "signing_secret": "plain"}, "destination.credentials.signing_secret"),
    ("RestAPI", {"url": "https://x", "colour": "red"}, "destination.credentials"),
    ("S3", {"region": "r", "bucket_name": "bucket", "role_arn": "a", "rotate_interval": 9999},
     "destination.credentials.rotate_interval"),
    ("S3", {"region": "r", "bucket_name": "bucket", "role_arn": "a", "flush_size": 100_001},
     "destination.credentials.flush_size"),
    ("Datadog", {"api_key": "k", "region": "MARS"}, "destination.credentials.region"),
    ("KeenIO", {"project_id": "p", "write_key": "w"}, "destination.credentials"),
    ("Mqtt", {"url": "mqtt://h", "qos": 3}, "destination.credentials.qos"),
    ("Mqtt", {"url": "mqtt://h", "topic": "fleet/{device}"}, "destination.credentials.topic"),
    ("Mqtt", {"url": "mqtt://h", "topic": "fleet/+/{kind}"}, "destination.credentials.topic"),
    ("Nats", {"url": "nats://h", "subject": "fleet.>"}, "destination.credentials.subject"),
    ("Nats", {"url": "nats://h", "subject": "fleet {kind}"}, "destination.credentials.subject"),
    ("Telegraph", {}, "destination.connection_type"),
    ("PubSub", {"cps_topic": "t", "cps_project": "p"}, "destination.connection_type"),
])
def test_bad_credentials_name_the_field(kind: str, raw: dict[str, Any], field: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        parse_credentials(kind, raw)
    assert [p.field for p in caught.value.problems] == [field], caught.value.message


def test_secrets_are_masked_and_masked_values_keep_the_stored_ones() -> None:
    stored = as_dict(parse_credentials("RestAPI", {"url": "https://x", "headers": [
        "Authorization:Basic abc", "X-Tenant:7"]}))
    shown = masked("RestAPI", stored)
    assert shown["headers"] == [f"Authorization:{MASK}", f"X-Tenant:{MASK}"]
    back = unmask("RestAPI", {**shown, "headers": [f"Authorization:{MASK}", "X-Tenant:8"]}, stored)
    assert back["headers"] == ["Authorization:Basic abc", "X-Tenant:8"]
    keen = {"project_id": "p", "write_key": "secret", "collection_name": "c", "size": 10}
    assert masked("KeenIO", keen)["write_key"] == MASK
    assert masked("KeenIO", keen)["project_id"] == "p"
    assert unmask("KeenIO", masked("KeenIO", keen), keen) == keen
    nats = {"url": "nats://h", "password": None, "token": "t"}
    assert masked("Nats", nats) == {"url": "nats://h", "password": None, "token": MASK}
