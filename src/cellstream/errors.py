"""The one error tree of Cellstream. Adapters translate library errors into it; the HTTP layer maps it to
JSON in one place (`cellstream.api.problems`), the CLI to a message and a non-zero exit.

    CellstreamError
    ├── InvalidInput            bad input from a client; names the field and the problem
    │   ├── BadParameter        400: paging, sorting, path ids, malformed request bodies
    │   └── Unprocessable       422: a well-formed request whose content is wrong (q, event fields)
    ├── NotFound                404
    ├── Conflict                409: the change contradicts what is stored
    ├── AuthenticationFailed    401
    │   └── TooManyFailures     401 with error_token TooManyRequests (account locked)
    ├── Forbidden               403
    ├── PayloadTooLarge         413
    └── StoreError              the store could not do what was asked
        ├── StoreUnavailable    retryable: locked, busy, connection lost
        └── StoreCorrupt        permanent: the schema or data is not what this version expects

Retryable versus permanent is a type (`RetryableError`), so callers never parse messages to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field of the input. `where` locates it in a file or batch (e.g. 'x.jsonl:3')."""

    field: str
    problem: str
    where: str = ""

    def __str__(self) -> str:
        prefix = f"{self.where}: " if self.where else ""
        return f"{prefix}{self.field}: {self.problem}"


class CellstreamError(Exception):
    """Base of every error Cellstream raises on purpose."""

    status = 500
    token = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryableError(CellstreamError):
    """Mixin-like base: doing the same thing again later may succeed."""


class InvalidInput(CellstreamError):
    status = 422
    token = "ValidationFailed"

    def __init__(self, problems: list[FieldProblem] | FieldProblem) -> None:
        self.problems = problems if isinstance(problems, list) else [problems]
        super().__init__("; ".join(str(p) for p in self.problems))

    @classmethod
    def of(cls, field: str, problem: str, where: str = "") -> Self:
        return cls(FieldProblem(field, problem, where))


class BadParameter(InvalidInput):
    status = 400
    token = "BadRequest"


class Unprocessable(InvalidInput):
    status = 422
    token = "UnprocessableEntity"


class NotFound(CellstreamError):
    status = 404
    token = "InvalidReference"


class Conflict(CellstreamError):
    status = 409
    token = "Conflict"


class AuthenticationFailed(CellstreamError):
    status = 401
    token = "Unauthorized"


class TooManyFailures(AuthenticationFailed):
    token = "TooManyRequests"


class Forbidden(CellstreamError):
    status = 403
    token = "Forbidden"


class PayloadTooLarge(CellstreamError):
    status = 413
    token = "PayloadTooLarge"


class StoreError(CellstreamError):
    status = 503
    token = "StoreError"


class StoreUnavailable(StoreError, RetryableError):
    pass


class StoreCorrupt(StoreError):
    status = 500
