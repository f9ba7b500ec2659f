"""The Kinesis sink against moto's Kinesis and STS: records as stored, keyed by device, split to Kinesis'
limits, partial failures resent entry by entry, oversize records refused, and writing as the assumed role
(proven by a stream that exists only in the role's account).

Partial failures are injected by a thin wrapper around the real client, which withholds chosen entries from
moto and reports them failed, as Kinesis does when a shard is over its throughput; the server stays real.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from moto.sts.models import sts_backends

from cellstream.events.codec import encode_event
from cellstream.streamer.destinations import KinesisCredentials
from cellstream.streamer.sinks import kinesis, open_sink
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, SinkSettings
from cellstream.streamer.sinks.kinesis import MAX_RECORD_BYTES, MIB, Entry, KinesisSink, calls
from tests.conftest import need_fixtures
from tests.contracts.factory import event
from tests.contracts.sink_harnesses.base import event_batch
from tests.streamer.sinks.delivery import failure
from tests.streamer.sinks.moto_server import ACCOUNT, REGION, ROLE_ARN, moto_client

if TYPE_CHECKING:
    from types_aiobotocore_kinesis.client import KinesisClient

STREAM_ID = "c0ffee02"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The waits between resends are the same code at any length; these tests need not sit them out."""
    monkeypatch.setattr(kinesis, "BACKOFF_BASE_S", 0.0)


@pytest.fixture
async def admin(moto_url: str) -> AsyncIterator[KinesisClient]:
    async with moto_client("kinesis", moto_url) as client:
        yield client


@pytest.fixture
async def stream(admin: KinesisClient) -> str:
    name = f"cellstream-unit-{uuid.uuid4().hex[:16]}"
    await admin.create_stream(StreamName=name, ShardCount=1)
    return name


@pytest.fixture
async def sink(moto_url: str, stream: str) -> AsyncIterator[KinesisSink]:
    opened = KinesisSink(KinesisCredentials(region=REGION, stream_name=stream, role_arn=ROLE_ARN),
                         SinkSettings(aws_endpoint_url=moto_url))
    yield opened
    await opened.close()


async def arrived(client: KinesisClient, stream: str) -> list[dict[str, Any]]:
    """Every record on the stream's one shard, in order: its partition key and decoded data."""
    shard = (await client.list_shards(StreamName=stream))["Shards"][0]["ShardId"]
    iterator: str | None = (await client.get_shard_iterator(
        StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"))["ShardIterator"]
    out: list[dict[str, Any]] = []
    while iterator:
        answer = await client.get_records(ShardIterator=iterator, Limit=10_000)
        if not answer["Records"]:
            return out
        out.extend({"key": r["PartitionKey"], "data": r["Data"]} for r in answer["Records"])
        iterator = answer.get("NextShardIterator")
    return out


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [msgspec.json.decode(r["data"])["id"] for r in records]


class Wrapped:
    """The real client, with every PutRecords request noted and, where `fail` says so, entries withheld
    and answered with `error` instead."""

    def __init__(self, client: KinesisClient, fail: Callable[[int, int], bool],
                 error: str = "ProvisionedThroughputExceededException") -> None:
        self.client = client
        self.fail = fail  # (call number, entry index in the call) -> fail it?
        self.error = error
        self.requests: list[list[bytes]] = []

    async def put_records(self, **kwargs: Any) -> dict[str, Any]:
        call = len(self.requests)
        entries = kwargs["Records"]
        self.requests.append([e["Data"] for e in entries])
        failing = [self.fail(call, n) for n in range(len(entries))]
        sent = [e for e, f in zip(entries, failing, strict=True) if not f]
        real = (await self.client.put_records(StreamName=kwargs["StreamName"], Records=sent))["Records"] \
            if sent else []
        results = iter(real)
        answer = [{"ErrorCode": self.error, "ErrorMessage": "Rate exceeded for shard shardId-000000000000"}
                  if f else next(results) for f in failing]
        return {"FailedRecordCount": sum(failing), "Records": answer}


def wrap(sink: KinesisSink, monkeypatch: pytest.MonkeyPatch,
         make: Callable[[KinesisClient], Any]) -> list[Any]:
    """Has the sink use `make(real client)`; returns the wrappers made (one per real client)."""
    real = sink.role.client
    made: list[Any] = []

    async def client(stream_id: str) -> Any:
        underlying = await real(stream_id)
        if not made or made[-1].client is not underlying:
            made.append(make(underlying))
        return made[-1]

    monkeypatch.setattr(sink.role, "client", client)
    return made


def sized(record_id: int, size: int) -> bytes:
    """An event whose stored JSON is exactly `size` bytes (a long description pads it)."""
    bare = encode_event(event(7, id=record_id, description="x", endpoint={"id": 100, "name": "d"}))
    return encode_event(event(7, id=record_id, description="x" * (size - len(bare) + 1),
                              endpoint={"id": 100, "name": "d"}))


# --- what arrives ---------------------------------------------------------------------------------


async def test_records_arrive_as_stored_keyed_by_endpoint_else_organisation(
        sink: KinesisSink, admin: KinesisClient, stream: str) -> None:
    device = encode_event(event(7, id=1, endpoint={"id": 4711, "name": "pump"}))
    no_device = encode_event(event(7, id=2))
    usage = json.loads((need_fixtures() / "usage-data-1.json").read_text())[0]
    usage_body = msgspec.json.encode(usage)
    usage_without_endpoint = msgspec.json.encode(usage | {"endpoint": None, "id": 3})
    await sink.deliver(Batch(STREAM_ID, 7, "events", [device, no_device], 1, 2))
    await sink.deliver(Batch(STREAM_ID, 12345, "usage", [usage_body, usage_without_endpoint], 1, 2))
    got = await arrived(admin, stream)
    assert [r["data"] for r in got] == [device, no_device, usage_body, usage_without_endpoint]
    assert [r["key"] for r in got] == ["4711", "7", "123456789", "12345"]


def test_calls_respect_500_entries_and_5_mib() -> None:
    many = [Entry(n, b"{}", "1") for n in range(1_234)]
    assert [len(c) for c in calls(many)] == [500, 500, 234]
    assert [e.index for c in calls(many) for e in c] == list(range(1_234))
    big = [Entry(n, b"x" * (MIB - 100), "1") for n in range(12)]  # five fit in 5 MiB, six do not
    assert [len(c) for c in calls(big)] == [5, 5, 2]
    assert all(sum(e.size for e in c) <= 5 * MIB for c in calls(big))


async def test_a_big_batch_is_split_into_calls_of_500(sink: KinesisSink, admin: KinesisClient, stream: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    spies = wrap(sink, monkeypatch, lambda c: Wrapped(c, lambda _call, _n: False))
    batch = event_batch(1, 1_100, stream_id=STREAM_ID)
    await sink.deliver(batch)
    assert [len(r) for r in spies[0].requests] == [500, 500, 100]
    assert ids(await arrived(admin, stream)) == list(range(1, 1_101))


# aiohttp warns of any request body over 1 MiB given as bytes; botocore encodes PutRecords so, and a call of
# up to 5 MiB is what Kinesis is for. (In production the default filters ignore ResourceWarning.)
@pytest.mark.filterwarnings("ignore:Sending a large body directly with raw bytes:ResourceWarning")
async def test_a_batch_over_5_mib_is_split_by_size(sink: KinesisSink, admin: KinesisClient, stream: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    spies = wrap(sink, monkeypatch, lambda c: Wrapped(c, lambda _call, _n: False))
    records = [sized(n, 900_000) for n in range(1, 13)]
    await sink.deliver(Batch(STREAM_ID, 7, "events", records, 1, 12))
    assert [len(r) for r in spies[0].requests] == [5, 5, 2]
    assert ids(await arrived(admin, stream)) == list(range(1, 13))


# --- partial failures -----------------------------------------------------------------------------


async def test_only_the_failed_entries_are_resent_in_order(
        sink: KinesisSink, admin: KinesisClient, stream: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spies = wrap(sink, monkeypatch, lambda c: Wrapped(c, lambda call, n: call == 0 and n in (2, 5, 6)))
    batch = event_batch(1, 10, stream_id=STREAM_ID)
    await sink.deliver(batch)
    first, resend = spies[0].requests
    assert first == list(batch.records)
    assert resend == [batch.records[2], batch.records[5], batch.records[6]]
    # Kinesis puts a resent entry after those that went through: the order across a partial failure.
    assert ids(await arrived(admin, stream)) == [1, 2, 4, 5, 8, 9, 10, 3, 6, 7]


async def test_entries_failing_on_every_resend_fail_the_batch_for_a_retry(
        sink: KinesisSink, admin: KinesisClient, stream: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Record 4 fails in the first call, and so does every resend (which holds only it).
    spies = wrap(sink, monkeypatch, lambda c: Wrapped(c, lambda call, n: call > 0 or n == 4))
    batch = event_batch(1, 6, stream_id=STREAM_ID)
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(batch)
    assert not failed.value.permanent
    assert len(spies[0].requests) == kinesis.ATTEMPTS
    assert all(r == [batch.records[4]] for r in spies[0].requests[1:])
    assert "1 of 6 records still failed" in failed.value.message
    assert "record 4 of batch" in failed.value.message
    assert "(id 5)" in failed.value.message
    assert "ProvisionedThroughputExceededException" in failed.value.message
    assert ids(await arrived(admin, stream)) == [1, 2, 3, 4, 6]


async def test_an_entry_the_stream_key_refuses_fails_permanently(sink: KinesisSink,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    spies = wrap(sink, monkeypatch,
                 lambda c: Wrapped(c, lambda _call, n: n == 1, error="KMSAccessDeniedException"))
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(event_batch(1, 3, stream_id=STREAM_ID))
    assert failed.value.permanent
    assert "KMSAccessDeniedException" in failed.value.message
    assert len(spies[0].requests) == 1


async def test_a_throttled_call_is_a_retryable_failure(sink: KinesisSink,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    class Throttled:
        def __init__(self, client: KinesisClient) -> None:
            self.client = client

        async def put_records(self, **kwargs: Any) -> Any:
            response: Any = {"Error": {"Code": "LimitExceededException", "Message": "Rate exceeded"},
                             "ResponseMetadata": {"HTTPStatusCode": 400}}
            raise ClientError(response, "PutRecords")

    wrap(sink, monkeypatch, Throttled)
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(event_batch(1, 3, stream_id=STREAM_ID))
    assert not failed.value.permanent
    assert "LimitExceededException" in failed.value.message
    assert not isinstance(failed.value, ClientError)


# --- limits and misconfiguration ------------------------------------------------------------------


async def test_a_record_over_1_mib_fails_permanently_naming_it(sink: KinesisSink, admin: KinesisClient,
                                                               stream: str) -> None:
    fine = encode_event(event(7, id=1))
    huge = sized(2, MAX_RECORD_BYTES)  # with its partition key, one byte over
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(Batch(STREAM_ID, 7, "events", [fine, huge], 1, 2))
    assert failed.value.permanent
    assert "record 1 of batch" in failed.value.message
    assert "(id 2)" in failed.value.message
    assert str(MAX_RECORD_BYTES) in failed.value.message
    assert await arrived(admin, stream) == []  # refused before anything was sent


async def test_a_missing_stream_fails_permanently(moto_url: str) -> None:
    credentials = KinesisCredentials(region=REGION, stream_name=f"missing-{uuid.uuid4().hex}",
                                     role_arn=ROLE_ARN)
    failed = await failure(open_sink("AwsKinesis", credentials, SinkSettings(aws_endpoint_url=moto_url)),
                           event_batch(1, 3))
    assert failed.permanent
    assert "ResourceNotFoundException" in failed.message


# --- the role -------------------------------------------------------------------------------------


async def test_it_writes_as_the_assumed_role_of_another_account(moto_url: str, admin: KinesisClient) -> None:
    """moto keeps each account's streams apart and maps temporary credentials to the role's account, so
    a stream made only in the role's account takes the records only if the sink wrote with them."""
    other = "210987654321"
    role_arn = f"arn:aws:iam::{other}:role/cellstream-writer"
    name = f"cellstream-cross-{uuid.uuid4().hex[:12]}"
    session = get_session()
    async with session.create_client("sts", region_name=REGION, endpoint_url=moto_url) as sts:
        granted = (await sts.assume_role(RoleArn=role_arn, RoleSessionName="test-setup"))["Credentials"]
    async with session.create_client(
            "kinesis", region_name=REGION, endpoint_url=moto_url, aws_access_key_id=granted["AccessKeyId"],
            aws_secret_access_key=granted["SecretAccessKey"],
            aws_session_token=granted["SessionToken"]) as theirs:
        await theirs.create_stream(StreamName=name, ShardCount=1)
        with pytest.raises(ClientError):  # the platform's own account has no such stream
            await admin.describe_stream_summary(StreamName=name)
        sink = KinesisSink(KinesisCredentials(region=REGION, stream_name=name, role_arn=role_arn),
                           SinkSettings(aws_endpoint_url=moto_url))
        stream_id = uuid.uuid4().hex[:8]
        try:
            await sink.deliver(event_batch(1, 4, stream_id=stream_id))
        finally:
            await sink.close()
        assert ids(await arrived(theirs, name)) == [1, 2, 3, 4]
    assumed = sts_backends[other]["aws"].assumed_roles
    [role] = [r for r in assumed if r.session_name == f"cellstream-{stream_id}"]
    assert role.role_arn == role_arn
    assert other != ACCOUNT


def test_open_sink_builds_a_kinesis_sink() -> None:
    sink = open_sink("AwsKinesis", KinesisCredentials(region=REGION, stream_name="s", role_arn=ROLE_ARN),
                     SinkSettings())
    assert isinstance(sink, KinesisSink)
    assert (sink.max_batch, sink.linger_ms) == (500, 0)
