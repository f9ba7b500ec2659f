"""The custom-event evaluator: a follower of the event log and of the usage log, and a periodic sweep.

Like the automation engine's follower it keeps one durable cursor (per log) and moves it in the same
transaction that saves the windows it changed and emits the custom events it decided — so a crash neither
loses a firing nor fires one twice, and a restart continues every window where it stood. Windows live in
the resource store, not in memory: only the deployed configurations are cached (`reload()`).

The evaluator's own events (custom type ids) are never input, so a template cannot feed itself. Events
and usage stored before a configuration was deployed do not count for it.

Absence (no-data-session) cannot be seen in any input: `sweep_once()` checks it against the clock, run
every SWEEP_EVERY_S by `start()`'s task and directly by tests with a manual clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import msgspec

from cellstream.automations.custom import rules
from cellstream.automations.custom.model import (
    ConfigurationIndex,
    CustomCursor,
    CustomEventConfiguration,
    Window,
    window_key,
)
from cellstream.automations.custom.templates import (
    DAILY_DATA_USAGE,
    FAILED_ATTACHES,
    FLAPPING,
    GEOFENCE,
    NO_DATA_SESSION,
    Settings,
    Template,
    find_template,
)
from cellstream.clock import Clock
from cellstream.errors import Unprocessable
from cellstream.events.catalog import CUSTOM_TYPE_IDS, event_type
from cellstream.events.model import Event, StoredEvent
from cellstream.events.timefmt import format_timestamp, parse_timestamp
from cellstream.ingest.notifier import Notifier
from cellstream.lifecycle import stop_task
from cellstream.store.protocols import EventStore
from cellstream.store.resources import ResourceStore, ResourceTx, StoredUsage

log = logging.getLogger(__name__)
READ_CHUNK = 500
SAVE_EVERY = 20_000  # positions passed without anything to evaluate before the cursor is saved anyway
SWEEP_EVERY_S = 60.0
WINDOW_KEY = "custom_event_window"


@dataclass(frozen=True)
class Armed:
    configuration: CustomEventConfiguration
    template: Template
    settings: Settings


class Windows:
    """The windows one transaction touches, each read once and written once at the end."""

    def __init__(self, tx: ResourceTx) -> None:
        self._tx = tx
        self._open: dict[str, Window] = {}
        self._changed: set[str] = set()

    def get(self, armed: Armed, subject: str, refs: dict[str, Any]) -> Window:
        key = window_key(armed.configuration.id, subject)
        window = self._open.get(key)
        if window is None:
            window = self._tx.find(Window, WINDOW_KEY, key) or Window(
                id=self._tx.next_id(Window), org_id=armed.configuration.org_id,
                configuration_id=armed.configuration.id, subject=subject, last_ms=self._tx.now_ms)
            self._open[key] = window
        for name, ref in refs.items():  # the newest names (endpoint renamed, SIM swapped) go in the event
            if ref is not None:
                setattr(window, name, ref)
        self._changed.add(key)
        return window

    def save(self) -> None:
        for key in self._changed:
            self._tx.put(self._open[key])


class CustomEvaluator:
    def __init__(self, events: EventStore, resources: ResourceStore, notifier: Notifier, clock: Clock, *,
                 sweep_every_s: float = SWEEP_EVERY_S) -> None:
        self._events, self._resources, self._notifier, self._clock = events, resources, notifier, clock
        self._sweep_every_s = sweep_every_s
        self._armed: dict[int, list[Armed]] = {}  # organisation -> deployed configurations
        self._positions: tuple[int, int] | None = None  # (event log, usage log), evaluated up to
        self._saved = (0, 0)  # the positions last stored in the cursor record
        self._task: asyncio.Task[None] | None = None

    # ---------- life cycle ----------

    async def start(self) -> None:
        await self.prepare()
        self._task = asyncio.create_task(self._run(), name="custom-event-evaluator")

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def prepare(self) -> None:
        """Load the configurations and the cursors; a new platform starts at the logs' ends."""
        await self.reload()
        cursor = await self._resources.view(lambda tx: tx.get(CustomCursor, 1))
        if cursor is None:
            start = CustomCursor(id=1, event_position=await self._events.last_position(),
                                 usage_position=await self._resources.usage_last_position())
            await self._resources.transact(lambda tx: tx.put(tx.get(CustomCursor, 1) or start))
            cursor = await self._resources.view(lambda tx: tx.get(CustomCursor, 1)) or start
        self._positions = self._saved = (cursor.event_position, cursor.usage_position)

    async def reload(self) -> None:
        """Load the deployed configurations again (after any change through the API)."""
        def work(tx: ResourceTx) -> list[CustomEventConfiguration]:
            index = tx.get(ConfigurationIndex, 1) or ConfigurationIndex(id=1)
            return [c for c in (tx.get(CustomEventConfiguration, i) for i in index.ids) if c is not None]

        armed: dict[int, list[Armed]] = {}
        for configuration in await self._resources.view(work):
            template = find_template(configuration.template_id)
            if template is None or configuration.org_id is None:
                continue
            try:
                settings = template.settings(configuration.configuration_properties)
            except Unprocessable:  # checked when deployed; a later stricter validator must not stop the rest
                log.warning("custom event %s has invalid properties; not evaluated", configuration.uuid)
                continue
            armed.setdefault(configuration.org_id, []).append(Armed(configuration, template, settings))
        self._armed = armed

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            try:
                generation = self._notifier.generation
                busy = await self.step()
                if loop.time() >= next_sweep:
                    await self.sweep_once()
                    next_sweep = loop.time() + self._sweep_every_s
                if not busy:
                    await self._notifier.wait_for_news(generation, min(1.0, self._sweep_every_s))
            except asyncio.CancelledError:
                raise
            except Exception:  # a store hiccup or a bug must not end evaluation for good
                log.exception("custom event evaluation failed; retrying")
                await asyncio.sleep(1.0)

    # ---------- following the logs ----------

    async def catch_up(self) -> None:
        """Evaluate everything committed so far (tests; the task does the same continuously)."""
        while await self.step():
            pass

    async def step(self) -> bool:
        """Evaluate the next chunk of both logs; False when both were read to their end."""
        if self._positions is None:
            await self.prepare()
        assert self._positions is not None
        event_position, usage_position = self._positions
        armed = self._armed
        if not armed:  # nothing deployed anywhere: stay at the logs' ends without reading them
            ends = (await self._events.last_position(), await self._resources.usage_last_position())
            await self._pass(ends)
            return False
        rows = await self._events.read_after(event_position, READ_CHUNK)
        usage = await self._resources.usage_after(usage_position, READ_CHUNK)
        if not rows and not usage:
            return False
        if not any(r.event.org_id in armed for r in rows) and not any(u.org_id in armed for u in usage):
            # Nothing here for a deployed configuration: no window changes, so no transaction. Reading
            # these rows again after a restart changes nothing either (configurations ignore input stored
            # before them), so the cursor is saved only now and then.
            await self._pass((rows[-1].position if rows else event_position,
                              usage[-1].position if usage else usage_position))
            return True

        def work(tx: ResourceTx) -> tuple[int, int]:
            cursor = tx.get(CustomCursor, 1) or CustomCursor(id=1)
            windows = Windows(tx)
            for row in rows:
                if row.position > cursor.event_position:  # another caller may have evaluated it already
                    self._on_event(tx, windows, armed.get(row.event.org_id, []), row)
            for record in usage:
                if record.position > cursor.usage_position:
                    self._on_usage(tx, windows, armed.get(record.org_id, []), record)
            windows.save()
            cursor.event_position = max(cursor.event_position, rows[-1].position if rows else 0)
            cursor.usage_position = max(cursor.usage_position, usage[-1].position if usage else 0)
            tx.put(cursor)
            return cursor.event_position, cursor.usage_position

        committed = await self._resources.transact(work)
        self._positions = self._saved = committed.value
        if committed.appended.stored:
            await self._notifier.committed(committed.appended.stored)
        return True

    async def _pass(self, positions: tuple[int, int]) -> None:
        """Move past input that needs no evaluation, saving the cursor every SAVE_EVERY positions."""
        assert self._positions is not None
        self._positions = (max(self._positions[0], positions[0]), max(self._positions[1], positions[1]))
        if sum(self._positions) - sum(self._saved) < SAVE_EVERY:
            return
        event_position, usage_position = self._positions

        def work(tx: ResourceTx) -> tuple[int, int]:
            cursor = tx.get(CustomCursor, 1) or CustomCursor(id=1)
            cursor.event_position = max(cursor.event_position, event_position)
            cursor.usage_position = max(cursor.usage_position, usage_position)
            tx.put(cursor)
            return cursor.event_position, cursor.usage_position

        self._saved = (await self._resources.transact(work)).value

    def _on_event(self, tx: ResourceTx, windows: Windows, armed: list[Armed], row: StoredEvent) -> None:
        event = row.event
        if event.type_id in CUSTOM_TYPE_IDS or not armed:
            return
        subject = _subject(event.endpoint, event.imsi)
        if subject is None:
            return
        refs = {"organisation": event.organisation, "endpoint": event.endpoint, "sim": event.sim,
                "imsi": event.imsi}
        for one in armed:
            if row.stored_ms < one.configuration.created_ms:
                continue
            firing: rules.Firing | None = None
            template = one.template
            if template is NO_DATA_SESSION:
                if event.endpoint is not None:  # absence is an endpoint's; IMSIs alone are not tracked
                    rules.no_data_session_event(windows.get(one, subject, refs), event)
            elif template is FAILED_ATTACHES and rules.is_failed_attach(event):
                firing = rules.failed_attaches(windows.get(one, subject, refs), one.settings, event)
            elif template is GEOFENCE and event.type_id in rules.LOCATION_UPDATES:
                firing = rules.geofence(windows.get(one, subject, refs), one.settings, event)
            elif template is FLAPPING and event.type_id in (*rules.LOCATION_UPDATES, *rules.DETACHES):
                firing = rules.flapping(windows.get(one, subject, refs), one.settings, event)
            if firing is not None:
                tx.emit(_custom_event(tx.now_ms, one, windows.get(one, subject, {}), firing))

    def _on_usage(self, tx: ResourceTx, windows: Windows, armed: list[Armed], record: StoredUsage) -> None:
        daily = [a for a in armed if a.template is DAILY_DATA_USAGE]
        if not daily:
            return
        body = msgspec.json.decode(record.body)
        if not isinstance(body, dict):
            return
        endpoint, sim = _ref(body.get("endpoint")), _ref(body.get("sim"))
        imsi_text, imsi_id = body.get("imsi"), body.get("imsi_id")
        imsi = {"id": imsi_id, "imsi": imsi_text} if isinstance(imsi_text, str) else None
        subject = _subject(endpoint, imsi)
        if subject is None:
            return
        organisation = body.get("organisation") if isinstance(body.get("organisation"), dict) else None
        refs = {"organisation": organisation or {"id": record.org_id}, "endpoint": endpoint, "sim": sim,
                "imsi": imsi}
        day = _usage_day(body, record.stored_ms)
        for one in daily:
            if record.stored_ms < one.configuration.created_ms:
                continue
            window = windows.get(one, subject, refs)
            firing = rules.daily_data_usage(window, one.settings, body, day)
            if firing is not None:
                tx.emit(_custom_event(tx.now_ms, one, window, firing))

    # ---------- absence ----------

    async def sweep_once(self) -> int:
        """Fire the absences due at the clock's now; the number of custom events stored."""
        checks = [a for org in self._armed.values() for a in org if a.template is NO_DATA_SESSION]
        if not checks:
            return 0
        now = self._clock.now_ms()

        def work(tx: ResourceTx) -> int:
            fired = 0
            for one in checks:
                for window in tx.scan(Window, one.configuration.org_id):
                    if window.configuration_id != one.configuration.id:
                        continue
                    firing = rules.no_data_session_sweep(window, one.settings, now)
                    if firing is not None:
                        tx.put(window)
                        tx.emit(_custom_event(tx.now_ms, one, window, firing))
                        fired += 1
            return fired

        committed = await self._resources.transact(work)
        if committed.appended.stored:
            await self._notifier.committed(committed.appended.stored)
        return committed.value


def _ref(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or isinstance(raw.get("id"), bool) or not isinstance(raw.get("id"), int):
        return None
    return {k: v for k, v in raw.items() if v is not None}


def _subject(endpoint: dict[str, Any] | None, imsi: dict[str, Any] | None) -> str | None:
    if endpoint is not None and endpoint.get("id") is not None:
        return f"endpoint:{endpoint['id']}"
    if imsi is not None and imsi.get("imsi"):
        return f"imsi:{imsi['imsi']}"
    return None


def _usage_day(body: dict[str, Any], fallback_ms: int) -> str:
    """The UTC day of a usage record: its end (a session's volume counts on the day it was reported)."""
    end = body.get("end_timestamp")
    ms = fallback_ms
    if isinstance(end, str):
        with contextlib.suppress(ValueError):
            ms = parse_timestamp(end)
    return format_timestamp(ms)[:10]


def _custom_event(now_ms: int, armed: Armed, window: Window, firing: rules.Firing) -> Event:
    template, configuration = armed.template, armed.configuration
    usual = event_type(template.type_id)
    detail = {"custom_event": {"id": configuration.uuid, "name": configuration.name,
                               "template": {"id": template.id, "key": template.key}},
              **firing.measured}
    organisation = window.organisation or {"id": configuration.org_id}
    imsi = window.imsi if window.imsi is not None and window.imsi.get("id") is not None else None
    return Event(id=None, timestamp_ms=now_ms, alert=usual.alert, description=firing.description,
                 type_id=template.type_id, source_id=usual.source, severity_id=usual.severity,
                 organisation=organisation, endpoint=window.endpoint, sim=window.sim, imsi=imsi,
                 detail=detail)

