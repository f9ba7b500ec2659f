"""What the sink contract suite needs of each connection type: a real server to deliver to, credentials
pointing at it, and a way to read back what arrived. One module per connection type beside this one."""

from __future__ import annotations

from typing import Any, Protocol, Self

from cellstream.events.codec import encode_event
from cellstream.streamer.sinks.base import Batch, SinkSettings
from tests.contracts.factory import event


class SinkHarness(Protocol):
    connection_type: str
    settings: SinkSettings

    async def __aenter__(self) -> Self:
        """Check the server is there (tests.conftest.need_service) and prepare a fresh destination
        (a bucket, a stream, a topic subscription, a receiver) for this test alone."""
        ...

    async def __aexit__(self, *exc: object) -> None: ...

    def credentials(self) -> dict[str, Any]:
        """Raw `destination.credentials` (as an API client would send them) for the prepared destination."""
        ...

    def broken_credentials(self) -> dict[str, Any]:
        """Valid-looking credentials whose delivery must fail (nothing listening, no such bucket …)."""
        ...

    async def received_ids(self, expected: int, timeout_s: float = 10.0) -> list[int]:
        """The `id` of every record that arrived, in arrival order; waits until `expected` arrived or
        `timeout_s` passed (then returns what there is)."""
        ...


def event_batch(first_id: int, count: int, *, org: int = 7, stream_id: str = "c0ffee01") -> Batch:
    """A batch of `count` events with ids first_id…, as the engine hands them to a sink."""
    bodies = [encode_event(event(org, id=first_id + n, type=1 + n % 5, ts=n * 1000,
                                 endpoint={"id": 100 + n % 3, "name": f"device-{n % 3}"}))
              for n in range(count)]
    return Batch(stream_id, org, "events", bodies, first_id, first_id + count - 1)
