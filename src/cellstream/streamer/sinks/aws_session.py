"""What the S3 and Kinesis sinks share: writing as the customer's IAM role, and turning every AWS failure
into a `DeliveryFailed` that says whose fault it is.

A customer grants the platform a role (`role_arn`) instead of handing over keys, so a sink first assumes that
role through STS with the platform's own credentials (botocore's default chain: environment, profile,
instance or task role) and writes with the temporary credentials STS returns. Those expire, so the role is
assumed again shortly before they do, and at once when AWS reports them expired.

botocore's own retries are kept short (the delivery engine owns retrying, with its backoff and the stream's
status), and its exceptions never leave a sink: `failure` sorts them into permanent (a misconfiguration the
customer must fix: no such bucket or stream, access denied, a bad role) and retryable (throttling, 5xx,
network trouble, expired credentials).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    InvalidRegionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from cellstream.streamer.sinks.base import DeliveryFailed, SinkSettings

ClientT = TypeVar("ClientT")
OpenClient = Callable[["AioSession", "TemporaryCredentials"], AbstractAsyncContextManager[ClientT]]

SESSION_SECONDS = 3600  # the shortest maximum a role can have is 1 h, so every role grants this
REFRESH_BEFORE = timedelta(minutes=5)  # re-assume this long before expiry: a slow upload must not outlive it
# Everything an AWS call may raise through aiobotocore; anything else is a bug and should surface as one.
AWS_ERRORS: tuple[type[BaseException], ...] = (BotoCoreError, ClientError, aiohttp.ClientError, OSError)

# Error codes whose meaning does not depend on the HTTP status (botocore reports some with odd statuses).
RETRYABLE_CODES = frozenset({
    # throttled
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestThrottledException", "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "SlowDown", "RequestLimitExceeded", "LimitExceededException", "KMSThrottlingException",
    # AWS's own trouble, or a resource busy for a moment
    "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "InternalServerError",
    "ServiceUnavailable", "ServiceUnavailableException", "ResourceInUseException", "OperationAborted",
    "IDPCommunicationError", "RequestTimeTooSkewed",
    # the temporary credentials ran out: assumed again on the next attempt
    "ExpiredToken", "ExpiredTokenException", "RequestExpired",
})
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
HINTS = {
    "NoSuchBucket": "the bucket does not exist",
    "ResourceNotFoundException": "the stream does not exist (or is in another region or account)",
    "AccessDenied": "the role is not allowed to do this (check its policy and trust relationship)",
    "AccessDeniedException": "the role is not allowed to do this (check its policy and trust relationship)",
    "PermanentRedirect": "the bucket is in another region than the one configured",
    "AuthorizationHeaderMalformed": "the bucket is in another region than the one configured",
    "ValidationError": "the role ARN is not valid",
    "RegionDisabledException": "STS is not enabled in the configured region for the role's account",
}


_shared: AioSession | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def shared_session() -> AioSession:
    """One botocore session for every AWS sink of the process: it loads each service's model once (tens of
    milliseconds of blocked event loop per client otherwise) and resolves the platform's credentials once."""
    global _shared
    if _shared is None:
        _shared = get_session()
    return _shared


def session_name(stream_id: str) -> str:
    """The RoleSessionName, which shows in the customer's CloudTrail: says who writes for which stream."""
    return "cellstream-" + re.sub(r"[^\w+=,.@-]", "-", stream_id)[:53]  # STS allows 64 characters


def client_config(settings: SinkSettings, **extra: Any) -> AioConfig:
    """Short timeouts and few retries: a stuck call holds the stream's whole delivery."""
    if settings.aws_endpoint_url is not None:
        # A local server (moto, LocalStack, MinIO) answers on one host: no bucket subdomains.
        extra.setdefault("s3", {"addressing_style": "path"})
    return AioConfig(connect_timeout=5, read_timeout=30,
                     retries={"mode": "standard", "total_max_attempts": 3},
                     user_agent_extra="cellstream-streamer", **extra)


@dataclass(frozen=True)
class TemporaryCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def failure(exc: BaseException, doing: str) -> DeliveryFailed:
    """`exc`, raised while `doing` (e.g. "writing to S3 bucket 'x'"), as the DeliveryFailed to raise."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        text = str(error.get("Message") or "").strip()
        hint = HINTS.get(code)
        message = f"{doing} failed: {code}" + (f" ({text})" if text else "") + (f": {hint}" if hint else "")
        if code in RETRYABLE_CODES or status is None:
            permanent = False
        else:
            # Any other 4xx is a request AWS will refuse again the same way: the configuration is wrong. So
            # is a redirect: S3 answers 301 when the bucket lives in another region than the one configured.
            permanent = 300 <= status < 500 and status != 429
        return DeliveryFailed(message, status=status, permanent=permanent)
    if isinstance(exc, (ParamValidationError, InvalidRegionError)):
        # Caught by botocore before sending: a malformed bucket name, stream name, role ARN or region.
        return DeliveryFailed(f"{doing} failed: the configuration is not valid: {exc}", permanent=True)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        # The platform's own credentials, not the customer's: retrying once an operator fixes them helps.
        return DeliveryFailed(f"{doing} failed: the platform has no usable AWS credentials of its own "
                              f"({exc})")
    return DeliveryFailed(f"{doing} failed: {type(exc).__name__}: {exc}")


class AssumedRole(Generic[ClientT]):
    """One AWS client that acts as `role_arn`, reopened with fresh credentials before they expire.

    `open_client` makes the client from the session and the temporary credentials (the sink chooses the
    service and its options). The role is assumed lazily, by the first `client` call, because the session
    name carries the stream id, which a sink learns from its first batch.
    """

    def __init__(self, *, role_arn: str, region: str, settings: SinkSettings,
                 open_client: OpenClient[ClientT], session: AioSession | None = None) -> None:
        self.role_arn = role_arn
        self.region = region
        self.settings = settings
        self._open_client = open_client
        self._session = session or shared_session()
        self._client: ClientT | None = None
        self._stack: AsyncExitStack | None = None
        self.credentials: TemporaryCredentials | None = None

    async def client(self, stream_id: str) -> ClientT:
        """The client, assuming the role first if there are no credentials or they expire soon."""
        current = self.credentials
        if self._client is None or current is None or current.expiration - _utcnow() < REFRESH_BEFORE:
            await self._close_client()
            self.credentials = await self._assume(stream_id)
            stack = AsyncExitStack()
            try:
                opening = self._open_client(self._session, self.credentials)
                self._client = await stack.enter_async_context(opening)
            except AWS_ERRORS as exc:
                await stack.aclose()
                raise failure(exc, f"opening an AWS client as role {self.role_arn!r}") from exc
            self._stack = stack
        assert self._client is not None
        return self._client

    def failure(self, exc: BaseException, doing: str) -> DeliveryFailed:
        """As the module's `failure`; also forgets credentials AWS called expired, so the next call
        assumes the role again."""
        if error_code(exc) in EXPIRED_CODES:
            self.credentials = None
        return failure(exc, doing)

    async def _assume(self, stream_id: str) -> TemporaryCredentials:
        doing = f"assuming role {self.role_arn!r}"
        try:
            async with self._session.create_client(
                    "sts", region_name=self.region, endpoint_url=self.settings.aws_endpoint_url,
                    config=client_config(self.settings)) as sts:
                answer = await sts.assume_role(RoleArn=self.role_arn, RoleSessionName=session_name(stream_id),
                                               DurationSeconds=SESSION_SECONDS)
        except AWS_ERRORS as exc:
            raise failure(exc, doing) from exc
        granted = answer["Credentials"]
        expiration = granted["Expiration"]
        if expiration.tzinfo is None:  # botocore parses a zone; a naive time would be UTC all the same
            expiration = expiration.replace(tzinfo=UTC)
        return TemporaryCredentials(granted["AccessKeyId"], granted["SecretAccessKey"],
                                    granted["SessionToken"], expiration)

    async def _close_client(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def close(self) -> None:
        await self._close_client()
        self.credentials = None
