"""API shapes for OpenAPI. Request models validate bodies; response models only document: event lists go
out as stored canonical JSON, never through these (see routes/events.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class FieldError(BaseModel):
    field: str = Field(description="the parameter or body field at fault")
    message: str
    where: str | None = Field(None, description="which document of a batch, e.g. body[3] or body:12")


class Problem(BaseModel):
    error_code: int = Field(description="the HTTP status")
    error_token: str = Field(examples=["BadRequest", "UnprocessableEntity", "Unauthorized"])
    message: str
    errors: list[FieldError] | None = None


PROBLEM_DESCRIPTIONS = {
    400: "a path or query parameter is invalid (the body names it)",
    401: "missing, invalid or expired token",
    403: "the token's role may not do this",
    404: "no such resource in this organisation",
    409: "the change conflicts with the resource's state",
    413: "body larger than CELLSTREAM_INGEST_MAX_BODY_BYTES",
    422: "a field of the body is invalid (the body names it)",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, each answered with a Problem body."""
    return {code: {"model": Problem, "description": PROBLEM_DESCRIPTIONS[code]} for code in codes}


RESOURCE_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 422)


def not_a_boolean(value: Any) -> Any:
    """JSON true/false is not an id (pydantic would read it as 1/0)."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


class IdRef(BaseModel):
    """A reference by id in a request body (`{"id": 3}`); other keys clients send along are ignored."""

    model_config = ConfigDict(extra="ignore")
    id: Annotated[int, BeforeValidator(not_a_boolean)] = Field(ge=0, le=2**63 - 1)


class Lookup(BaseModel):
    id: int
    description: str


class Reference(BaseModel):
    """organisation, user, endpoint, sim or imsi: an integer id plus whatever else the producer sent."""

    model_config = ConfigDict(extra="allow")
    id: int


class EventDoc(BaseModel):
    """An emnify event in canonical form: UTC `YYYY-MM-DDTHH:mm:ss.SSSZ`, boolean alert, lookups with
    the catalog's names, identifiers (iccid, imsi, imei, msisdn) as strings, objects that do not apply
    left out."""

    id: int
    timestamp: str = Field(examples=["2026-01-31T12:00:00.000Z"])
    alert: bool
    description: str
    event_type: Lookup
    event_source: Lookup
    event_severity: Lookup
    organisation: Reference
    user: Reference | None = None
    endpoint: Reference | None = None
    sim: Reference | None = None
    imsi: Reference | None = None
    detail: Any = None


class AuthenticateRequest(BaseModel):
    """One of: application_token; username + password (SHA-1 hex digest); refresh_token."""

    application_token: str | None = None
    username: str | None = None
    password: str | None = Field(None, description="lowercase SHA-1 hex digest of the password")
    refresh_token: str | None = None
    fingerprint: str | None = Field(None, description="accepted and ignored (no MFA here)")


class AuthenticateResponse(BaseModel):
    auth_token: str
    refresh_token: str | None = Field(None, description="only when logging in with username and password")


class ApplicationTokenCreate(BaseModel):
    description: str | None = None
    expiry_date: str | None = Field(None, examples=["2027-01-31", "2027-01-31T13:04:49.000Z"])
    ip: str | None = Field(None, description="network allowed to use the token, in CIDR notation",
                           examples=["10.0.0.1/32"])


class ApplicationTokenCreated(BaseModel):
    application_token: str = Field(description="shown once; keep it safe")


class StatusRef(BaseModel):
    id: int = Field(description="0 Activated, 1 Revoked")


class ApplicationTokenPatch(BaseModel):
    description: str | None = None
    status: StatusRef | int | None = None


class Creator(BaseModel):
    id: int
    name: str
    username: str


class ApplicationTokenItem(BaseModel):
    id: int
    description: str
    created: str
    status: Lookup
    expiry_date: str | None = None
    ip: str | None = None
    creator: Creator | None = None


class IngestResult(BaseModel):
    stored: int
    duplicates: int = Field(description="events skipped because the same event was already stored")
    first_position: int | None
    last_position: int | None


class Health(BaseModel):
    status: str
    store: dict[str, Any] | None = None
    error: str | None = None
