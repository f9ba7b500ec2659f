"""One moto server for the whole test session, shared by the sink unit tests and the sink contract
harnesses (which cannot request fixtures of their own, so the server starts lazily on first use), and the
set-up both AWS sinks' tests need on it: a client of one service, and a harness with a fresh destination.

The AWS sinks take their platform credentials from botocore's default chain; this module points that chain
at fake credentials so no test can ever reach real AWS with a developer's own keys or profile.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import uuid
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Final, Literal, Self, overload
from urllib.parse import urlsplit

from aiobotocore.session import get_session
from moto.server import ThreadedMotoServer

from cellstream.streamer.sinks.base import SinkSettings
from tests.conftest import need_service

if TYPE_CHECKING:
    from aiobotocore.session import ClientCreatorContext
    from types_aiobotocore_kinesis.client import KinesisClient
    from types_aiobotocore_s3.client import S3Client

REGION: Final = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account: the one the fake credentials below act in
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/cellstream-writer"

_FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    # Nonexistent files: a developer's ~/.aws must not leak a profile, region or role into the chain.
    "AWS_CONFIG_FILE": "/nonexistent/cellstream-tests/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/cellstream-tests/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_REMOVED = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL")

_lock = threading.Lock()
_url: str | None = None


def use_fake_aws_environment() -> None:
    for name in _REMOVED:
        os.environ.pop(name, None)
    os.environ.update(_FAKE_ENVIRONMENT)


def moto_endpoint() -> str:
    """The URL of the session's moto server, started on first call on a free port (port 0: the OS picks,
    so parallel test runs never collide). Also sets the fake AWS environment, every call."""
    global _url
    with _lock:
        use_fake_aws_environment()
        if _url is None:
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            # werkzeug logs every request at INFO; a failing test's output should show the test's own lines.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            server.start()
            atexit.register(server.stop)
            host, port = server.get_host_and_port()
            _url = f"http://{host}:{port}"
        return _url


@overload
def moto_client(service: Literal["s3"], url: str) -> ClientCreatorContext[S3Client]: ...
@overload
def moto_client(service: Literal["kinesis"], url: str) -> ClientCreatorContext[KinesisClient]: ...
def moto_client(service: Literal["s3", "kinesis"], url: str) -> ClientCreatorContext[Any]:
    """A client of `service` on the moto server at `url`, in the tests' region (use it with `async with`)."""
    return get_session().create_client(service, region_name=REGION, endpoint_url=url)


class MotoHarness:
    """The part of an AWS sink's contract harness that does not depend on the service: the session's moto
    server, settings pointing the sink at it, a fresh destination `name` and a `client` to set it up and
    read it back. A subclass says which `service` and makes the destination in `prepare`."""

    service: Literal["s3", "kinesis"]

    def __init__(self) -> None:
        self.url = moto_endpoint()
        self.settings = SinkSettings(aws_endpoint_url=self.url, allow_private_destinations=True)
        self.name = f"cellstream-test-{uuid.uuid4().hex[:16]}"
        self._stack = AsyncExitStack()
        self._client: Any = None  # the S3 or Kinesis client; its type depends on `service`

    @property
    def client(self) -> Any:
        assert self._client is not None, "use the harness inside `async with`"
        return self._client

    async def __aenter__(self) -> Self:
        where = urlsplit(self.url)
        need_service("moto", where.hostname or "127.0.0.1", where.port or 80)
        self._client = await self._stack.enter_async_context(moto_client(self.service, self.url))
        await self.prepare()
        return self

    async def prepare(self) -> None:
        raise NotImplementedError

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()
