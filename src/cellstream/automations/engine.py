"""The automation engine: a trigger follower and an executor.

The follower reads the event log after its durable cursor (one for the platform), finds the active
automations each event fires, and stores an `Execution` per firing in the same transaction that moves the
cursor — so a crash neither loses a firing nor fires one twice. It never runs actions itself: ingestion
and the follower are never held back by a slow action.

The executor runs pending executions, each as its own task (at most MAX_CONCURRENT at once): the
configured actions in order, every attempt logged (`ActionLog`). A retryable failure waits with
exponential backoff and jitter and tries again, up to MAX_ATTEMPTS; a permanent one ends the execution.

Guards:
- Loops: an event caused by an automation (its user is `automation:<uuid>`) never fires that automation
  again; the firing is logged as skipped with the reason.
- Rate: an automation runs at most `max_runs_per_endpoint_per_hour` times an hour for one endpoint (or for
  the organisation when the event names none); the first suppressed firing of a window is logged, later
  ones are counted in it, so an event storm cannot send thousands of e-mails or write thousands of logs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import msgspec

from cellstream.automations.actions.base import Action, ActionContext, ActionFailed
from cellstream.automations.custom.model import CustomEventConfiguration
from cellstream.automations.custom.templates import find_template
from cellstream.automations.model import (
    ACTIVE,
    FAILED,
    PENDING,
    SKIPPED,
    SUCCEEDED,
    ActionLog,
    Automation,
    Execution,
)
from cellstream.automations.targeting import Predicate, compile_targeting
from cellstream.clock import Clock
from cellstream.domain.actor import AUTOMATION_PREFIX
from cellstream.domain.principal import Principal
from cellstream.events.codec import event_from_body
from cellstream.events.columns import columns_of
from cellstream.events.model import StoredEvent
from cellstream.ingest.notifier import Notifier
from cellstream.lifecycle import stop_task
from cellstream.store.protocols import EventStore
from cellstream.store.resources import Record, ResourceStore, ResourceTx
from cellstream.streamer.backoff import retry_delay_s

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]
READ_CHUNK = 500
SAVE_EVERY = 20_000  # positions the follower may pass without a firing before it saves its cursor anyway
MAX_CONCURRENT = 32
MAX_ATTEMPTS = 6
HOUR_MS = 3_600_000


class TriggerCursor(Record, kw_only=True):
    """Where the follower stands in the platform's event log (id 1, held by no organisation)."""

    KIND: ClassVar[str] = "automation_cursor"
    position: int = 0


class PendingIndex(Record, kw_only=True):
    """The execution ids not yet done (id 1, platform-wide), so a restarted executor finds them."""

    KIND: ClassVar[str] = "automation_pending"
    ids: list[int] = msgspec.field(default_factory=list)


class AutomationIndex(Record, kw_only=True):
    """Every automation record id (id 1, platform-wide), so the follower loads them without the list of
    organisations."""

    KIND: ClassVar[str] = "automation_index"
    ids: list[int] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class Armed:
    automation: Automation
    type_id: int
    targeting: Predicate | None
    custom_event_id: str | None = None  # fires only on that deployment's events (detail.custom_event.id)


@dataclass
class RateWindow:
    started_ms: int
    runs: int = 0
    suppressed: int = 0


class AutomationEngine:
    def __init__(self, events: EventStore, resources: ResourceStore, notifier: Notifier, clock: Clock,
                 actions: Mapping[str, Action], *, max_runs_per_endpoint_per_hour: int = 60,
                 sleep: Sleep = asyncio.sleep, rng: random.Random | None = None) -> None:
        self._events, self._resources, self._notifier, self._clock = events, resources, notifier, clock
        self.actions = actions
        self._max_runs = max_runs_per_endpoint_per_hour
        self._sleep, self._rng = sleep, rng or random.Random()
        self._armed: dict[tuple[int, int], list[Armed]] = {}  # (org, event type) -> automations
        self._windows: dict[tuple[int, int | None], RateWindow] = {}
        self._ready: deque[int] = deque()
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._tasks: list[asyncio.Task[None]] = []

    # ---------- life cycle ----------

    async def start(self) -> None:
        await self.reload()
        self._ready.extend(await self._resources.view(_pending_ids))
        position = await self._resources.view(_cursor_position)
        if position is None:  # a new platform starts at the log's end: automations fire on what comes next
            position = start = await self._events.last_position()
            await self._resources.transact(lambda tx: tx.put(TriggerCursor(id=1, position=start)))
        self._tasks = [asyncio.create_task(self._follow(position), name="automation-follower"),
                       asyncio.create_task(self._execute(), name="automation-executor")]

    async def close(self) -> None:
        for task in [*self._tasks, *self._running]:
            await stop_task(task)
        self._tasks, self._running = [], set()

    async def reload(self) -> None:
        """Load the active automations again (after any change through the API)."""
        def work(tx: ResourceTx) -> list[tuple[Automation, int | None]]:
            index = tx.get(AutomationIndex, 1) or AutomationIndex(id=1)
            found = (tx.get(Automation, i) for i in index.ids)
            return [(a, _trigger_type(tx, a)) for a in found if a is not None and a.status == ACTIVE]

        armed: dict[tuple[int, int], list[Armed]] = {}
        for automation, type_id in await self._resources.view(work):
            if type_id is None or automation.org_id is None:
                continue  # its custom event was deleted: it cannot fire any more
            targeting = compile_targeting(automation.targeting_properties)
            armed.setdefault((automation.org_id, type_id), []).append(
                Armed(automation, type_id, targeting, automation.custom_event_id))
        self._armed = armed

    # ---------- the follower ----------

    async def _follow(self, position: int) -> None:
        saved = position
        while True:
            generation = self._notifier.generation
            rows = await self._events.read_after(position, READ_CHUNK) if self._armed else []
            if not rows:
                if not self._armed:  # nothing to fire: stay at the log's end without reading it
                    position = max(position, await self._events.last_position())
                await self._notifier.wait_for_news(generation, 1.0)
                continue
            position = rows[-1].position
            # Chunks that fire nothing move the cursor in memory only (reading them again after a restart
            # fires nothing either); it is saved with the next firing or every SAVE_EVERY positions.
            if await self._fire(rows, save=position - saved >= SAVE_EVERY):
                saved = position

    async def _fire(self, rows: list[StoredEvent], *, save: bool) -> bool:
        """Store an execution for every firing among `rows` and move the cursor past them, together; False
        when there was nothing to store and `save` did not ask for the cursor alone."""
        now = self._clock.now_ms()
        firings: list[tuple[Armed, StoredEvent]] = []
        skipped: list[ActionLog] = []
        for row in rows:
            candidates = self._armed.get((row.event.org_id, row.event.type_id))
            if not candidates:
                continue
            columns = columns_of(row.event)
            for armed in candidates:
                if armed.targeting is not None and not armed.targeting(columns):
                    continue
                if armed.custom_event_id is not None and _custom_event_id(row) != armed.custom_event_id:
                    continue
                reason = self._guard(armed.automation, row, now)
                if reason is None:
                    firings.append((armed, row))
                elif reason:
                    skipped.append(_log(armed.automation, 0, "", row.event.id or 0, SKIPPED, reason, now))
        last = rows[-1].position
        if not firings and not skipped and not save:
            return False

        def work(tx: ResourceTx) -> list[int]:
            created: list[int] = []
            for armed, row in firings:
                automation = tx.get(Automation, armed.automation.id)
                if automation is None or automation.status != ACTIVE:
                    continue
                automation.number_of_executions += 1
                automation.last_execution_ms = tx.now_ms
                tx.put(automation)
                execution = Execution(id=tx.next_id(Execution), org_id=automation.org_id,
                                      automation_id=automation.id, number=automation.number_of_executions,
                                      event_body=row.body, event_id=row.event.id or 0,
                                      endpoint_id=_endpoint_id(row),
                                      created_ms=tx.now_ms)
                tx.put(execution)
                created.append(execution.id)
            for entry in skipped:
                entry.id = tx.next_id(ActionLog)
                tx.put(entry)
            if created:
                index = tx.get(PendingIndex, 1) or PendingIndex(id=1)
                index.ids.extend(created)
                tx.put(index)
            tx.put(TriggerCursor(id=1, position=last))
            return created

        created = (await self._resources.transact(work)).value
        if created:
            self._ready.extend(created)
            self._wake.set()
        return True

    def _guard(self, automation: Automation, row: StoredEvent, now: int) -> str | None:
        """None when the firing may run; a reason to log when it may not; "" when it is suppressed
        silently (a later suppression of a window already logged)."""
        user = row.event.user or {}
        if user.get("username") == f"{AUTOMATION_PREFIX}{automation.uuid}":
            return "loop: the event was caused by this automation's own action"
        key = (automation.id, _endpoint_id(row))
        window = self._windows.get(key)
        if window is None or now - window.started_ms >= HOUR_MS:
            window = self._windows[key] = RateWindow(now)
        if window.runs < self._max_runs:
            window.runs += 1
            return None
        window.suppressed += 1
        if window.suppressed > 1:
            return ""
        target = f"endpoint {key[1]}" if key[1] is not None else "the organisation"
        return (f"rate guard: {self._max_runs} runs for {target} within the hour; further firings in "
                f"this hour are dropped")

    # ---------- the executor ----------

    async def _execute(self) -> None:
        while True:
            while not self._ready:
                self._wake.clear()
                await self._wake.wait()
            execution_id = self._ready.popleft()
            await self._slots.acquire()
            task = asyncio.create_task(self._run(execution_id))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, execution_id: int) -> None:
        try:
            loaded = await self._resources.view(functools.partial(_load, execution_id=execution_id))
            if loaded is None:  # deleted with its automation meanwhile
                await self._resources.transact(functools.partial(_finish, execution_id=execution_id))
                return
            execution, automation = loaded
            while True:
                wait = (execution.not_before_ms - self._clock.now_ms()) / 1000
                if wait > 0:
                    await self._sleep(wait)
                if not await self._step(execution, automation):
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("automation execution %d crashed", execution_id)
        finally:
            self._slots.release()

    async def _step(self, execution: Execution, automation: Automation) -> bool:
        """Run the execution's next action once and record it; False when the execution is done."""
        configured = automation.configured_actions[execution.next_action]
        action = self.actions.get(configured.action_id)
        started = time.perf_counter()
        if action is None:
            outcome: ActionFailed | str = ActionFailed(f"action {configured.action_id} is not available",
                                                       permanent=True)
        else:
            context = ActionContext(Principal.of_automation(automation.org_id or 0, automation.uuid,
                                                            automation.name),
                                    automation.uuid, automation.name, execution.number,
                                    event_from_body(execution.event_body), execution.event_body,
                                    configured.props(), list(configured.recipients))
            try:
                outcome = await action.run(context)
            except ActionFailed as failure:
                outcome = failure
            except Exception as exc:  # an action's bug must not stop the executor: logged, retried
                log.exception("automation %s: action %s crashed", automation.uuid, configured.action_id)
                outcome = ActionFailed(f"internal error in the action: {type(exc).__name__}")
        duration = (time.perf_counter() - started) * 1000
        return await self._record(execution, automation, configured.action_id, outcome, duration)

    async def _record(self, execution: Execution, automation: Automation, action_id: str,
                      outcome: ActionFailed | str, duration_ms: float) -> bool:
        """Log the attempt and advance the execution in one transaction (ending it after its last action);
        whether it goes on."""
        now = self._clock.now_ms()
        attempt = execution.attempt + 1
        if isinstance(outcome, str):
            entry = _log(automation, execution.number, action_id, execution.event_id, SUCCEEDED, outcome, now,
                         attempt, duration_ms)
            execution.next_action += 1
            execution.attempt, execution.not_before_ms = 0, 0
        elif outcome.permanent or attempt >= MAX_ATTEMPTS:
            why = outcome.message if outcome.permanent else \
                f"{outcome.message} (gave up after {attempt} attempts)"
            entry = _log(automation, execution.number, action_id, execution.event_id, FAILED, why, now,
                         attempt, duration_ms)
            execution.next_action = len(automation.configured_actions)  # the rest depend on this one
        else:
            entry = _log(automation, execution.number, action_id, execution.event_id, PENDING,
                         f"{outcome.message}; retrying", now, attempt, duration_ms)
            delay = retry_delay_s(attempt, cap_s=60.0, retry_after_s=outcome.retry_after_s, rng=self._rng)
            execution.attempt = attempt
            execution.not_before_ms = now + int(delay * 1000)
        done = execution.next_action >= len(automation.configured_actions)

        def work(tx: ResourceTx) -> None:
            if tx.get(Execution, execution.id) is None:
                return
            entry.id = tx.next_id(ActionLog)
            tx.put(entry)
            if done:
                _finish(tx, execution.id)
            else:
                tx.put(execution)

        await self._resources.transact(work)
        return not done


def _load(tx: ResourceTx, execution_id: int) -> tuple[Execution, Automation] | None:
    execution = tx.get(Execution, execution_id)
    automation = None if execution is None else tx.get(Automation, execution.automation_id)
    if execution is None or automation is None or execution.next_action >= len(automation.configured_actions):
        return None
    return execution, automation


def _finish(tx: ResourceTx, execution_id: int) -> None:
    if tx.get(Execution, execution_id) is not None:
        tx.delete(Execution, execution_id)
    index = tx.get(PendingIndex, 1) or PendingIndex(id=1)
    if execution_id in index.ids:
        index.ids.remove(execution_id)
        tx.put(index)


def _trigger_type(tx: ResourceTx, automation: Automation) -> int | None:
    """The event type that fires `automation`: its system event's, or its custom event's template's."""
    if automation.system_event_id is not None:
        return int(automation.system_event_id)
    if automation.custom_event_id is None:
        return None
    configuration = tx.find(CustomEventConfiguration, "custom_event_uuid", automation.custom_event_id)
    template = None if configuration is None else find_template(configuration.template_id)
    return None if template is None else template.type_id


def _custom_event_id(row: StoredEvent) -> str | None:
    detail = row.event.detail
    custom = detail.get("custom_event") if isinstance(detail, dict) else None
    ident = custom.get("id") if isinstance(custom, dict) else None
    return ident if isinstance(ident, str) else None


def _pending_ids(tx: ResourceTx) -> list[int]:
    return list((tx.get(PendingIndex, 1) or PendingIndex(id=1)).ids)


def _cursor_position(tx: ResourceTx) -> int | None:
    cursor = tx.get(TriggerCursor, 1)
    return None if cursor is None else cursor.position


def _endpoint_id(row: StoredEvent) -> int | None:
    endpoint = row.event.endpoint
    return int(endpoint["id"]) if endpoint and "id" in endpoint else None


def _log(automation: Automation, number: int, action_id: str, event_id: int, status: str, message: str,
         now_ms: int, attempt: int = 1, duration_ms: float = 0.0) -> ActionLog:
    return ActionLog(id=0, org_id=automation.org_id, automation_id=automation.id,
                     automation_uuid=automation.uuid, execution_number=number, action_id=action_id,
                     event_id=event_id, status=status, message=message, attempt=attempt,
                     duration_ms=round(duration_ms, 1), created_ms=now_ms)
