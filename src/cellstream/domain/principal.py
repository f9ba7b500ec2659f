"""Who is calling: the identity a verified bearer token stands for."""

from __future__ import annotations

from dataclasses import dataclass

from cellstream.errors import Forbidden

# emnify's user roles (GET /api/v1/user/role).
ADMINISTRATOR, USER, OBSERVER = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Principal:
    """An organisation member: a user (user_id set) or an application token (app_token_id set)."""

    org_id: int
    user_id: int | None
    app_token_id: int | None
    roles: tuple[int, ...] = ()
    automation: tuple[str, str] | None = None  # (uuid, name) when an automation acts

    @classmethod
    def of_automation(cls, org_id: int, uuid: str, name: str) -> Principal:
        """An automation acting in its organisation with an Administrator's rights."""
        return cls(org_id, None, None, (ADMINISTRATOR,), (uuid, name))

    @property
    def may_administer(self) -> bool:
        """Application tokens act for the whole workspace; users need the Administrator role."""
        return self.app_token_id is not None or ADMINISTRATOR in self.roles

    def require_administrator(self, to: str) -> None:
        """Forbidden (403) unless the caller may administer; `to` ends the message ("manage automations")."""
        if not self.may_administer:
            raise Forbidden(f"only Administrators and application tokens {to}")

    @property
    def may_read_other_users(self) -> bool:
        """Reading another user's events: Administrator or Observer (emnify's OpenAPI; facts §K.12)."""
        return self.may_administer or OBSERVER in self.roles
