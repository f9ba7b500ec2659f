"""The S3 sink against moto's S3 and STS: the CSV a customer's tables are built on (columns of events and of
usage records, from the documented examples), keys that make a retried batch overwrite itself, and writing
as the assumed role."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from moto.sts.models import sts_backends

from cellstream.events.codec import decode_event, encode_event
from cellstream.streamer.destinations import S3Credentials
from cellstream.streamer.sinks import open_sink
from cellstream.streamer.sinks.base import Batch, SinkSettings
from cellstream.streamer.sinks.s3 import EVENT_COLUMNS, USAGE_COLUMNS, S3Sink, column_names, render
from tests.conftest import need_fixtures
from tests.contracts.factory import event
from tests.contracts.sink_harnesses.base import event_batch
from tests.e2e.conftest import free_port
from tests.streamer.sinks.delivery import failure
from tests.streamer.sinks.moto_server import ACCOUNT, REGION, ROLE_ARN, moto_client

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

STREAM = "c0ffee01"


@pytest.fixture
async def s3(moto_url: str) -> AsyncIterator[S3Client]:
    async with moto_client("s3", moto_url) as client:
        yield client


@pytest.fixture
async def bucket(s3: S3Client) -> str:
    name = f"cellstream-unit-{uuid.uuid4().hex[:16]}"
    await s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@pytest.fixture
async def sink(moto_url: str, bucket: str) -> AsyncIterator[S3Sink]:
    opened = S3Sink(S3Credentials(region=REGION, bucket_name=bucket, role_arn=ROLE_ARN),
                    SinkSettings(aws_endpoint_url=moto_url))
    yield opened
    await opened.close()


async def objects(s3: S3Client, bucket: str) -> dict[str, str]:
    listed = await s3.list_objects_v2(Bucket=bucket)
    out: dict[str, str] = {}
    for item in listed.get("Contents", []):
        answer = await s3.get_object(Bucket=bucket, Key=item["Key"])
        async with answer["Body"] as body:
            out[item["Key"]] = (await body.read()).decode()
    return out


def rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    header = next(csv.reader(io.StringIO(text, newline="")))
    return header, list(csv.DictReader(io.StringIO(text, newline="")))


def fixture_json(name: str) -> Any:
    return json.loads((need_fixtures() / name).read_text())


def usage_batch(records: list[dict[str, Any]], first: int = 1) -> Batch:
    return Batch(STREAM, 12345, "usage", [msgspec.json.encode(r) for r in records], first,
                 first + len(records) - 1)


# --- the CSV --------------------------------------------------------------------------------------


def test_the_column_lists_are_the_documented_ones() -> None:
    assert column_names("events") == [
        "id", "timestamp", "event_type_id", "event_type", "event_source_id", "event_source",
        "event_severity_id", "event_severity", "alert", "description", "organisation_id", "organisation_name",
        "user_id", "user_name", "endpoint_id", "endpoint_name", "endpoint_ip_address", "endpoint_imei",
        "endpoint_tags", "sim_id", "sim_iccid", "sim_msisdn", "imsi_id", "imsi", "detail"]
    usage = column_names("usage")
    for name in ("id", "cost", "currency_code", "traffic_type_id", "traffic_type", "volume_total",
                 "volume_rx", "volume_tx", "start_timestamp", "end_timestamp", "session_id", "imsi",
                 "imsi_id",
                 "operator_id", "operator_name", "operator_mnc", "operator_country_mcc", "organisation_id",
                 "tariff_name", "tariff_ratezone_name", "endpoint_id", "endpoint_imei", "sim_iccid",
                 "sim_msisdn"):
        assert name in usage
    assert len(set(usage)) == len(USAGE_COLUMNS)
    assert len(set(column_names("events"))) == len(EVENT_COLUMNS)


async def test_event_rows_hold_the_documented_fields(sink: S3Sink, s3: S3Client, bucket: str) -> None:
    raw = fixture_json("event-3-create-pdp-context-1.json")
    body = encode_event(decode_event(raw))
    await sink.deliver(Batch(STREAM, 1825, "events", [body], 41, 41))
    [(key, text)] = (await objects(s3, bucket)).items()
    assert key == f"{STREAM}/events/2021/10/27/08/{41:020d}-{41:020d}.csv"
    header, [row] = rows(text)
    assert header == column_names("events")
    assert row | {"detail": ""} == {
        "id": "31877325941", "timestamp": "2021-10-27T08:38:02.000Z",
        "event_type_id": "3", "event_type": "Create PDP Context", "event_source_id": "0",
        "event_source": "Network", "event_severity_id": "0", "event_severity": "Info", "alert": "false",
        "description": raw["description"], "organisation_id": "1825", "organisation_name": "Test Org",
        "user_id": "", "user_name": "", "endpoint_id": "20200078", "endpoint_name": "Test Sim 2",
        "endpoint_ip_address": "189.79.243.228", "endpoint_imei": "960407272413998", "endpoint_tags": "",
        "sim_id": "646486", "sim_iccid": "5746435358418205328", "sim_msisdn": "", "imsi_id": "12105613",
        "imsi": "693601932595201", "detail": ""}
    assert json.loads(row["detail"]) == raw["detail"]
    assert ", " not in row["detail"]
    assert ": " not in row["detail"]


def test_every_documented_event_example_makes_one_row() -> None:
    bodies, ids = [], []
    for path in sorted(need_fixtures().glob("event-*.json")):
        stored = encode_event(decode_event(json.loads(path.read_text())))
        bodies.append(stored)
        ids.append(msgspec.json.decode(stored)["id"])
    assert len(bodies) > 40
    _, body = render(Batch(STREAM, 1, "events", bodies, 1, len(bodies)))
    header, parsed = rows(body.decode())
    assert header == column_names("events")
    assert [int(r["id"]) for r in parsed] == ids
    for stored, row in zip(bodies, parsed, strict=True):
        record = msgspec.json.decode(stored)
        assert row["event_type_id"] == str(record["event_type"]["id"])
        assert row["alert"] in ("true", "false")
        assert row["organisation_id"] == str(record["organisation"]["id"])
        assert (json.loads(row["detail"]) if row["detail"] else None) == record.get("detail")
        if record.get("user"):
            assert (row["user_id"], row["user_name"]) == (str(record["user"]["id"]), record["user"]["name"])


async def test_usage_rows_hold_the_documented_fields(sink: S3Sink, s3: S3Client, bucket: str) -> None:
    data, sms = fixture_json("usage-data-1.json")[0], fixture_json("usage-sms-1.json")[0]
    await sink.deliver(usage_batch([data, sms], first=7))
    [(key, text)] = (await objects(s3, bucket)).items()
    # Filed under the hour the first record's usage was counted (end_timestamp), not when it started.
    assert key == f"{STREAM}/usage/2024/02/15/14/{7:020d}-{8:020d}.csv"
    header, [data_row, sms_row] = rows(text)
    assert header == column_names("usage")
    assert {k: data_row[k] for k in (
        "id", "cost", "currency_id", "currency_code", "currency_symbol", "traffic_type_id", "traffic_type",
        "volume_total", "volume_rx", "volume_tx", "start_timestamp", "end_timestamp", "session_id", "imsi",
        "imsi_id", "operator_id", "operator_name", "operator_mnc", "operator_country_id",
        "operator_country_mcc", "operator_country_name", "organisation_id", "organisation_name", "tariff_id",
        "tariff_name", "tariff_ratezone_id", "tariff_ratezone_name", "endpoint_id", "endpoint_name",
        "endpoint_ip_address", "endpoint_tags", "endpoint_imei", "endpoint_balance_amount", "sim_id",
        "sim_iccid", "sim_msisdn", "sim_production_date")} == {
        "id": "333333333333333", "cost": "0.00188512", "currency_id": "1", "currency_code": "EUR",
        "currency_symbol": "€", "traffic_type_id": "5", "traffic_type": "Data", "volume_total": "0.219933",
        "volume_rx": "0.172848", "volume_tx": "0.047085", "start_timestamp": "2022-04-26T11:53:43Z",
        "end_timestamp": "2024-02-15T14:56:15.260Z", "session_id": "722aeb56-c4de-4753-ac23-4f99c1980c5e",
        "imsi": "295050901064821", "imsi_id": "9624042", "operator_id": "5", "operator_name": "Telefonica O2",
        "operator_mnc": "07", "operator_country_id": "74", "operator_country_mcc": "262",
        "operator_country_name": "Germany", "organisation_id": "12345",
        "organisation_name": "Example Organization", "tariff_id": "1",
        "tariff_name": "Internal Test Data Plan",
        "tariff_ratezone_id": "2", "tariff_ratezone_name": "Area 2", "endpoint_id": "123456789",
        "endpoint_name": "Example Device", "endpoint_ip_address": "192.0.2.7", "endpoint_tags": "V1",
        "endpoint_imei": "8677300511111142", "endpoint_balance_amount": "", "sim_id": "3324192",
        "sim_iccid": "89883030000080139311", "sim_msisdn": "423663920123456",
        "sim_production_date": "2020-09-09T06:42:59Z"}
    assert (sms_row["traffic_type"], sms_row["volume_total"], sms_row["volume_rx"], sms_row["volume_tx"],
            sms_row["cost"]) == ("SMS", "1", "1", "0", "0.07")


def test_a_prepaid_balance_is_flattened_too() -> None:
    record = fixture_json("usage-data-2.json")[0]
    _, body = render(usage_batch([record]))
    [row] = rows(body.decode())[1]
    balance = record["endpoint"]["balance"]
    assert (row["endpoint_balance_amount"], row["endpoint_balance_currency_code"],
            row["endpoint_balance_last_updated"], row["endpoint_balance_expiry_date"]) == (
        str(balance["amount"]), "EUR", balance["last_updated"], balance["expiry_date"])


def test_text_with_commas_quotes_and_line_breaks_survives() -> None:
    tricky = 'Device "north", gate 3\nsecond line; ünïcode'
    stored = encode_event(event(7, id=9, description=tricky, endpoint={"id": 1, "name": tricky}))
    _, body = render(Batch(STREAM, 7, "events", [stored], 1, 1))
    [row] = rows(body.decode())[1]
    assert row["description"] == tricky
    assert row["endpoint_name"] == tricky
    assert body.count(b"\r\n") == 2  # header and record; the embedded line break is quoted, not a row end


# --- keys and retries -----------------------------------------------------------------------------


async def test_a_retried_batch_overwrites_its_own_object(sink: S3Sink, s3: S3Client, bucket: str) -> None:
    batch = event_batch(1, 5, stream_id=STREAM)
    await sink.deliver(batch)
    await sink.deliver(batch)  # the engine retries when it never saw the acknowledgement
    stored = await objects(s3, bucket)
    assert list(stored) == [f"{STREAM}/events/2026/01/01/00/{1:020d}-{5:020d}.csv"]
    assert [int(r["id"]) for r in rows(stored[next(iter(stored))])[1]] == [1, 2, 3, 4, 5]


async def test_keys_sort_in_log_order_across_digit_counts(sink: S3Sink, s3: S3Client, bucket: str) -> None:
    for first in (1, 9, 10, 100):
        await sink.deliver(event_batch(first, 1, stream_id=STREAM))
    keys = [item["Key"] for item in (await s3.list_objects_v2(Bucket=bucket))["Contents"]]
    assert [int(key.rsplit("/", 1)[1].split("-")[0]) for key in keys] == [1, 9, 10, 100]


async def test_the_hour_is_the_first_records_in_utc(sink: S3Sink, s3: S3Client, bucket: str) -> None:
    first = encode_event(event(7, id=1, ts=(23 * 3600 + 59 * 60) * 1000))  # 2026-01-01 23:59 UTC
    second = encode_event(event(7, id=2, ts=25 * 3600 * 1000))  # the next day
    await sink.deliver(Batch(STREAM, 7, "events", [first, second], 3, 4))
    assert list(await objects(s3, bucket)) == [f"{STREAM}/events/2026/01/01/23/{3:020d}-{4:020d}.csv"]


async def test_a_batch_of_megabytes_is_one_object(sink: S3Sink, s3: S3Client, bucket: str) -> None:
    # Over 1 MiB, where aiohttp warns of request bodies given as bytes (an error here); botocore hands
    # PutObject bodies over as file objects, which aiohttp streams.
    await sink.deliver(event_batch(1, 10_000, stream_id=STREAM))
    [text] = (await objects(s3, bucket)).values()
    assert len(text) > 1024 * 1024
    assert [int(r["id"]) for r in rows(text)[1]] == list(range(1, 10_001))


# --- the role -------------------------------------------------------------------------------------


def assumed(session_name: str) -> list[Any]:
    return [r for r in sts_backends[ACCOUNT]["aws"].assumed_roles if r.session_name == session_name]


async def test_it_writes_as_the_role_it_assumed(sink: S3Sink, s3: S3Client, bucket: str) -> None:
    stream_id = uuid.uuid4().hex[:8]
    await sink.deliver(event_batch(1, 2, stream_id=stream_id))
    [role] = assumed(f"cellstream-{stream_id}")
    assert role.role_arn == ROLE_ARN
    assert sink.role.credentials is not None
    assert sink.role.credentials.access_key_id == role.access_key_id != "testing"
    await sink.deliver(event_batch(3, 2, stream_id=stream_id))
    assert len(assumed(f"cellstream-{stream_id}")) == 1  # credentials valid for an hour are reused


async def test_it_assumes_the_role_again_before_the_credentials_expire(sink: S3Sink, s3: S3Client,
                                                                       bucket: str) -> None:
    stream_id = uuid.uuid4().hex[:8]
    await sink.deliver(event_batch(1, 2, stream_id=stream_id))
    granted = sink.role.credentials
    assert granted is not None
    sink.role.credentials = replace(granted, expiration=datetime.now(UTC) + timedelta(minutes=2))
    await sink.deliver(event_batch(3, 2, stream_id=stream_id))
    first, second = assumed(f"cellstream-{stream_id}")
    assert sink.role.credentials.access_key_id == second.access_key_id != first.access_key_id
    assert len(await objects(s3, bucket)) == 2


# --- failures -------------------------------------------------------------------------------------


async def test_a_missing_bucket_fails_permanently(moto_url: str) -> None:
    sink = open_sink("S3", S3Credentials(region=REGION, bucket_name=f"missing-{uuid.uuid4().hex}",
                                         role_arn=ROLE_ARN), SinkSettings(aws_endpoint_url=moto_url))
    failed = await failure(sink, event_batch(1, 3))
    assert failed.permanent
    assert failed.status == 404
    assert "NoSuchBucket" in failed.message
    assert "does not exist" in failed.message


async def test_a_malformed_role_fails_permanently(moto_url: str, bucket: str) -> None:
    sink = S3Sink(S3Credentials(region=REGION, bucket_name=bucket, role_arn="writer"),
                  SinkSettings(aws_endpoint_url=moto_url))
    failed = await failure(sink, event_batch(1, 3))
    assert failed.permanent
    assert "assuming role 'writer'" in failed.message


async def test_nothing_listening_is_worth_retrying() -> None:
    # A port that was free a moment ago: nothing listens there.
    sink = S3Sink(S3Credentials(region=REGION, bucket_name="some-bucket", role_arn=ROLE_ARN),
                  SinkSettings(aws_endpoint_url=f"http://127.0.0.1:{free_port()}"))
    failed = await failure(sink, event_batch(1, 3))
    assert not failed.permanent
    assert "EndpointConnectionError" in failed.message


def test_open_sink_builds_an_s3_sink_from_the_credentials() -> None:
    credentials = S3Credentials(region=REGION, bucket_name="b-1", role_arn=ROLE_ARN, flush_size=250,
                                rotate_interval=60_000)
    sink = open_sink("S3", credentials, SinkSettings())
    assert isinstance(sink, S3Sink)
    assert (sink.max_batch, sink.linger_ms) == (250, 60_000)
