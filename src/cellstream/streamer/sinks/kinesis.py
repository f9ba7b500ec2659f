"""The Kinesis Data Streams sink: each record becomes one Kinesis record, its JSON exactly as stored.

The partition key is the record's endpoint id (else its organisation id), so one device's records land on
one shard, where Kinesis keeps them in order, while devices spread over the shards.

PutRecords is not all-or-nothing: an answer may report some entries failed (usually a shard over its
throughput). Only those are sent again, in their original order, after a short randomised wait, a few
times; what still fails fails the batch, and the engine retries all of it (so Kinesis delivery is at least
once, as with any PutRecords producer). A resent entry lands after entries sent later in the same call,
which Kinesis cannot avoid; no order holds across a partial failure.

Kinesis limits each call to 500 entries and 5 MiB, and an entry to 1 MiB, partition key included. A
batch is split to fit the first two; a record too big for the third can never be written, so the batch fails
permanently, naming it, before anything is sent.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from cellstream.streamer.destinations import Credentials, KinesisCredentials
from cellstream.streamer.sinks.aws_session import (
    AWS_ERRORS,
    AssumedRole,
    TemporaryCredentials,
    client_config,
)
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, SinkSettings

if TYPE_CHECKING:
    from aiobotocore.session import AioSession, ClientCreatorContext
    from types_aiobotocore_kinesis.client import KinesisClient
    from types_aiobotocore_kinesis.type_defs import PutRecordsRequestEntryTypeDef

MIB = 1024 * 1024
MAX_RECORDS = 500  # per PutRecords call
MAX_REQUEST_BYTES = 5 * MIB  # per call, data and partition keys
MAX_RECORD_BYTES = 1 * MIB  # per entry, data and partition key
ATTEMPTS = 5  # sends of one call's entries: the first and up to four resends of the failed ones
BACKOFF_BASE_S = 0.05  # full jitter: wait up to base * 2**n before resend n (capped), so ≈1.5 s at most
BACKOFF_CAP_S = 1.0
# Entry errors no resend can cure: the stream's KMS key cannot be used by the role.
PERMANENT_ENTRY_ERRORS = frozenset({"KMSAccessDeniedException", "KMSDisabledException",
                                    "KMSNotFoundException", "KMSInvalidStateException", "KMSOptInRequired"})


class _Ref(msgspec.Struct):
    id: int | str | None = None


class _Owners(msgspec.Struct):
    """The two fields a partition key is made of; msgspec skips the rest of the record unparsed."""

    endpoint: _Ref | None = None
    organisation: _Ref | None = None


class _Id(msgspec.Struct):
    id: int | str | None = None


_owners = msgspec.json.Decoder(_Owners)
_id = msgspec.json.Decoder(_Id)


@dataclass(frozen=True)
class Entry:
    index: int  # in the batch
    data: bytes
    partition_key: str

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode())


def partition_key(record: bytes, org_id: int) -> str:
    try:
        owners = _owners.decode(record)
    except (msgspec.DecodeError, msgspec.ValidationError):
        owners = _Owners()
    for ref in (owners.endpoint, owners.organisation):
        if ref is not None and ref.id is not None and str(ref.id):
            return str(ref.id)[:256]  # Kinesis' limit; ids are far shorter
    return str(org_id)


def describe(batch: Batch, index: int) -> str:
    """A record as an operator finds it: its place in the batch and its id."""
    try:
        record_id = _id.decode(batch.records[index]).id
    except (msgspec.DecodeError, msgspec.ValidationError):
        record_id = None
    named = f" (id {record_id})" if record_id is not None else ""
    return f"record {index} of batch {batch.delivery_id}{named}"


def calls(entries: Sequence[Entry]) -> list[list[Entry]]:
    """`entries` in order, cut into PutRecords calls within the count and size limits."""
    out: list[list[Entry]] = []
    current: list[Entry] = []
    size = 0
    for entry in entries:
        if current and (len(current) == MAX_RECORDS or size + entry.size > MAX_REQUEST_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry.size
    if current:
        out.append(current)
    return out


def backoff_s(resend: int) -> float:
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** resend))


class KinesisSink:
    def __init__(self, credentials: KinesisCredentials, settings: SinkSettings, *,
                 session: AioSession | None = None) -> None:
        self.credentials = credentials
        self.settings = settings
        self.role: AssumedRole[KinesisClient] = AssumedRole(
            role_arn=credentials.role_arn, region=credentials.region, settings=settings,
            open_client=self._open_client, session=session)

    @property
    def max_batch(self) -> int:
        return MAX_RECORDS

    @property
    def linger_ms(self) -> int:
        return 0  # a stream consumer wants records as they happen; batching buys little per call

    def _open_client(self, session: AioSession,
                     granted: TemporaryCredentials) -> ClientCreatorContext[KinesisClient]:
        return session.create_client(
            "kinesis", region_name=self.credentials.region, endpoint_url=self.settings.aws_endpoint_url,
            aws_access_key_id=granted.access_key_id, aws_secret_access_key=granted.secret_access_key,
            aws_session_token=granted.session_token, config=client_config(self.settings))

    async def deliver(self, batch: Batch) -> None:
        if not batch.records:
            return
        entries = [Entry(n, body, partition_key(body, batch.org_id)) for n, body in enumerate(batch.records)]
        for entry in entries:
            if entry.size > MAX_RECORD_BYTES:
                raise DeliveryFailed(f"{describe(batch, entry.index)} is {entry.size} bytes with its "
                                     f"partition key; Kinesis takes at most {MAX_RECORD_BYTES} per record",
                                     permanent=True)
        client = await self.role.client(batch.stream_id)
        for call in calls(entries):
            await self._put(client, batch, call)

    async def _put(self, client: KinesisClient, batch: Batch, entries: list[Entry]) -> None:
        stream = self.credentials.stream_name
        pending = entries
        error = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(backoff_s(attempt - 1))
            request: list[PutRecordsRequestEntryTypeDef] = [
                {"Data": e.data, "PartitionKey": e.partition_key} for e in pending]
            try:
                answer = await client.put_records(StreamName=stream, Records=request)
            except AWS_ERRORS as exc:
                raise self.role.failure(exc, f"writing to Kinesis stream {stream!r}") from exc
            if not answer.get("FailedRecordCount"):
                return
            # The answer's entries match the request's one for one, in order.
            failed = [(entry, result) for entry, result in zip(pending, answer["Records"], strict=True)
                      if result.get("ErrorCode")]
            if not failed:  # a count without failed entries: nothing to resend
                return
            for entry, result in failed:
                if result.get("ErrorCode") in PERMANENT_ENTRY_ERRORS:
                    raise DeliveryFailed(f"writing {describe(batch, entry.index)} to Kinesis stream "
                                         f"{stream!r} failed: {result.get('ErrorCode')} "
                                         f"({result.get('ErrorMessage', '')})", permanent=True)
            pending = [entry for entry, _ in failed]
            first = failed[0][1]
            error = f"{first.get('ErrorCode')} ({first.get('ErrorMessage', '')})"
        raise DeliveryFailed(
            f"writing to Kinesis stream {stream!r}: {len(pending)} of {len(entries)} records still failed "
            f"after {ATTEMPTS} attempts, first {describe(batch, pending[0].index)}: {error}")

    async def close(self) -> None:
        await self.role.close()


def open_sink(credentials: Credentials, settings: SinkSettings, secrets: Sequence[str]) -> KinesisSink:
    if not isinstance(credentials, KinesisCredentials):
        raise TypeError(f"the Kinesis sink needs KinesisCredentials, not {type(credentials).__name__}")
    return KinesisSink(credentials, settings)
