"""/api/v1/service_profile and /api/v1/tariff_profile (facts §H.3): the organisation's profiles; a service
profile's quota switches store events 52–55. PATCH answers 201, as emnify's API documents.

The SMS callback binding (facts §F) is written `{"api_callback": {"id": 7}}` and cleared with `{"id": null}`
(or null); GET expands it to the callback's {id, url, created, purpose} and the secret's {id, purpose}."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from cellstream.api.auth import principal_dependency
from cellstream.api.routes.callbacks import callback_json
from cellstream.api.schemas import RESOURCE_PROBLEMS, Problem
from cellstream.domain.callbacks import ApiCallback, ApiSecret, Callbacks
from cellstream.domain.principal import Principal
from cellstream.domain.profiles import ServiceProfile, TariffProfile
from cellstream.errors import NotFound, Unprocessable
from cellstream.services import Services

ProfileId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ServiceProfilePatch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    description: str | None = None
    allowed_3g: bool | None = None
    allowed_4g: bool | None = None
    allowed_nb_iot: bool | None = None
    data_service: bool | None = None
    sms_service: bool | None = None
    apply_data_quota: bool | None = None
    apply_sms_quota: bool | None = None
    apply_quota: bool | None = None  # deprecated alias of apply_data_quota
    sms_p2p_int: bool | None = None
    sms_p2p_ext: bool | None = None
    traffic_limit_mb: float | None = None
    api_callback: Any = None  # {"id": int | null} | null, checked by _binding
    api_secret: Any = None
    moc_callback: Any = None


BINDING_FIELDS = {"api_callback": "api_callback_id", "api_secret": "api_secret_id",
                  "moc_callback": "moc_callback_id"}


def _binding(field: str, value: Any) -> int | None:
    """The id a binding field names (None: clear it)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"id"}:
        raise Unprocessable.of(field, 'must be {"id": <id>} or {"id": null}')
    ident = value["id"]
    if ident is None:
        return None
    if isinstance(ident, bool) or not isinstance(ident, int) or not 1 <= ident <= 2**63 - 1:
        raise Unprocessable.of(field, "id must be a positive integer or null")
    return ident


def service_json(profile: ServiceProfile, used_count: int, callbacks: dict[int, ApiCallback] | None = None,
                 secrets: dict[int, ApiSecret] | None = None) -> dict[str, Any]:
    callbacks, secrets = callbacks or {}, secrets or {}

    def url_object(callback_id: int | None) -> dict[str, Any] | None:
        # a callback deleted after binding reads as unset: nothing would be posted to it
        found = callbacks.get(callback_id) if callback_id is not None else None
        if found is None:
            return None
        full = callback_json(found)
        return {k: full[k] for k in ("id", "url", "created", "purpose")}

    secret = secrets.get(profile.api_secret_id) if profile.api_secret_id is not None else None
    return {"id": profile.id, "name": profile.name, "description": profile.description,
            "used_count": used_count, "allowed_3g": profile.allowed_3g, "allowed_4g": profile.allowed_4g,
            "allowed_nb_iot": profile.allowed_nb_iot, "apply_sms_quota": profile.apply_sms_quota,
            "apply_data_quota": profile.apply_data_quota, "data_service": profile.data_service,
            "sms_service": profile.sms_service, "sms_p2p_int": profile.sms_p2p_int,
            "sms_p2p_ext": profile.sms_p2p_ext, "traffic_limit_mb": profile.traffic_limit_mb,
            "api_callback": url_object(profile.api_callback_id),
            "api_secret": None if secret is None else {"id": secret.id, "purpose": secret.purpose},
            "moc_callback": url_object(profile.moc_callback_id)}


def tariff_json(profile: TariffProfile, used_count: int) -> dict[str, Any]:
    return {"id": profile.id, "organisation_id": str(profile.org_id), "name": profile.name,
            "description": profile.description, "used_count": str(used_count),
            "tariff": {"name": "Cellstream", "currency": {"code": profile.currency},
                       "data_rate_per_mb": profile.data_rate_per_mb,
                       "roaming_data_rate_per_mb": profile.roaming_data_rate_per_mb,
                       "default_sms_mo_rate": profile.sms_mo_rate,
                       "default_sms_mt_rate": profile.sms_mt_rate}}


P = TypeVar("P", ServiceProfile, TariffProfile)


def _one(profiles: list[P], profile_id: int, what: str) -> P:
    found = next((p for p in profiles if p.id == profile_id), None)
    if found is None:
        raise NotFound(f"{what} {profile_id} not found")
    return found


def router(services: Services) -> APIRouter:
    connectivity = services.connectivity
    callbacks = Callbacks(connectivity.resources)
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    api = APIRouter(tags=["Profiles"], responses=RESOURCE_PROBLEMS)
    not_found: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "no such profile"}}

    async def usage(caller: Principal) -> tuple[dict[int, int], dict[int, int]]:
        services_used: dict[int, int] = {}
        tariffs_used: dict[int, int] = {}
        for details in await connectivity.list_endpoints(caller):
            e = details.endpoint
            services_used[e.service_profile_id] = services_used.get(e.service_profile_id, 0) + 1
            tariffs_used[e.tariff_profile_id] = tariffs_used.get(e.tariff_profile_id, 0) + 1
        return services_used, tariffs_used

    async def bound(caller: Principal) -> tuple[dict[int, ApiCallback], dict[int, ApiSecret]]:
        return ({c.id: c for c in await callbacks.list_callbacks(caller)},
                {s.id: s for s in await callbacks.list_secrets(caller)})

    @api.get("/api/v1/service_profile", summary="List service profiles")
    async def list_services(caller: Caller) -> JSONResponse:
        used, _ = await usage(caller)
        hooks, secrets = await bound(caller)
        return JSONResponse([service_json(p, used.get(p.id, 0), hooks, secrets)
                             for p in await connectivity.service_profiles(caller)])

    @api.get("/api/v1/service_profile/{profile_id}", summary="One service profile", responses=not_found)
    async def get_service(caller: Caller, profile_id: ProfileId) -> JSONResponse:
        used, _ = await usage(caller)
        profile = _one(await connectivity.service_profiles(caller), profile_id, "service profile")
        hooks, secrets = await bound(caller)
        return JSONResponse(service_json(profile, used.get(profile.id, 0), hooks, secrets))

    @api.patch("/api/v1/service_profile/{profile_id}", status_code=201, response_class=Response,
               summary="Change a service profile",
               responses={201: {"description": "changed (quota switches store 52–55)"}, **not_found,
                          422: {"model": Problem, "description": "invalid field"}})
    async def patch_service(caller: Caller, profile_id: ProfileId, body: ServiceProfilePatch) -> Response:
        changes = body.model_dump(exclude_unset=True)
        if "apply_quota" in changes:
            changes.setdefault("apply_data_quota", changes.pop("apply_quota"))
        for field, stored in BINDING_FIELDS.items():
            if field in changes:
                changes[stored] = _binding(field, changes.pop(field))
        await connectivity.update_service_profile(caller, profile_id, changes)
        return Response(status_code=201)

    @api.get("/api/v1/tariff_profile", summary="List tariff profiles (coverage policies)")
    async def list_tariffs(caller: Caller) -> JSONResponse:
        _, used = await usage(caller)
        return JSONResponse([tariff_json(p, used.get(p.id, 0))
                             for p in await connectivity.tariff_profiles(caller)])

    @api.get("/api/v1/tariff_profile/{profile_id}", summary="One tariff profile", responses=not_found)
    async def get_tariff(caller: Caller, profile_id: ProfileId) -> JSONResponse:
        _, used = await usage(caller)
        profile = _one(await connectivity.tariff_profiles(caller), profile_id, "tariff profile")
        return JSONResponse(tariff_json(profile, used.get(profile.id, 0)))

    return api
