"""What an HTTP answer means for a delivery, for the sinks that post to an HTTP API (webhook, Datadog, Keen):
which statuses are worth a retry, how long the destination asks us to wait, and the DeliveryFailed a
refusal, a timeout or an unreachable service becomes. One place, so that every HTTP sink sorts the same
answer the same way; a sink that differs (the webhook also retries 425) says so where it calls this.

The rule: 408, 429 and 5xx are worth retrying (honouring Retry-After); any other non-2xx status says the
request or its credentials are wrong, which a retry cannot mend.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from email.utils import parsedate_to_datetime

import aiohttp

from cellstream.streamer.sinks.base import DeliveryFailed

RETRYABLE = frozenset({408, 429})  # besides every 5xx
ERROR_SNIPPET_CHARS = 300


def retryable(status: int, retryable_statuses: frozenset[int] = RETRYABLE) -> bool:
    """Whether a non-2xx `status` is worth a retry: a 5xx, or one of `retryable_statuses`."""
    return status in retryable_statuses or status >= 500


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """HTTP Retry-After (delay-seconds or an HTTP-date) in seconds from now; None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT by definition
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def refusal(service: str, status: int, headers: Mapping[str, str], body: str) -> DeliveryFailed:
    """A non-2xx answer of `service` as DeliveryFailed, quoting the start of its body."""
    is_retryable = retryable(status)
    snippet = " ".join(body.split())[:ERROR_SNIPPET_CHARS]
    return DeliveryFailed(f"{service} answered HTTP {status}" + (f": {snippet}" if snippet else ""),
                          status=status, permanent=not is_retryable,
                          retry_after_s=retry_after_s(headers.get("Retry-After")) if is_retryable else None)


@contextmanager
def reaching(service: str, url: str, timeout_s: float | None) -> Iterator[None]:
    """Turns a request's timeout or connection error inside the block into a retryable DeliveryFailed."""
    try:
        yield
    except TimeoutError:
        raise DeliveryFailed(f"{service} did not answer within {timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        reason = str(exc) or type(exc).__name__
        raise DeliveryFailed(f"could not reach {service} at {url}: {reason}") from None


def in_part(failure: DeliveryFailed, start: int, end: int, total: int, taken: str) -> DeliveryFailed:
    """`failure` of the request carrying records [start, end) of a batch of `total` that was cut into
    several requests, saying which records it concerns and that those before were `taken` ("stored")."""
    where = f"records {start}-{end - 1} of {total}"
    if start:
        where += f"; records 0-{start - 1} were already {taken} and a retry sends them again"
    return DeliveryFailed(f"{failure.message} ({where})", status=failure.status, permanent=failure.permanent,
                          retry_after_s=failure.retry_after_s)
