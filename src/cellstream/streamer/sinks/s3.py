"""The S3 sink: each batch becomes one CSV object in the customer's bucket (facts §E.2, §E.3: S3 streams
are `Csv` only; `flush_size` entries per file, a file at least every `rotate_interval` ms).

CSV has no nesting, so the documented fields are flattened into fixed columns (`endpoint.imei` →
`endpoint_imei`); the column lists below are the file format customers build their tables on (Athena,
QuickSight), so they only ever grow at the end. An event's `detail`, whose shape differs by event type, stays
one column of compact JSON.

The object key is a function of the batch alone (`<stream>/<kind>/YYYY/MM/DD/HH/<first>-<last>.csv`, the hour
of the first record, UTC), so a batch the engine retries after an unacknowledged upload overwrites its own
object instead of duplicating it. Positions are zero-padded so that key order is log order within an hour.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from cellstream.events.timefmt import parse_timestamp
from cellstream.streamer.destinations import Credentials, S3Credentials
from cellstream.streamer.sinks.aws_session import (
    AWS_ERRORS,
    AssumedRole,
    TemporaryCredentials,
    client_config,
)
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, RecordKind, SinkSettings

if TYPE_CHECKING:
    from aiobotocore.session import AioSession, ClientCreatorContext
    from types_aiobotocore_s3.client import S3Client

Column = tuple[str, tuple[str, ...]]  # CSV header, path of keys into the record

EVENT_COLUMNS: tuple[Column, ...] = (
    ("id", ("id",)),
    ("timestamp", ("timestamp",)),
    ("event_type_id", ("event_type", "id")),
    ("event_type", ("event_type", "description")),
    ("event_source_id", ("event_source", "id")),
    ("event_source", ("event_source", "description")),
    ("event_severity_id", ("event_severity", "id")),
    ("event_severity", ("event_severity", "description")),
    ("alert", ("alert",)),
    ("description", ("description",)),
    ("organisation_id", ("organisation", "id")),
    ("organisation_name", ("organisation", "name")),
    ("user_id", ("user", "id")),
    ("user_name", ("user", "name")),
    ("endpoint_id", ("endpoint", "id")),
    ("endpoint_name", ("endpoint", "name")),
    ("endpoint_ip_address", ("endpoint", "ip_address")),
    ("endpoint_imei", ("endpoint", "imei")),
    ("endpoint_tags", ("endpoint", "tags")),
    ("sim_id", ("sim", "id")),
    ("sim_iccid", ("sim", "iccid")),
    ("sim_msisdn", ("sim", "msisdn")),
    ("imsi_id", ("imsi", "id")),
    ("imsi", ("imsi", "imsi")),
    ("detail", ("detail",)),
)

USAGE_COLUMNS: tuple[Column, ...] = (
    ("id", ("id",)),
    ("cost", ("cost",)),
    ("currency_id", ("currency", "id")),
    ("currency_code", ("currency", "code")),
    ("currency_symbol", ("currency", "symbol")),
    ("traffic_type_id", ("traffic_type", "id")),
    ("traffic_type", ("traffic_type", "description")),
    ("volume_total", ("volume", "total")),
    ("volume_rx", ("volume", "rx")),
    ("volume_tx", ("volume", "tx")),
    ("start_timestamp", ("start_timestamp",)),
    ("end_timestamp", ("end_timestamp",)),
    ("session_id", ("session_id",)),
    ("imsi", ("imsi",)),
    ("imsi_id", ("imsi_id",)),
    ("operator_id", ("operator", "id")),
    ("operator_name", ("operator", "name")),
    ("operator_mnc", ("operator", "mnc")),
    ("operator_country_id", ("operator", "country", "id")),
    ("operator_country_mcc", ("operator", "country", "mcc")),
    ("operator_country_name", ("operator", "country", "name")),
    ("organisation_id", ("organisation", "id")),
    ("organisation_name", ("organisation", "name")),
    ("tariff_id", ("tariff", "id")),
    ("tariff_name", ("tariff", "name")),
    ("tariff_ratezone_id", ("tariff", "ratezone", "id")),
    ("tariff_ratezone_name", ("tariff", "ratezone", "name")),
    ("endpoint_id", ("endpoint", "id")),
    ("endpoint_name", ("endpoint", "name")),
    ("endpoint_ip_address", ("endpoint", "ip_address")),
    ("endpoint_tags", ("endpoint", "tags")),
    ("endpoint_imei", ("endpoint", "imei")),
    ("endpoint_balance_amount", ("endpoint", "balance", "amount")),
    ("endpoint_balance_currency_code", ("endpoint", "balance", "currency", "code")),
    ("endpoint_balance_last_updated", ("endpoint", "balance", "last_updated")),
    ("endpoint_balance_expiry_date", ("endpoint", "balance", "expiry_date")),
    ("sim_id", ("sim", "id")),
    ("sim_iccid", ("sim", "iccid")),
    ("sim_msisdn", ("sim", "msisdn")),
    ("sim_production_date", ("sim", "production_date")),
)

COLUMNS: dict[RecordKind, tuple[Column, ...]] = {"events": EVENT_COLUMNS, "usage": USAGE_COLUMNS}
# The record time that files a batch under its hour: when the event happened, when the usage was counted.
DATED_BY: dict[RecordKind, str] = {"events": "timestamp", "usage": "end_timestamp"}
POSITION_DIGITS = 20  # any int64 position, so that keys sort as numbers
CONTENT_TYPE = "text/csv; charset=utf-8"

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def column_names(kind: RecordKind) -> list[str]:
    """The CSV header of `kind`, as a reader of the files expects it."""
    return [name for name, _ in COLUMNS[kind]]


def cell(value: Any) -> str:
    """One CSV field: JSON's spelling for booleans, compact JSON for anything nested, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return _encoder.encode(value).decode()


def field(record: Any, path: tuple[str, ...]) -> Any:
    """The value at `path`, or None where any part is missing or null (a field that does not apply)."""
    value = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def object_key(batch: Batch, first: Any) -> str:
    """`first` is the batch's first record, decoded; a record without a readable time (never stored so,
    but a key must still be the same on every retry) is filed under `undated`."""
    span = f"{batch.first_position:0{POSITION_DIGITS}d}-{batch.last_position:0{POSITION_DIGITS}d}.csv"
    stamp = field(first, (DATED_BY[batch.kind],))
    moment: datetime | None = None
    if isinstance(stamp, str):
        try:
            moment = datetime.fromtimestamp(parse_timestamp(stamp) / 1000, tz=UTC)
        except (ValueError, OverflowError, OSError):
            moment = None
    if moment is None:
        return f"{batch.stream_id}/{batch.kind}/undated/{span}"
    return f"{batch.stream_id}/{batch.kind}/{moment:%Y/%m/%d/%H}/{span}"


def render(batch: Batch) -> tuple[str, bytes]:
    """The object key and CSV body (UTF-8, header first, CRLF line ends as RFC 4180 has them) of `batch`."""
    columns = COLUMNS[batch.kind]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(column_names(batch.kind))
    first: Any = None
    for n, body in enumerate(batch.records):
        try:
            record = _decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise DeliveryFailed(f"record {n} of batch {batch.delivery_id} is not JSON: {exc}",
                                 permanent=True) from exc
        if n == 0:
            first = record
        writer.writerow([cell(field(record, path)) for _, path in columns])
    return object_key(batch, first), out.getvalue().encode()


class S3Sink:
    def __init__(self, credentials: S3Credentials, settings: SinkSettings, *,
                 session: AioSession | None = None) -> None:
        self.credentials = credentials
        self.settings = settings
        self.role: AssumedRole[S3Client] = AssumedRole(
            role_arn=credentials.role_arn, region=credentials.region, settings=settings,
            open_client=self._open_client, session=session)

    @property
    def max_batch(self) -> int:
        return self.credentials.flush_size

    @property
    def linger_ms(self) -> int:
        return self.credentials.rotate_interval

    def _open_client(self, session: AioSession,
                     granted: TemporaryCredentials) -> ClientCreatorContext[S3Client]:
        return session.create_client(
            "s3", region_name=self.credentials.region, endpoint_url=self.settings.aws_endpoint_url,
            aws_access_key_id=granted.access_key_id, aws_secret_access_key=granted.secret_access_key,
            aws_session_token=granted.session_token, config=client_config(self.settings))

    async def deliver(self, batch: Batch) -> None:
        if not batch.records:
            return
        # Off the event loop: a batch of 100,000 records takes long enough to stall every other stream.
        key, body = await asyncio.to_thread(render, batch)
        client = await self.role.client(batch.stream_id)
        bucket = self.credentials.bucket_name
        try:
            await client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPE,
                                    Metadata={"delivery-id": batch.delivery_id,
                                              "records": str(len(batch.records))})
        except AWS_ERRORS as exc:
            raise self.role.failure(exc, f"writing {key!r} to S3 bucket {bucket!r}") from exc

    async def close(self) -> None:
        await self.role.close()


def open_sink(credentials: Credentials, settings: SinkSettings, secrets: Sequence[str]) -> S3Sink:
    if not isinstance(credentials, S3Credentials):
        raise TypeError(f"the S3 sink needs S3Credentials, not {type(credentials).__name__}")
    return S3Sink(credentials, settings)
