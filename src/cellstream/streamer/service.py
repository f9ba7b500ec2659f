"""The Data Streamer's operations as the API offers them (facts §E): create, list, get, change, delete,
restart, and Cellstream's stats, replay, test delivery and webhook secret rotation. Every change is one
transaction on the resource store; the supervisor then restarts the stream's worker from what was stored.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cellstream.clock import Clock
from cellstream.domain.principal import Principal
from cellstream.errors import Conflict, Unprocessable
from cellstream.events.timefmt import format_optional
from cellstream.store.protocols import EventStore
from cellstream.store.resources import ResourceStore, ResourceTx, owned
from cellstream.streamer.addresses import check_destination
from cellstream.streamer.destinations import as_dict, format_of, parse_credentials, unmask
from cellstream.streamer.filters import compile_filters
from cellstream.streamer.model import (
    EVENTS,
    PAUSED,
    PENDING,
    RELATION_RESOLUTIONS,
    RUNNING,
    STATUSES,
    STREAM_TYPES,
    DataStream,
    SigningSecret,
    StreamCursor,
    lookup,
)
from cellstream.streamer.sample import sample_record
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, Sink, SinkSettings
from cellstream.streamer.supervisor import StreamSupervisor, index_of
from cellstream.streamer.worker import OpenSink

SECRET_OVERLAP_MS = 24 * 3_600_000  # a rotated-out webhook secret stays valid this long
URL_FIELDS = {"RestAPI": ("url", ("http", "https")), "Mqtt": ("url", ("mqtt", "mqtts")),
              "Nats": ("url", ("nats", "tls"))}


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _lookup_id(body: dict[str, Any], key: str, allowed: dict[int, str]) -> int:
    raw = body.get(key)
    ident = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(ident, bool) or not isinstance(ident, int) or ident not in allowed:
        choices = ", ".join(f"{k} {v}" for k, v in allowed.items())
        raise Unprocessable.of(f"{key}.id", f"is required: one of {choices}")
    return ident


@dataclass(frozen=True)
class Destination:
    connection_type: str
    credentials: dict[str, Any]
    signing_secret: str | None


class DataStreams:
    def __init__(self, resources: ResourceStore, events: EventStore, clock: Clock,
                 supervisor: StreamSupervisor, open_sink: OpenSink, sink_settings: SinkSettings,
                 retention_ms: int) -> None:
        self.resources, self._events, self._clock = resources, events, clock
        self.supervisor, self._open_sink, self._sink_settings = supervisor, open_sink, sink_settings
        self._retention_ms = retention_ms

    # ---------- reading ----------

    async def list(self, principal: Principal) -> list[DataStream]:
        return await self.resources.view(lambda tx: tx.scan(DataStream, principal.org_id))

    async def get(self, principal: Principal, stream_id: str) -> DataStream:
        return await self.resources.view(lambda tx: self._find(tx, principal, stream_id))

    @staticmethod
    def _find(tx: ResourceTx, principal: Principal, stream_id: str) -> DataStream:
        return owned(tx, DataStream, "data_stream_id", stream_id, principal.org_id, "data stream")

    # ---------- validation ----------

    async def _destination(self, raw: Any, stored: DataStream | None = None) -> Destination:
        if not isinstance(raw, dict):
            raise Unprocessable.of("destination", "is required: {connection_type, credentials}")
        connection_type = raw.get("connection_type")
        if not isinstance(connection_type, str):
            raise Unprocessable.of("destination.connection_type", "is required")
        fmt = raw.get("format")
        if fmt is not None and fmt != format_of(connection_type):
            raise Unprocessable.of("destination.format",
                                   f"{connection_type} takes {format_of(connection_type)}")
        given = raw.get("credentials")
        if stored is not None and isinstance(given, dict) and connection_type == stored.connection_type:
            given = unmask(connection_type, given, {**stored.credentials, "signing_secret": None})
        parsed = as_dict(parse_credentials(connection_type, given))
        if connection_type in URL_FIELDS:
            name, schemes = URL_FIELDS[connection_type]
            await check_destination(parsed[name], f"destination.credentials.{name}", schemes=schemes,
                                    allow_private=self._sink_settings.allow_private_destinations)
        secret = parsed.pop("signing_secret", None)
        return Destination(connection_type, {k: v for k, v in parsed.items() if v is not None}, secret)

    # ---------- changing ----------

    async def create(self, principal: Principal, body: dict[str, Any]) -> DataStream:
        principal.require_administrator("manage data streams")
        type_id = _lookup_id(body, "data_stream_type", STREAM_TYPES)
        destination = await self._destination(body.get("destination"))
        filters = body.get("filters") or []
        compile_filters(filters, type_id)
        name = body.get("name") or ""
        if not isinstance(name, str) or len(name) > 200:
            raise Unprocessable.of("name", "must be a text of at most 200 characters")
        relation = _lookup_id(body, "relation_resolution", RELATION_RESOLUTIONS) \
            if body.get("relation_resolution") is not None else 1
        start = (await self._events.last_position() if type_id == EVENTS
                 else await self.resources.usage_last_position())
        signing = [SigningSecret(destination.signing_secret or new_signing_secret())] \
            if destination.connection_type == "RestAPI" else []

        def work(tx: ResourceTx) -> DataStream:
            stream_id = secrets.token_hex(4)
            while tx.find(DataStream, "data_stream_id", stream_id) is not None:
                stream_id = secrets.token_hex(4)
            record_id = tx.next_id(DataStream)
            stream = DataStream(id=record_id, org_id=principal.org_id, stream_id=stream_id, name=name,
                                type_id=type_id, connection_type=destination.connection_type,
                                format=format_of(destination.connection_type),
                                credentials=destination.credentials, filters=filters,
                                relation_resolution_id=relation, status_id=PENDING, created_ms=tx.now_ms,
                                signing_secrets=signing)
            tx.put(stream)
            tx.put(StreamCursor(id=record_id, org_id=principal.org_id, position=start))
            index = index_of(tx)
            index.ids.append(record_id)
            tx.put(index)
            return stream

        stream = (await self.resources.transact(work)).value
        await self.supervisor.refresh(stream.id)
        return stream

    async def patch(self, principal: Principal, stream_id: str, body: dict[str, Any]) -> None:
        principal.require_administrator("manage data streams")
        current = await self.get(principal, stream_id)
        changes: dict[str, Any] = {}
        if "data_stream_type" in body and body["data_stream_type"] is not None and \
                _lookup_id(body, "data_stream_type", STREAM_TYPES) != current.type_id:
            raise Unprocessable.of("data_stream_type", "cannot change after creation")
        if body.get("status") is not None:
            changes["status_id"] = _lookup_id(body, "status", {RUNNING: "Running", PAUSED: "Paused"})
        if body.get("destination") is not None:
            destination = await self._destination(body["destination"], current)
            changes["connection_type"] = destination.connection_type
            changes["credentials"] = destination.credentials
            changes["format"] = format_of(destination.connection_type)
            if destination.signing_secret is not None:
                changes["signing_secrets"] = [SigningSecret(destination.signing_secret)]
            elif destination.connection_type == "RestAPI" and not current.signing_secrets:
                changes["signing_secrets"] = [SigningSecret(new_signing_secret())]
        if "filters" in body:
            compile_filters(body["filters"] or [], current.type_id)
            changes["filters"] = body["filters"] or []
        if body.get("name") is not None:
            if not isinstance(body["name"], str) or len(body["name"]) > 200:
                raise Unprocessable.of("name", "must be a text of at most 200 characters")
            changes["name"] = body["name"]

        def work(tx: ResourceTx) -> DataStream:
            stream = self._find(tx, principal, stream_id)
            for key, value in changes.items():
                setattr(stream, key, value)
            tx.put(stream)
            return stream

        stream = (await self.resources.transact(work)).value
        await self.supervisor.refresh(stream.id)

    async def delete(self, principal: Principal, stream_id: str) -> None:
        principal.require_administrator("manage data streams")

        def work(tx: ResourceTx) -> int:
            stream = self._find(tx, principal, stream_id)
            tx.delete(DataStream, stream.id)
            tx.delete(StreamCursor, stream.id)
            index = index_of(tx)
            index.ids = [i for i in index.ids if i != stream.id]
            tx.put(index)
            return stream.id

        record_id = (await self.resources.transact(work)).value
        await self.supervisor.refresh(record_id)

    async def restart(self, principal: Principal, stream_id: str) -> None:
        """Try again now: an Error stream goes back to Running and its failure run starts afresh."""
        principal.require_administrator("manage data streams")

        def work(tx: ResourceTx) -> int:
            stream = self._find(tx, principal, stream_id)
            if stream.status_id == PAUSED:
                raise Conflict(f"data stream {stream_id} is paused; resume it with PATCH status 1")
            stream.status_id = RUNNING
            tx.put(stream)
            cursor = tx.get(StreamCursor, stream.id) or StreamCursor(id=stream.id, org_id=stream.org_id)
            cursor.failing_since_ms = None
            tx.put(cursor)
            return stream.id

        await self.supervisor.refresh((await self.resources.transact(work)).value)

    async def replay(self, principal: Principal, stream_id: str, from_ms: int) -> int:
        """Deliver again everything stored since `from_ms` (within the stream retention); the position
        the stream continues after."""
        principal.require_administrator("manage data streams")
        now = self._clock.now_ms()
        if from_ms < now - self._retention_ms:
            raise Unprocessable.of("from", f"is older than the stream retention of "
                                   f"{self._retention_ms // 86_400_000} days")
        if from_ms > now:
            raise Unprocessable.of("from", "is in the future")
        current = await self.get(principal, stream_id)
        position = (await self._events.position_before(from_ms) if current.type_id == EVENTS
                    else await self.resources.usage_position_before(from_ms))

        def work(tx: ResourceTx) -> int:
            stream = self._find(tx, principal, stream_id)
            cursor = tx.get(StreamCursor, stream.id) or StreamCursor(id=stream.id, org_id=stream.org_id)
            cursor.position = position
            tx.put(cursor)
            return stream.id

        await self.supervisor.refresh((await self.resources.transact(work)).value)
        return position

    async def rotate_secret(self, principal: Principal, stream_id: str) -> str:
        principal.require_administrator("manage data streams")
        fresh = new_signing_secret()

        def work(tx: ResourceTx) -> int:
            stream = self._find(tx, principal, stream_id)
            if stream.connection_type != "RestAPI":
                raise Unprocessable.of("destination.connection_type", "only RestAPI streams sign requests")
            until = tx.now_ms + SECRET_OVERLAP_MS
            kept = [SigningSecret(s.secret, s.valid_until_ms or until) for s in stream.signing_secrets
                    if (s.valid_until_ms or until) > tx.now_ms]
            stream.signing_secrets = [SigningSecret(fresh), *kept[:1]]
            tx.put(stream)
            return stream.id

        await self.supervisor.refresh((await self.resources.transact(work)).value)
        return fresh

    # ---------- reporting ----------

    async def signing_secrets(self, principal: Principal, stream_id: str) -> dict[str, Any]:
        principal.require_administrator("manage data streams")
        stream = await self.get(principal, stream_id)
        now = self._clock.now_ms()
        valid = [s for s in stream.signing_secrets if s.valid_until_ms is None or s.valid_until_ms > now]
        return {"signing_secret": next((s.secret for s in valid if s.valid_until_ms is None), None),
                "previous": [{"signing_secret": s.secret, "valid_until": format_optional(s.valid_until_ms)}
                             for s in valid if s.valid_until_ms is not None]}

    async def stats(self, principal: Principal, stream_id: str) -> dict[str, Any]:
        stream = await self.get(principal, stream_id)
        cursor = await self.resources.view(lambda tx: tx.get(StreamCursor, stream.id)) \
            or StreamCursor(id=stream.id, org_id=stream.org_id)
        org = principal.org_id
        if stream.type_id == EVENTS:
            lag = await self._events.count_after(cursor.position, org_id=org)
            oldest = await self._events.read_after(cursor.position, 1, org_id=org)
            oldest_ms = oldest[0].stored_ms if oldest else None
        else:
            lag = await self.resources.usage_count_after(cursor.position, org_id=org)
            usage = await self.resources.usage_after(cursor.position, 1, org_id=org)
            oldest_ms = usage[0].stored_ms if usage else None
        now = self._clock.now_ms()
        return {
            "delivered": cursor.delivered, "batches": cursor.batches,
            "failed_attempts": cursor.failed_attempts,
            "lag_events": lag, "lag_seconds": 0.0 if oldest_ms is None else max(0, now - oldest_ms) / 1000,
            "position": cursor.position, "dropped": cursor.dropped,
            "dropped_at": format_optional(cursor.dropped_ms),
            "last_error": None if cursor.last_error is None else {
                "message": cursor.last_error, "status": cursor.last_error_status,
                "at": format_optional(cursor.last_error_ms)},
            "failing_since": format_optional(cursor.failing_since_ms),
            "last_delivery_at": format_optional(cursor.last_delivery_ms),
            "last_delivery_latency_ms": cursor.last_latency_ms,
            "status": lookup(STATUSES, stream.status_id),
        }

    async def test(self, principal: Principal, stream_id: str) -> dict[str, Any]:
        """Deliver one sample record to the stream's destination now; the outcome, not an exception."""
        principal.require_administrator("manage data streams")
        stream = await self.get(principal, stream_id)
        record = await sample_record(stream, self._events, self.resources, self._clock)
        sink: Sink = self._open_sink(stream, self._sink_settings, stream.secrets_at(self._clock.now_ms()))
        started = time.perf_counter()
        try:
            await sink.deliver(Batch(stream.stream_id, principal.org_id,
                                     "events" if stream.type_id == EVENTS else "usage", [record]))
        except DeliveryFailed as failure:
            return {"delivered": False, "status": failure.status, "message": failure.message,
                    "permanent": failure.permanent}
        finally:
            await sink.close()
        return {"delivered": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}

