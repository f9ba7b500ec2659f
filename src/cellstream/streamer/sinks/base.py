"""What every sink is: something that takes a batch of records and either delivers all of it or raises
`DeliveryFailed`. The delivery engine owns ordering, cursors, retries and status; a sink owns only the
wire protocol of its destination. A sink may keep connections open between batches; `close` ends them.

A record is the canonical JSON of an event or of a usage record (bytes, exactly as stored), so a sink that
sends JSON splices it without re-encoding; sinks that need fields (a partition key, a topic, CSV columns)
decode the records they need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from cellstream.streamer.destinations import Credentials

RecordKind = Literal["events", "usage"]


@dataclass(frozen=True)
class Batch:
    stream_id: str  # the public data stream id, e.g. "689d97ba"
    org_id: int
    kind: RecordKind
    records: Sequence[bytes]  # in log order
    first_position: int = 0  # positions of the first and last record in their log
    last_position: int = 0

    @property
    def delivery_id(self) -> str:
        """Stable across retries of the same batch: receivers deduplicate on it (webhook-id)."""
        return f"{self.stream_id}-{self.kind[0]}{self.first_position}-{self.last_position}"


class DeliveryFailed(Exception):
    """The destination did not take the batch. `permanent` says retrying the same batch cannot help
    (a misconfiguration); `retry_after_s` is the destination's own wish (HTTP Retry-After)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s
        self.permanent = permanent


@dataclass(frozen=True)
class SinkSettings:
    """Platform settings a sink may need; tests point the cloud sinks at local servers with these."""

    aws_endpoint_url: str | None = None  # e.g. moto's server; None = the real AWS endpoints
    datadog_url: str | None = None  # replaces https://http-intake.logs.<site>
    keenio_url: str | None = None  # replaces https://api.keen.io
    allow_private_destinations: bool = False
    extra: dict[str, str] = field(default_factory=dict)


class Sink(Protocol):
    @property
    def max_batch(self) -> int:
        """The most records one `deliver` call takes."""
        ...

    @property
    def linger_ms(self) -> int:
        """How long the engine may hold a partial batch to fill it (0: send what is there now)."""
        ...

    async def deliver(self, batch: Batch) -> None:
        """Deliver every record of `batch`, or raise DeliveryFailed. Called one batch at a time."""
        ...

    async def close(self) -> None:
        ...


class SinkFactory(Protocol):
    def __call__(self, credentials: Credentials, settings: SinkSettings, secrets: Sequence[str]) -> Sink:
        """`secrets`: the stream's signing secrets, newest first (webhooks sign with each)."""
        ...
