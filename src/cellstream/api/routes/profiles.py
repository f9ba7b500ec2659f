"""/api/v1/service_profile and /api/v1/tariff_profile (facts §H.3): the organisation's profiles; a service
profile's quota switches store events 52–55. PATCH answers 201, as emnify's API documents."""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from cellstream.api.auth import principal_dependency
from cellstream.api.schemas import RESOURCE_PROBLEMS, Problem
from cellstream.domain.principal import Principal
from cellstream.domain.profiles import ServiceProfile, TariffProfile
from cellstream.errors import NotFound
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


def service_json(profile: ServiceProfile, used_count: int) -> dict[str, Any]:
    return {"id": profile.id, "name": profile.name, "description": profile.description,
            "used_count": used_count, "allowed_3g": profile.allowed_3g, "allowed_4g": profile.allowed_4g,
            "allowed_nb_iot": profile.allowed_nb_iot, "apply_sms_quota": profile.apply_sms_quota,
            "apply_data_quota": profile.apply_data_quota, "data_service": profile.data_service,
            "sms_service": profile.sms_service, "sms_p2p_int": profile.sms_p2p_int,
            "sms_p2p_ext": profile.sms_p2p_ext, "traffic_limit_mb": profile.traffic_limit_mb}


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

    @api.get("/api/v1/service_profile", summary="List service profiles")
    async def list_services(caller: Caller) -> JSONResponse:
        used, _ = await usage(caller)
        return JSONResponse([service_json(p, used.get(p.id, 0))
                             for p in await connectivity.service_profiles(caller)])

    @api.get("/api/v1/service_profile/{profile_id}", summary="One service profile", responses=not_found)
    async def get_service(caller: Caller, profile_id: ProfileId) -> JSONResponse:
        used, _ = await usage(caller)
        profile = _one(await connectivity.service_profiles(caller), profile_id, "service profile")
        return JSONResponse(service_json(profile, used.get(profile.id, 0)))

    @api.patch("/api/v1/service_profile/{profile_id}", status_code=201, response_class=Response,
               summary="Change a service profile",
               responses={201: {"description": "changed (quota switches store 52–55)"}, **not_found,
                          422: {"model": Problem, "description": "invalid field"}})
    async def patch_service(caller: Caller, profile_id: ProfileId, body: ServiceProfilePatch) -> Response:
        changes = body.model_dump(exclude_unset=True)
        if "apply_quota" in changes:
            changes.setdefault("apply_data_quota", changes.pop("apply_quota"))
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
