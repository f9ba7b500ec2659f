"""The running platform's parts, as the adapters (HTTP API, CLI, portal, workers) see them.

Built only by `cellstream.runtime` (the composition root, which picks concrete stores); everything else
receives a `Services` and never chooses an implementation itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cellstream.automations.custom.service import CustomEvents
from cellstream.automations.service import Automations
from cellstream.clock import Clock
from cellstream.domain.auth import AuthService
from cellstream.domain.connectivity import Connectivity
from cellstream.ingest.notifier import Notifier
from cellstream.ingest.service import Ingestor
from cellstream.network.service import NetworkService
from cellstream.network.sms_callbacks import SmsCallbackDispatcher
from cellstream.settings import Settings
from cellstream.store.protocols import AccountStore, EventStore
from cellstream.streamer.service import DataStreams


@dataclass
class Services:
    settings: Settings
    clock: Clock
    events: EventStore
    accounts: AccountStore
    notifier: Notifier
    ingestor: Ingestor
    auth: AuthService
    connectivity: Connectivity
    network: NetworkService
    streams: DataStreams
    automations: Automations
    custom_events: CustomEvents
    sms_callbacks: SmsCallbackDispatcher
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()
        self.closers.clear()
