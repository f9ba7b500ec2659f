"""How the AWS sinks sort failures (permanent: the customer must change something; retryable: time may
help), for the AWS errors a local server cannot produce on demand, and the session name STS records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from cellstream.streamer.sinks.aws_session import AssumedRole, TemporaryCredentials, failure, session_name
from cellstream.streamer.sinks.base import SinkSettings


def client_error(code: str, status: int, message: str = "something") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message},
                     "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "PutObject")


@pytest.mark.parametrize(("code", "status"), [
    ("NoSuchBucket", 404), ("AccessDenied", 403), ("AccessDeniedException", 400),
    ("ResourceNotFoundException", 400), ("ValidationError", 400), ("InvalidClientTokenId", 403),
    ("PermanentRedirect", 301), ("AuthorizationHeaderMalformed", 400), ("KMSAccessDeniedException", 400),
])
def test_misconfigurations_are_permanent(code: str, status: int) -> None:
    failed = failure(client_error(code, status), "writing to S3 bucket 'b'")
    assert failed.permanent
    assert failed.status == status
    assert failed.message.startswith(f"writing to S3 bucket 'b' failed: {code} (something)")


@pytest.mark.parametrize(("code", "status"), [
    ("SlowDown", 503), ("Throttling", 400), ("ThrottlingException", 400),
    ("ProvisionedThroughputExceededException", 400), ("LimitExceededException", 400), ("InternalError", 500),
    ("ServiceUnavailable", 503), ("SomethingNew", 502), ("TooManyRequests", 429), ("ExpiredToken", 400),
    ("RequestTimeout", 400),
])
def test_throttling_server_errors_and_expiry_are_retryable(code: str, status: int) -> None:
    assert not failure(client_error(code, status), "x").permanent


def test_the_hint_says_what_the_code_means() -> None:
    assert failure(client_error("NoSuchBucket", 404), "x").message.endswith(": the bucket does not exist")


@pytest.mark.parametrize(("exc", "permanent"), [
    (EndpointConnectionError(endpoint_url="https://s3.eu-west-1.amazonaws.com"), False),
    (ReadTimeoutError(endpoint_url="https://s3.eu-west-1.amazonaws.com"), False),
    (ConnectionResetError("reset by peer"), False),
    (NoCredentialsError(), False),  # the platform's own: fixed by an operator, not by the customer
    (ParamValidationError(report="Invalid length for parameter RoleArn"), True),
])
def test_errors_before_an_answer(exc: Exception, permanent: bool) -> None:
    failed = failure(exc, "x")
    assert failed.permanent is permanent
    assert failed.status is None


def test_credentials_aws_calls_expired_are_forgotten() -> None:
    role: AssumedRole[object] = AssumedRole(role_arn="arn:aws:iam::123456789012:role/r", region="eu-west-1",
                                            settings=SinkSettings(), open_client=lambda *_: NotImplemented)
    role.credentials = TemporaryCredentials("ASIA", "secret", "token", datetime.now(UTC) + timedelta(hours=1))
    role.failure(client_error("AccessDenied", 403), "x")
    assert role.credentials is not None
    failed = role.failure(client_error("ExpiredTokenException", 400), "x")
    assert role.credentials is None
    assert not failed.permanent


def test_the_session_name_names_the_stream_within_sts_rules() -> None:
    assert session_name("689d97ba") == "cellstream-689d97ba"
    odd = session_name("a b/c" + "x" * 80)
    assert odd.startswith("cellstream-a-b-c")
    assert len(odd) == 64
