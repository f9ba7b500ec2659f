"""Users (facts §H.5, §D): /api/v1/user, /api/v2/user, and switching workspace.

- `GET /api/v1/user`: the organisation's users, with the paging headers of the lists (facts §C.3);
  `q` filters (`id`, `status`, `name`, `username`, `organisation`), `sort` orders.
- `GET /api/v1/user/{user_id}`: one user, by id, by username, or `my`.
- `POST /api/v1/user` {username, name, organisation {id}, roles [{id}]} → 201, Location; the body carries
  the new user's `id` and its `activationKey` (emnify e-mails it; Cellstream has no mail).
- `POST /api/v1/user/activation` {activationKey, password} (no auth) → 204, event 41 "User verified".
- `DELETE /api/v2/user/{user_id}` (and the deprecated v1 path) → 204, event 46 "User deleted".
- `POST /api/v1/user/mfa` {type {id: 0}, password} → 200 with the caller's new MFA key (secret once);
  `DELETE /api/v1/user/{user_id}/mfa/{key_id}` → 204, event 14 "Multi-factor Authentication".
- `POST /api/v2/user/{user_id}/support_token` {role} → 201 {support_token}, event 13 "Support Access".
- `POST /api/v1/authenticate/workspace` {target_organisation {id}} → 200 {auth_token}, event 67.
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases defined in router().
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cellstream.api.auth import principal_dependency
from cellstream.api.listing import list_params
from cellstream.api.resource_lists import LIST_HEADERS, page_response
from cellstream.api.schemas import RESOURCE_PROBLEMS, IdRef, Problem
from cellstream.domain.principal import Principal
from cellstream.domain.users import (
    MFA_STATUS_NAMES,
    MFA_TYPE_NAMES,
    ROLE_NAMES,
    STATUS_NAMES,
    Users,
)
from cellstream.errors import BadParameter, Unprocessable
from cellstream.events.timefmt import format_timestamp
from cellstream.services import Services
from cellstream.store.protocols import MfaKey, Organisation, User

MAX_PER_PAGE = 1000
MAX_ID = 2**63 - 1
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
KeyId = Annotated[int, Path(ge=1, le=MAX_ID)]
# A user as a path names it: an id, a username (e-mail), or "my".
UserRef = Annotated[str, Path(min_length=1, max_length=254)]
SORTS: dict[str, Callable[[User], Any]] = {
    "id": lambda u: u.id, "status": lambda u: u.status, "name": lambda u: u.name.lower(),
    "username": lambda u: u.username.lower(), "organisation": lambda u: u.org_id,
    "created": lambda u: u.created_ms,
}
FILTERS = ("id", "status", "name", "username", "organisation")




class UserCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str = Field(max_length=254)
    name: str = Field(max_length=255)
    organisation: IdRef | None = None
    roles: list[IdRef] | None = None


class UserCreated(BaseModel):
    id: int
    activationKey: str = Field(description="the activation key emnify would e-mail; shown once")


class Activation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    activationKey: str = Field(max_length=255)
    password: str = Field(max_length=255, description="the SHA-1 hex digest of the new password")


class MfaCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: IdRef
    password: str = Field(max_length=255, description="the SHA-1 hex digest of your password")


class SupportTokenRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["1", "3", 1, 3] | None = None


class SupportToken(BaseModel):
    support_token: str


class WorkspaceRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    target_organisation: IdRef


class AuthToken(BaseModel):
    auth_token: str


class Named(BaseModel):
    id: int
    name: str


class Described(BaseModel):
    id: int
    description: str


class MfaKeyDoc(BaseModel):
    id: int
    type: Named
    status: Named
    creation_date: str
    activation_date: str | None


class UserDoc(BaseModel):
    id: int
    username: str
    name: str
    created: str
    status: Described
    organisation: Named
    roles: list[Named]
    mfa: list[MfaKeyDoc] | None = None


class NewMfaKeyDoc(BaseModel):
    id: int
    status: Described
    type: Described
    secret_key: str
    otpauth: str
    creation_date: str


def mfa_json(key: MfaKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "type": {"id": key.type_id, "name": MFA_TYPE_NAMES.get(key.type_id, "")},
        "status": {"id": key.status_id, "name": MFA_STATUS_NAMES.get(key.status_id, "")},
        "creation_date": format_timestamp(key.created_ms),
        "activation_date": None if key.activated_ms is None else format_timestamp(key.activated_ms),
    }


def user_json(user: User, org: Organisation | None, mfa: list[MfaKey] | None = None) -> dict[str, Any]:
    """A user (fixtures user-get-1.json, user-list-1.json); `mfa` only for a single user."""
    out: dict[str, Any] = {
        "id": user.id, "username": user.username, "name": user.name,
        "created": format_timestamp(user.created_ms),
        "status": {"id": user.status, "description": STATUS_NAMES.get(user.status, "")},
        "organisation": {"id": user.org_id, "name": org.name if org is not None else ""},
        "roles": [{"id": r, "name": ROLE_NAMES.get(r, "")} for r in user.roles],
    }
    if mfa is not None:
        out["mfa"] = [mfa_json(k) for k in mfa]
    return out


def _filtered(users: list[User], q: str | None, org: Organisation | None) -> list[User]:
    """`q`: comma-separated `field:value`; id, status and organisation (id) match exactly, name and
    username (and organisation by name) by case-insensitive substring."""
    for part in [p.strip() for p in (q or "").split(",") if p.strip()]:
        field, sep, value = part.partition(":")
        field, value = field.strip(), value.strip()
        if not sep or field not in FILTERS or not value:
            raise Unprocessable.of("q", f"use field:value with a field of {', '.join(FILTERS)}")
        if field in ("id", "status"):
            if not (value.isascii() and value.isdigit() and len(value) <= 19):
                raise Unprocessable.of("q", f"{field} must be an integer")
            number = int(value)
            users = [u for u in users if (u.id if field == "id" else u.status) == number]
        elif field == "organisation":
            if value.isascii() and value.isdigit():
                users = [u for u in users if str(u.org_id) == value]
            else:
                name = (org.name if org is not None else "").lower()
                users = users if value.lower() in name else []
        else:
            users = [u for u in users if value.lower() in getattr(u, field).lower()]
    return users


def _sorted(users: list[User], sort: str | None) -> list[User]:
    for key in reversed([k.strip() for k in (sort or "").split(",") if k.strip()]):
        name = key.lstrip("-+")
        if name not in SORTS:
            raise BadParameter.of("sort", f"cannot sort users by {name!r}; use one of {', '.join(SORTS)}")
        users = sorted(users, key=SORTS[name], reverse=key.startswith("-"))
    return users


def _user_ref(raw: str) -> int | str:
    text = raw.strip()
    if text.isascii() and text.isdigit():
        if len(text) > 19 or not 1 <= int(text) <= MAX_ID:
            raise BadParameter.of("user_id", f"must be an integer from 1 to {MAX_ID}, a username or my")
        return int(text)
    return text


def _body(model: BaseModel | None) -> dict[str, Any]:
    return {} if model is None else model.model_dump(exclude_unset=True)


def problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


def router(services: Services) -> APIRouter:
    users = Users(services.accounts, services.auth, services.notifier, services.clock)
    accounts = services.accounts
    Caller = Annotated[Principal, Depends(principal_dependency(services))]
    api = APIRouter(tags=["Users"], responses=RESOURCE_PROBLEMS)
    p401 = problem("missing, invalid or expired auth token")
    p403 = problem("only Administrators and application tokens may do this")
    p404 = problem("no such user in this organisation")
    p422 = problem("a field is invalid (the body names it)")

    @api.get("/api/v1/user", summary="List users", responses={
        200: {"model": list[UserDoc], "description": "one page of the organisation's users",
              "headers": LIST_HEADERS},
        400: problem("bad page, per_page or sort"), 401: p401, 422: problem("bad q")})
    async def list_users(request: Request, caller: Caller) -> JSONResponse:
        params = list_params(request, MAX_PER_PAGE, MAX_PER_PAGE)
        org = await accounts.get_organisation(caller.org_id)
        everything = _sorted(_filtered(await users.users(caller), params.q, org), params.sort)
        return page_response(request, params, everything, lambda u: user_json(u, org))

    @api.post("/api/v1/user", status_code=201, summary="Create a user", responses={
        201: {"model": UserCreated, "description": "created (Activation Pending); Location names it"},
        401: p401, 403: p403, 409: problem("the username is taken"), 422: p422})
    async def create_user(request: Request, caller: Caller,
                          body: Annotated[UserCreate, Body()]) -> JSONResponse:
        created = await users.create(caller, body.model_dump(exclude_unset=True))
        return JSONResponse({"id": created.user.id, "activationKey": created.activation_key},
                            status_code=201, headers={"Location": f"{request.url.path}/{created.user.id}"})

    @api.post("/api/v1/user/activation", status_code=204, response_class=Response, summary="Activate a user",
              openapi_extra={"security": []}, responses={
                  204: {"description": "activated: the user can log in; event 41 stored"}, 422: p422})
    async def activate(body: Annotated[Activation, Body()]) -> Response:
        await users.activate(body.model_dump())
        return Response(status_code=204)

    @api.post("/api/v1/user/mfa", summary="Create an MFA key for yourself", responses={
        200: {"model": NewMfaKeyDoc, "description": "the key, Activation Pending; secret shown once"},
        401: p401, 403: problem("an application token has no user"),
        404: problem("your user is gone"), 409: problem("you have an MFA key already"), 422: p422})
    async def create_mfa(caller: Caller, body: Annotated[MfaCreate, Body()]) -> JSONResponse:
        created = await users.create_mfa_key(caller, body.model_dump())
        key = created.key
        return JSONResponse({
            "id": key.id,
            "status": {"id": key.status_id, "description": MFA_STATUS_NAMES.get(key.status_id, "")},
            "type": {"id": key.type_id, "description": MFA_TYPE_NAMES.get(key.type_id, "")},
            "secret_key": key.secret, "otpauth": created.otpauth,
            "creation_date": format_timestamp(key.created_ms)})

    @api.get("/api/v1/user/{user_id}", summary="One user, by id, username or my", responses={
        200: {"model": UserDoc, "description": "the user, with its MFA keys"},
        400: problem("bad user_id"), 401: p401, 404: p404})
    async def get_user(caller: Caller, user_id: UserRef) -> JSONResponse:
        user = await users.get(caller, _user_ref(user_id))
        org = await accounts.get_organisation(user.org_id)
        return JSONResponse(user_json(user, org, await users.mfa_keys(user)))

    async def delete_user(caller: Caller, user_id: UserId) -> Response:
        await users.delete(caller, user_id)
        return Response(status_code=204)

    deleted: dict[int | str, dict[str, Any]] = {
        204: {"description": "deleted; event 46 stored"}, 400: problem("bad user_id"), 401: p401,
        403: problem("only Administrators and application tokens, and not for oneself"), 404: p404}
    api.add_api_route("/api/v2/user/{user_id}", delete_user, methods=["DELETE"], status_code=204,
                      response_class=Response, summary="Delete a user", name="delete_user_v2",
                      responses=deleted)
    api.add_api_route("/api/v1/user/{user_id}", delete_user, methods=["DELETE"], status_code=204,
                      response_class=Response, summary="Delete a user (deprecated: use v2)",
                      name="delete_user_v1", deprecated=True, responses=deleted)

    @api.delete("/api/v1/user/{user_id}/mfa/{key_id}", status_code=204, response_class=Response,
                summary="Delete an MFA key", responses={
                    204: {"description": "deleted; event 14 stored"}, 400: problem("bad user_id or key_id"),
                    401: p401, 403: problem("only Administrators, application tokens and the key's user"),
                    404: problem("no such user in this organisation, or no such key of the user")})
    async def delete_mfa(caller: Caller, user_id: UserRef, key_id: KeyId) -> Response:
        await users.delete_mfa_key(caller, _user_ref(user_id), key_id)
        return Response(status_code=204)

    @api.post("/api/v2/user/{user_id}/support_token", status_code=201, summary="Create a support token",
              responses={201: {"model": SupportToken, "description": "an auth token acting as the user; "
                                                                    "event 13 stored in its organisation"},
                         400: problem("bad user_id"), 401: p401,
                         403: problem("only Administrator users, and not for themselves"),
                         404: problem("no active user of that id in this organisation"), 422: p422})
    async def support_token(caller: Caller, user_id: UserId,
                            body: Annotated[SupportTokenRequest | None, Body()] = None) -> JSONResponse:
        token = await services.auth.support_token(caller, user_id, _body(body))
        return JSONResponse({"support_token": token}, status_code=201)

    @api.post("/api/v1/authenticate/workspace", summary="Switch to another workspace", responses={
        200: {"model": AuthToken, "description": "an auth token for the workspace; event 67 stored"},
        401: p401, 403: problem("application tokens cannot switch workspace"),
        404: problem("no such workspace assigned to you"), 422: p422})
    async def switch_workspace(caller: Caller, body: Annotated[WorkspaceRequest, Body()]) -> JSONResponse:
        return JSONResponse(await services.auth.switch_workspace(caller, body.model_dump()))

    return api
