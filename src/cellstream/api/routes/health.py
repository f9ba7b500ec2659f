"""GET /healthz: for load balancers and the conformance runner; no authentication."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from cellstream.api.schemas import Health
from cellstream.errors import CellstreamError
from cellstream.services import Services

log = logging.getLogger(__name__)


def router(services: Services) -> APIRouter:
    api = APIRouter(tags=["Operations"])

    @api.get("/healthz", summary="Liveness and store health", responses={
        200: {"model": Health, "description": "the store answers"},
        503: {"model": Health, "description": "the store does not answer"}})
    async def healthz() -> JSONResponse:
        try:
            report = await services.events.health()
        except Exception as exc:  # whatever the store raises, a health check answers 503, never 500
            log.warning("health check failed: %r", exc)
            reason = exc.message if isinstance(exc, CellstreamError) else "the store did not answer"
            return JSONResponse({"status": "unavailable", "error": reason}, status_code=503)
        return JSONResponse({"status": "ok", "store": jsonable_encoder(report)})

    return api
