"""The FastAPI application factory. The caller opens the services and closes them; the app only uses
them, so the CLI, tests and embedders decide the lifecycle."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace

from cellstream import __version__
from cellstream.api.hot import CellstreamApp, HotLane
from cellstream.api.problems import install_problem_handlers
from cellstream.api.routes import (
    application_tokens,
    auth,
    automations,
    callbacks,
    custom_events,
    data_streams,
    endpoints,
    events,
    health,
    internal,
    network,
    organisation,
    profiles,
    provisioning,
    quotas,
    signalling,
    sims,
    users,
)
from cellstream.services import Services

DESCRIPTION = """Cellstream speaks emnify's Event API: point an emnify client at this base URL.

Authenticate with `POST /api/v1/authenticate`, then send `Authorization: Bearer <auth_token>`.
Errors have the shape `{"error_code", "error_token", "message", "errors": [{"field", "message"}]}`.
"""


def _telemetry() -> TelemetryConfig | None:
    """FastAPI's native OpenTelemetry, only when a tracer provider is set up: left on unconfigured, its
    per-request check for one measured a fifth of the cost of a bare route."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return {"tracing": False, "metrics": False, "logs": False}
    return None


def create_app(services: Services) -> FastAPI:
    telemetry = _telemetry()
    app = CellstreamApp(title="Cellstream", version=__version__, description=DESCRIPTION, telemetry=telemetry)
    app.state.services = services
    install_problem_handlers(app)
    event_routes = events.router(services)
    for router in (health.router(services), auth.router(services), event_routes,
                   application_tokens.router(services), internal.router(services), sims.router(services),
                   endpoints.router(services), profiles.router(services), quotas.router(services),
                   signalling.router(services), network.router(services),
                   provisioning.router(services), organisation.router(services), users.router(services),
                   data_streams.router(services), automations.router(services), callbacks.router(services),
                   custom_events.router(services)):
        app.include_router(router)
    # The hot path skips FastAPI's per-request machinery; see cellstream.api.routes.events and api.hot.
    fast = events.fast_routes(event_routes)
    app.router.routes[0:0] = fast
    if telemetry is not None:  # traced requests keep the whole stack
        app.lane = HotLane(fast)
    return app
