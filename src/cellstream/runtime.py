"""The composition root: the only module that picks concrete adapters (which store backend)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from cellstream import policy
from cellstream.automations.actions.registry import build_actions
from cellstream.automations.custom.evaluator import CustomEvaluator
from cellstream.automations.custom.service import CustomEvents
from cellstream.automations.engine import AutomationEngine
from cellstream.automations.service import Automations
from cellstream.clock import Clock, SystemClock
from cellstream.domain.auth import AuthService
from cellstream.domain.connectivity import Connectivity
from cellstream.errors import InvalidInput
from cellstream.ingest.notifier import Notifier
from cellstream.ingest.service import Ingestor
from cellstream.network.service import NetworkService
from cellstream.network.sms_callbacks import SmsCallbackDispatcher
from cellstream.policy.sweeper import run_sweeps
from cellstream.services import Services
from cellstream.settings import Settings
from cellstream.store.memory import MemoryAccountStore, MemoryEventStore
from cellstream.store.memory_resources import MemoryResourceStore
from cellstream.store.protocols import AccountStore, EventStore
from cellstream.store.resources import ResourceStore
from cellstream.store.retention import run_retention
from cellstream.streamer.destinations import parse_credentials
from cellstream.streamer.model import DataStream
from cellstream.streamer.service import DataStreams
from cellstream.streamer.sinks import open_sink
from cellstream.streamer.sinks.base import Sink, SinkSettings
from cellstream.streamer.supervisor import StreamSupervisor
from cellstream.streamer.worker import EngineConfig, Sleep, StreamWorker


def signing_key(settings: Settings) -> str:
    """The JWT signing key: from settings, else generated once into the data directory (mode 0600)."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = Path(settings.data_dir) / "jwt.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


async def open_stores(settings: Settings, clock: Clock) -> tuple[EventStore, AccountStore, ResourceStore]:
    url = settings.resolved_database_url()
    if url == "memory://":
        memory = MemoryEventStore(clock)
        return memory, MemoryAccountStore(memory), MemoryResourceStore(memory, clock)
    if url.startswith("sqlite:"):
        from cellstream.store.sql.sqlite import open_sqlite_stores
        from cellstream.store.sql.sqlite_resources import SqliteResourceStore

        events, accounts = await open_sqlite_stores(url, settings, clock)
        return events, accounts, SqliteResourceStore(events, clock)
    raise InvalidInput.of("database_url", f"{url!r}: use sqlite:///path/to/file.db or memory://")


async def open_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    events, accounts, resources = await open_stores(settings, clock)
    notifier = Notifier()
    ingestor = Ingestor(events, notifier, clock)
    auth = AuthService(accounts, ingestor, clock, settings, signing_key(settings))
    connectivity = Connectivity(resources, accounts, notifier)
    network = NetworkService(resources, accounts, notifier, policy, clock)
    streams = data_streams(settings, clock, events, resources, notifier)
    actions, callback = build_actions(settings, connectivity, network, clock)
    engine = AutomationEngine(events, resources, notifier, clock, actions,
                              max_runs_per_endpoint_per_hour=settings.automation_max_runs_per_endpoint_per_hour)
    custom = CustomEvents(resources, CustomEvaluator(events, resources, notifier, clock), list(actions))
    sms_callbacks = SmsCallbackDispatcher(resources, clock, allow_private=settings.allow_private_destinations)
    services = Services(settings, clock, events, accounts, notifier, ingestor, auth, connectivity, network,
                        streams, Automations(resources, engine), custom, sms_callbacks)
    services.closers.append(events.close)
    services.closers.append(streams.supervisor.close)
    services.closers.append(engine.close)
    services.closers.append(custom.evaluator.close)
    services.closers.append(sms_callbacks.close)
    services.closers.append(callback.close)
    return services


def data_streams(settings: Settings, clock: Clock, events: EventStore, resources: ResourceStore,
                 notifier: Notifier, sleep: Sleep = asyncio.sleep) -> DataStreams:
    """The Data Streamer: its service, its supervisor and the workers the supervisor starts."""
    sink_settings = SinkSettings(aws_endpoint_url=settings.aws_endpoint_url or None,
                                 datadog_url=settings.datadog_url or None,
                                 keenio_url=settings.keenio_url or None,
                                 allow_private_destinations=settings.allow_private_destinations)
    config = EngineConfig(retention_ms=settings.stream_retention_days * 86_400_000,
                          failure_budget_ms=settings.stream_failure_budget_s * 1000,
                          probe_interval_s=settings.stream_probe_interval_s,
                          backoff_max_s=settings.stream_backoff_max_s, sink_settings=sink_settings)

    def worker(stream: DataStream) -> StreamWorker:
        return StreamWorker(stream, events=events, resources=resources, notifier=notifier, clock=clock,
                            open_sink=open_stream_sink, config=config, sleep=sleep)

    supervisor = StreamSupervisor(resources, worker)
    return DataStreams(resources, events, clock, supervisor, open_stream_sink, sink_settings,
                       config.retention_ms)


def open_stream_sink(stream: DataStream, settings: SinkSettings, secrets: list[str]) -> Sink:
    credentials = parse_credentials(stream.connection_type, stream.credentials)
    return open_sink(stream.connection_type, credentials, settings, secrets)


async def run_until_cancelled(start: Callable[[], Awaitable[None]],
                              close: Callable[[], Awaitable[None]]) -> None:
    """Start background work (stream workers, the automation engine), keep it until cancelled, close it."""
    await start()
    try:
        await asyncio.Event().wait()
    finally:
        await close()


POLICY_SWEEP_S = 60.0


def background_work(services: Services) -> list[Coroutine[Any, Any, None]]:
    """What runs beside the API while the platform serves: retention and Policy Control's sweeps."""
    settings = services.settings
    return [
        run_retention(services.events, services.clock, settings.event_retention_days,
                      settings.retention_interval_s),
        run_sweeps(services.connectivity.resources, services.notifier, services.clock, POLICY_SWEEP_S),
        run_until_cancelled(services.streams.supervisor.start, services.streams.supervisor.close),
        run_until_cancelled(services.automations.engine.start, services.automations.engine.close),
        run_until_cancelled(services.custom_events.evaluator.start, services.custom_events.evaluator.close),
        run_until_cancelled(services.sms_callbacks.start, services.sms_callbacks.close),
    ]
