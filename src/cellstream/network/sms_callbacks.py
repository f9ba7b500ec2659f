"""Delivers the SMS callback outbox (cellstream.network.sms_notifications): each pending notification is
POSTed to its API callback, signed with the API secret the service profile bound (facts §F; the signing
is the WEBHOOK action's, cellstream.domain.callback_signing), and deleted once delivered.

Kept apart from the network core, which only writes the outbox: signalling never waits for an HTTP
request, and the core does not depend on an HTTP client.

Outcomes: 2xx delivers; 408, 429, 5xx, timeouts and connection errors are retried with backoff (honouring
Retry-After) until MAX_ATTEMPTS, then dropped with a warning; any other answer (a redirect included,
never followed), a callback or secret deleted meanwhile, or a private or loopback destination when
private destinations are not allowed, drops the notification at once with a warning — a notification
nobody can receive must not stay in the outbox for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from cellstream.clock import Clock
from cellstream.domain.callback_http import PublicResolver, private_literal, refusal, shown
from cellstream.domain.callback_signing import signed_headers
from cellstream.domain.callbacks import ApiCallback, ApiSecret
from cellstream.lifecycle import stop_task
from cellstream.network import sms_notifications
from cellstream.network.sms_notifications import SmsNotification
from cellstream.store.resources import ResourceStore, ResourceTx
from cellstream.streamer.backoff import retry_delay_s
from cellstream.streamer.sinks import http_outcome

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0
MAX_ATTEMPTS = 8
MAX_CONCURRENT = 16
POLL_S = 1.0
USER_AGENT = "Cellstream-SMS-Callback/1"


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    message: str
    permanent: bool = False
    retry_after_s: float | None = None


@dataclass(frozen=True)
class Destination:
    url: str
    secret: str | None


class SmsCallbackDispatcher:
    def __init__(self, resources: ResourceStore, clock: Clock, *, allow_private: bool,
                 timeout_s: float = TIMEOUT_S, max_attempts: int = MAX_ATTEMPTS, poll_s: float = POLL_S,
                 backoff_base_s: float = 1.0, backoff_cap_s: float = 300.0,
                 rng: random.Random | None = None) -> None:
        self._resources, self._clock = resources, clock
        self._allow_private = allow_private
        self._timeout_s, self._max_attempts, self._poll_s = timeout_s, max_attempts, poll_s
        self._base_s, self._cap_s = backoff_base_s, backoff_cap_s
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ---------- life cycle ----------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="sms-callback-dispatcher")

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                next_due_ms = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # a store hiccup must not end delivery for good: logged, tried next poll
                log.exception("SMS callback dispatch failed")
                next_due_ms = None
            wait = self._poll_s
            if next_due_ms is not None:
                wait = min(wait, max(0.0, (next_due_ms - self._clock.now_ms()) / 1000))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    # ---------- one pass ----------

    async def deliver_due(self) -> int | None:
        """Try every notification that is due once; when the earliest one left waiting is due (ms)."""
        now = self._clock.now_ms()
        await asyncio.gather(*(self._attempt(n) for n in await self._resources.view(_pending)
                               if n.not_before_ms <= now))
        waiting = [n.not_before_ms for n in await self._resources.view(_pending)]
        return min(waiting) if waiting else None

    async def _attempt(self, notification: SmsNotification) -> None:
        async with self._slots:
            destination = await self._resources.view(functools.partial(_destination,
                                                                       notification=notification))
            if isinstance(destination, str):
                outcome = Outcome(False, destination, permanent=True)
            else:
                outcome = await self._post(notification, destination)
            await self._record(notification, outcome)

    async def _post(self, notification: SmsNotification, destination: Destination) -> Outcome:
        url = destination.url
        where = f"POST {shown(url)}"
        if not self._allow_private and (host := private_literal(url)) is not None:
            return Outcome(False, f"{where}: {host} is a private or loopback address; set "
                           "CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS=true to allow it", permanent=True)
        body = notification.body.encode()
        headers = signed_headers(notification.message_id, body, datetime.now(UTC), destination.secret)
        try:
            async with self._client().post(url, data=body, headers=headers,
                                           allow_redirects=False) as response:
                status, retry_after = response.status, response.headers.get("Retry-After")
        except TimeoutError:
            return Outcome(False, f"{where}: no answer within {self._timeout_s:g} s")
        except aiohttp.InvalidURL as exc:
            return Outcome(False, f"{where}: not a usable URL ({exc})", permanent=True)
        except (aiohttp.ClientError, OSError) as exc:
            refused = refusal(exc)
            if refused is not None:
                return Outcome(False, f"{where}: {refused}", permanent=True)
            return Outcome(False, f"{where} failed: {exc or type(exc).__name__}")
        if 200 <= status < 300:
            return Outcome(True, f"{where} answered {status}")
        if http_outcome.retryable(status):
            return Outcome(False, f"{where} answered {status}",
                           retry_after_s=http_outcome.retry_after_s(retry_after))
        return Outcome(False, f"{where} answered {status}", permanent=True)

    async def _record(self, notification: SmsNotification, outcome: Outcome) -> None:
        attempt = notification.attempt + 1
        not_before_ms = 0
        what = f"SMS callback {notification.message_id} (organisation {notification.org_id})"
        if outcome.delivered:
            done = True
        elif outcome.permanent:
            log.warning("%s dropped: %s", what, outcome.message)
            done = True
        elif attempt >= self._max_attempts:
            log.warning("%s gave up after %d attempts: %s", what, attempt, outcome.message)
            done = True
        else:
            delay = retry_delay_s(attempt, base_s=self._base_s, cap_s=self._cap_s,
                                  retry_after_s=outcome.retry_after_s, rng=self._rng)
            log.info("%s attempt %d failed, retrying in %.1f s: %s", what, attempt, delay, outcome.message)
            done = False
            not_before_ms = self._clock.now_ms() + int(delay * 1000)

        def work(tx: ResourceTx) -> None:
            if done:
                sms_notifications.finish(tx, notification.id)
                return
            stored = tx.get(SmsNotification, notification.id)
            if stored is not None:
                stored.attempt, stored.not_before_ms = attempt, not_before_ms
                tx.put(stored)

        await self._resources.transact(work)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = None if self._allow_private else PublicResolver()
            connector = aiohttp.TCPConnector(limit=MAX_CONCURRENT, resolver=resolver, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(connector=connector,
                                                  timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                                                  headers={"User-Agent": USER_AGENT})
        return self._session


def _pending(tx: ResourceTx) -> list[SmsNotification]:
    ids = sms_notifications.pending_ids(tx)
    tx.preload(SmsNotification, ids)
    return [n for i in ids if (n := tx.get(SmsNotification, i)) is not None]


def _destination(tx: ResourceTx, notification: SmsNotification) -> Destination | str:
    """Where to post and the signing secret, in the notification's organisation; or why it cannot be."""
    callback = tx.get(ApiCallback, notification.api_callback_id)
    if callback is None or callback.org_id != notification.org_id:
        return f"api_callback {notification.api_callback_id} no longer exists"
    secret = None
    if notification.api_secret_id is not None:
        found = tx.get(ApiSecret, notification.api_secret_id)
        if found is None or found.org_id != notification.org_id:
            # unsigned, the receiver could not tell it from a forgery: not sent
            return f"api_secret {notification.api_secret_id} no longer exists"
        secret = found.secret
    return Destination(callback.url, secret)
