"""/api/v1/api_callback and /api/v1/api_secret (facts §F), shaped as emnify documents them so clients written
for emnify work unchanged: create answers 201 with an empty body (plus a `Location` naming the new
resource, which emnify does not document but costs a client nothing), delete answers 200, and
`organisation_id` is a string although every other id is a number (facts §K.20). A secret is never
answered, not even to the Administrator who set it."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cellstream.api.auth import principal_dependency
from cellstream.api.schemas import RESOURCE_PROBLEMS
from cellstream.domain.callbacks import MAX_PURPOSE, MAX_SECRET, ApiCallback, ApiSecret, Callbacks
from cellstream.domain.principal import Principal
from cellstream.events.timefmt import format_timestamp
from cellstream.services import Services

CALLBACKS = "/api/v1/api_callback"
SECRETS = "/api/v1/api_secret"
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ApiCallbackCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str = Field(description="where to POST: an http or https URL",
                     examples=["https://my-application-server.com"])
    purpose: str | None = Field(None, max_length=MAX_PURPOSE)


class ApiSecretCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    secret: str = Field(min_length=1, max_length=MAX_SECRET,
                        description="the signing key; write-only, never answered")
    purpose: str | None = Field(None, max_length=MAX_PURPOSE)


class ApiCallbackItem(BaseModel):
    id: int
    organisation_id: str = Field(examples=["1234"])
    url: str
    created: str = Field(examples=["2020-02-20T14:15:06.000Z"])
    purpose: str | None = None


class ApiSecretItem(BaseModel):
    id: int
    organisation_id: str = Field(examples=["1234"])
    purpose: str | None = None


def callback_json(record: ApiCallback) -> dict[str, Any]:
    return {"id": record.id, "organisation_id": str(record.org_id), "url": record.url,
            "created": format_timestamp(record.created_ms), "purpose": record.purpose}


def secret_json(record: ApiSecret) -> dict[str, Any]:
    # Spelled out field by field so that adding a field to the record can never leak the secret.
    return {"id": record.id, "organisation_id": str(record.org_id), "purpose": record.purpose}


def router(services: Services) -> APIRouter:
    callbacks = Callbacks(services.connectivity.resources)
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    api = APIRouter(tags=["API callbacks"], responses=RESOURCE_PROBLEMS)

    @api.get(CALLBACKS, summary="List API callbacks", response_model=list[ApiCallbackItem])
    async def list_callbacks(caller: Caller) -> list[dict[str, Any]]:
        return [callback_json(c) for c in await callbacks.list_callbacks(caller)]

    @api.post(CALLBACKS, status_code=201, response_class=Response, summary="Create an API callback",
              responses={201: {"description": "created (empty body); Location names it"}})
    async def create_callback(request: Request, caller: Caller, body: ApiCallbackCreate) -> Response:
        record = await callbacks.create_callback(caller, body.url, body.purpose)
        return Response(status_code=201, headers={"Location": f"{request.url.path}/{record.id}"})

    @api.get(f"{CALLBACKS}/{{api_callback_id}}", summary="One API callback", response_model=ApiCallbackItem)
    async def get_callback(caller: Caller, api_callback_id: RecordId) -> dict[str, Any]:
        return callback_json(await callbacks.get_callback(caller, api_callback_id))

    @api.delete(f"{CALLBACKS}/{{api_callback_id}}", status_code=200, response_class=Response,
                summary="Delete an API callback", responses={200: {"description": "deleted"}})
    async def delete_callback(caller: Caller, api_callback_id: RecordId) -> Response:
        await callbacks.delete_callback(caller, api_callback_id)
        return Response(status_code=200)

    @api.get(SECRETS, summary="List API secrets (the secrets themselves are never answered)",
             response_model=list[ApiSecretItem])
    async def list_secrets(caller: Caller) -> list[dict[str, Any]]:
        return [secret_json(s) for s in await callbacks.list_secrets(caller)]

    @api.post(SECRETS, status_code=201, response_class=Response, summary="Create an API secret",
              responses={201: {"description": "created (empty body); Location names it"}})
    async def create_secret(request: Request, caller: Caller, body: ApiSecretCreate) -> Response:
        record = await callbacks.create_secret(caller, body.secret, body.purpose)
        return Response(status_code=201, headers={"Location": f"{request.url.path}/{record.id}"})

    @api.get(f"{SECRETS}/{{api_secret_id}}", summary="One API secret (without the secret)",
             response_model=ApiSecretItem)
    async def get_secret(caller: Caller, api_secret_id: RecordId) -> dict[str, Any]:
        return secret_json(await callbacks.get_secret(caller, api_secret_id))

    @api.delete(f"{SECRETS}/{{api_secret_id}}", status_code=200, response_class=Response,
                summary="Delete an API secret", responses={200: {"description": "deleted"}})
    async def delete_secret(caller: Caller, api_secret_id: RecordId) -> Response:
        await callbacks.delete_secret(caller, api_secret_id)
        return Response(status_code=200)

    return api
