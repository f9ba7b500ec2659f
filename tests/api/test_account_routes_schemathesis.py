"""The organisation and user routes fuzzed from the app's own /openapi.json, as test_openapi_schemathesis
does for the rest (which covers these too once api.app registers their routers): never a 5xx, and every
answer matches the schema (status code, content type, headers, body)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cellstream.api.app import create_app
from cellstream.clock import ManualClock
from cellstream.domain.credentials import sha1_hex

from .conftest import open_test_services, settings_for

ORG = 801
ACCOUNT_PATHS = r"^/api/v[12]/(organisation|user)|^/api/v1/authenticate/workspace"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


async def _build() -> tuple[FastAPI, str, str]:
    services = await open_test_services(
        settings_for(Path(tempfile.gettempdir()), rate_limits="off"), ManualClock())
    await services.auth.ensure_organisation(ORG, "Schema Org")
    await services.auth.create_user(ORG, "admin@schema.test", "pw", "Admin")
    for n in range(3):
        await services.auth.create_user(ORG, f"user{n}@schema.test", "pw", f"User {n}", (2,))
    _, app_token = await services.auth.create_application_token(ORG, "schemathesis")
    tokens = await services.auth.authenticate({"application_token": app_token}, ["127.0.0.1"])
    login = await services.auth.authenticate({"username": "admin@schema.test", "password": sha1_hex("pw")},
                                             ["127.0.0.1"])
    return create_app(services), tokens["auth_token"], login["auth_token"]


APP, TOKEN, USER_TOKEN = asyncio.run(_build())  # memory stores hold no loop-bound resources
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).include(path_regex=ACCOUNT_PATHS)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_account_routes_conform_to_their_openapi_with_an_application_token(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_account_routes_conform_to_their_openapi_with_a_user_token(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {USER_TOKEN}"}, checks=CHECKS)
