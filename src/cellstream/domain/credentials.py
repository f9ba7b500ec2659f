"""Secrets at rest: password and token hashing, and the opaque format of issued tokens.

Application and service tokens are one opaque URL-safe string that carries a kind byte, the token's id
(so verification is one look-up, not a scan) and 32 random bytes. Only an argon2 hash of those bytes is
stored, so a leaked database does not leak usable tokens.

Passwords arrive from emnify clients as the lowercase SHA-1 hex digest of the password; the digest is what
gets hashed with argon2, so the server never sees or keeps the plain password either way.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

APPLICATION, SERVICE = 1, 2  # the kind byte: an application token never passes as a service token
_SECRET_BYTES = 32
_LENGTH = 1 + 8 + _SECRET_BYTES


def default_hasher() -> PasswordHasher:
    """argon2id with OWASP's minimum (19 MiB, 2 passes): ~50 ms, paid only when logging in."""
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def sha1_hex(plain: str) -> str:
    """What an emnify client sends as `password`."""
    return hashlib.sha1(plain.encode()).hexdigest()


class SecretHasher:
    """argon2 hashing off the event loop: each call costs tens of milliseconds of CPU, and argon2-cffi
    releases the GIL, so a worker thread keeps the loop serving other requests meanwhile."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher
        # Verified against when a username is unknown, so that answer takes as long as a wrong password.
        # Made on first need: building it at start-up would slow every CLI command.
        self._decoy = ""

    async def hash(self, secret: str | bytes) -> str:
        return await asyncio.to_thread(self._hasher.hash, secret)

    async def verify(self, stored_hash: str | None, secret: str | bytes) -> bool:
        if stored_hash is None and not self._decoy:
            self._decoy = await self.hash(secrets.token_hex(20))
        try:
            return await asyncio.to_thread(self._hasher.verify, stored_hash or self._decoy, secret)
        except (VerificationError, InvalidHashError):
            return False


def new_secret() -> bytes:
    return secrets.token_bytes(_SECRET_BYTES)


def format_token(kind: int, token_id: int, secret: bytes) -> str:
    raw = bytes([kind]) + token_id.to_bytes(8, "big") + secret
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_token(kind: int, token: str) -> tuple[int, bytes] | None:
    """(id, secret) of a token of this kind, or None when it is not one we could have issued."""
    if not 40 <= len(token) <= 80:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _LENGTH or raw[0] != kind:
        return None
    return int.from_bytes(raw[1:9], "big"), raw[9:]
