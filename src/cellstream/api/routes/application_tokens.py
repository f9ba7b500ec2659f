"""/api/v1/application_token (facts §D): list, create (token shown once), update or revoke (204)."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse, Response

from cellstream.api.auth import principal_dependency
from cellstream.api.schemas import (
    ApplicationTokenCreate,
    ApplicationTokenCreated,
    ApplicationTokenItem,
    ApplicationTokenPatch,
    Problem,
)
from cellstream.domain.principal import Principal
from cellstream.services import Services

_problems: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "bad path parameter"},
    401: {"model": Problem, "description": "missing, invalid or expired auth token"},
    403: {"model": Problem, "description": "only Administrators and application tokens manage tokens"},
    422: {"model": Problem, "description": "invalid field (error_token InvalidFormat), e.g. an expiry_date "
                                           "in the past or an ip not in CIDR notation"},
}


def router(services: Services) -> APIRouter:
    auth = services.auth
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    api = APIRouter(prefix="/api/v1/application_token", tags=["Application tokens"])

    @api.get("", summary="List application tokens", responses={
        200: {"model": list[ApplicationTokenItem], "description": "the organisation's tokens"},
        401: _problems[401]})
    async def list_tokens(caller: Caller) -> JSONResponse:
        return JSONResponse(await auth.list_application_tokens(caller))

    @api.post("", summary="Create an application token", responses={
        200: {"model": ApplicationTokenCreated, "description": "the new token, shown this once"},
        **{k: v for k, v in _problems.items() if k != 400}})
    async def create_token(caller: Caller, body: ApplicationTokenCreate | None = None) -> JSONResponse:
        fields = body.model_dump(exclude_none=True) if body is not None else {}
        return JSONResponse({"application_token": await auth.issue_application_token(caller, fields)})

    @api.patch("/{app_token_id}", status_code=204, summary="Update or revoke an application token",
               responses={204: {"description": "updated"},
                          404: {"model": Problem, "description": "no such token in this organisation"},
                          **_problems})
    async def update_token(caller: Caller, app_token_id: Annotated[int, Path(ge=0, le=2**63 - 1)],
                           body: ApplicationTokenPatch) -> Response:
        await auth.update_application_token(caller, app_token_id, body.model_dump(exclude_unset=True))
        return Response(status_code=204)

    return api
