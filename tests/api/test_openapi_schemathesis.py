"""Property-based API testing from the app's own /openapi.json: whatever schemathesis sends to the GET
routes and to POST /api/v1/authenticate, the app never answers 5xx and every answer matches the schema
(status code, content type, headers, body)."""

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

from .conftest import event, open_test_services, settings_for

ORG = 800


async def _build() -> tuple[FastAPI, str]:
    services = await open_test_services(
        settings_for(Path(tempfile.gettempdir()), rate_limits="off"), ManualClock()
    )
    await services.auth.ensure_organisation(ORG, "Schema Org")
    await services.auth.create_user(ORG, "admin@schema.test", "pw", "Admin")
    docs = [
        event(
            i,
            ORG,
            endpoint={"id": 5, "name": "e"},
            sim={"id": 6, "iccid": "8988303000000000001"},
            user={"id": 1, "name": "Admin", "username": "admin@schema.test"},
            detail={"k": [1, None]},
        )
        for i in range(1, 30)
    ]
    await services.ingestor.ingest_documents((str(i), d) for i, d in enumerate(docs))
    _, app_token = await services.auth.create_application_token(ORG, "schemathesis")
    tokens = await services.auth.authenticate({"application_token": app_token}, ["127.0.0.1"])
    return create_app(services), tokens["auth_token"]


APP, TOKEN = asyncio.run(_build())  # memory stores hold no loop-bound resources
schema = (
    schemathesis.openapi.from_asgi("/openapi.json", APP)
    .exclude(path="/internal/v1/events")
    .exclude(path_regex=r"^/api/v1/application_token", method=["POST", "PATCH"])
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)
