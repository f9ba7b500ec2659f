"""One moto server for the whole test session, shared by the sink unit tests and the sink contract
harnesses (which cannot request fixtures of their own, so the server starts lazily on first use).

The AWS sinks take their platform credentials from botocore's default chain; this module points that chain
at fake credentials so no test can ever reach real AWS with a developer's own keys or profile.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Final

from moto.server import ThreadedMotoServer

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
