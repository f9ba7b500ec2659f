"""/api/v1/organisation/my (facts §H.5): the caller's organisation, and its billing configuration.

- `GET /api/v1/organisation/my` (also `/api/v1/organisation/my_organisation`): the organisation.
- `PATCH /api/v1/organisation/my` {name, country {id}, verification_type {id}, verification} → 204 and
  event 31 "Organisation updated" when something changed.
- `GET` / `PATCH /api/v1/organisation/my/billing_config` {charging_model {id}, payment_term {id}, vatin}
  → 204 and event 32 "Billing configuration updated". Neither emnify OpenAPI has a billing configuration
  path; this one sits beside the organisation it configures.

Changes need an Administrator or an application token (403). Body fields beyond the documented ones are
accepted and ignored (a client may send back what it read)."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cellstream.api.auth import principal_dependency
from cellstream.api.schemas import RESOURCE_PROBLEMS, IdRef, Problem
from cellstream.domain.organisations import Organisations, billing_config, organisation_json
from cellstream.domain.principal import Principal
from cellstream.services import Services


class Lookup(BaseModel):
    id: int
    description: str


class CountryDoc(BaseModel):
    id: int
    name: str
    country_code: str
    mcc: str
    iso_code: str


class CurrencyDoc(BaseModel):
    id: int
    code: str
    symbol: str


class VerificationTypeDoc(BaseModel):
    id: int
    description: str | None = None


class OrganisationDoc(BaseModel):
    """Your organisation (fixture organisation-my.json)."""

    model_config = ConfigDict(populate_by_name=True)
    id: int
    name: str
    ext_reference: str | None
    type: Lookup
    class_: Lookup = Field(alias="class")
    country: CountryDoc | None
    status: Lookup
    relation: dict[str, Any] | None
    monthly_cost_limit: int | None
    currency: CurrencyDoc
    created: str
    verification_type: VerificationTypeDoc | None
    verification: str | None


class OrganisationPatch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(None, max_length=255)
    country: IdRef | None = None
    verification_type: IdRef | None = None
    verification: str | None = Field(None, max_length=255)


class BillingConfig(BaseModel):
    charging_model: IdRef
    payment_term: IdRef
    vatin: str | None


class BillingConfigPatch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    charging_model: IdRef | None = None
    payment_term: IdRef | None = None
    vatin: str | None = Field(None, max_length=255)


def _given(body: BaseModel) -> dict[str, Any]:
    """The fields the request named (null included), lookups as {"id": n}."""
    dumped = body.model_dump()
    return {name: dumped[name] for name in body.model_fields_set}


def router(services: Services) -> APIRouter:
    organisations = Organisations(services.accounts, services.notifier, services.clock)
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    api = APIRouter(prefix="/api/v1/organisation", tags=["Organisation"], responses=RESOURCE_PROBLEMS)
    unauthorised = {"model": Problem, "description": "missing, invalid or expired auth token"}
    changing: dict[int | str, dict[str, Any]] = {
        401: unauthorised,
        403: {"model": Problem, "description": "only Administrators and application tokens change it"},
        422: {"model": Problem, "description": "a field is invalid (the body names it)"},
    }

    async def get_my(caller: Caller) -> JSONResponse:
        return JSONResponse(organisation_json(await organisations.get(caller)))

    for path, name in (("/my", "My organisation"), ("/my_organisation", "My organisation (alias)")):
        api.add_api_route(path, get_my, methods=["GET"], summary=name, name=f"get{path}", responses={
            200: {"model": OrganisationDoc, "description": "your organisation"}, 401: unauthorised})

    @api.patch("/my", status_code=204, response_class=Response, summary="Change my organisation",
               responses={204: {"description": "changed; event 31 stored when a value changed"},
                          **changing})
    async def patch_my(caller: Caller, body: Annotated[OrganisationPatch, Body()]) -> Response:
        await organisations.update(caller, _given(body))
        return Response(status_code=204)

    @api.get("/my/billing_config", summary="My billing configuration", responses={
        200: {"model": BillingConfig, "description": "the billing configuration"}, 401: unauthorised})
    async def get_billing(caller: Caller) -> JSONResponse:
        return JSONResponse(billing_config(await organisations.get(caller)))

    @api.patch("/my/billing_config", status_code=204, response_class=Response,
               summary="Change my billing configuration",
               responses={204: {"description": "changed; event 32 stored when a value changed"}, **changing})
    async def patch_billing(caller: Caller, body: Annotated[BillingConfigPatch, Body()]) -> Response:
        await organisations.update_billing(caller, _given(body))
        return Response(status_code=204)

    return api
