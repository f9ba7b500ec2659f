"""How a request to an API callback is signed (facts §F, §K.29), shared by the WEBHOOK automation action and
the SMS callbacks of service profiles so that a receiver verifies both the same way.

emnify documents only that callback requests carry "a JWT signed with the api_secret" in `Authorization`;
the Data Streamer's webhook signs per Standard Webhooks. A signed request carries both:
- `webhook-id` / `webhook-timestamp` / `webhook-signature` (Standard Webhooks), keyed with the secret's
  UTF-8 bytes (not a `whsec_` base64 key: emnify secrets are free text);
- `Authorization: Bearer <JWT>`, HS256 with the secret; claims iss "cellstream", iat, exp (+5 min),
  jti = the webhook-id, and `body_sha256` (hex), which binds the token to this body.

Pure computation (no I/O), so the domain can use it without an HTTP client.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import msgspec
from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS
from standardwebhooks.webhooks import Webhook

JWT_LIFETIME_S = 300
JWT_ISSUER = "cellstream"


class _AnyLengthHMAC(HMACAlgorithm):
    """HS256 keyed with whatever secret the organisation chose. emnify accepts short api_secrets; pyjwt
    would warn on each of them (an error under the test suite's warning policy) and the warning could
    only be silenced through process-wide warning filters, which are not safe with other threads."""

    def check_key_length(self, key: bytes) -> str | None:
        return None


_JWS = PyJWS(algorithms=[])
_JWS.register_algorithm("HS256", _AnyLengthHMAC(HMACAlgorithm.SHA256))


def bearer_token(secret: str, jti: str, body: bytes, now_s: int) -> str:
    """The JWT of the Authorization header."""
    claims = {"iss": JWT_ISSUER, "iat": now_s, "exp": now_s + JWT_LIFETIME_S, "jti": jti,
              "body_sha256": hashlib.sha256(body).hexdigest()}
    return _JWS.encode(msgspec.json.encode(claims), secret, algorithm="HS256", headers={"typ": "JWT"})


def signed_headers(message_id: str, body: bytes, now: datetime, secret: str | None) -> dict[str, str]:
    """The headers of a callback request with JSON `body`: always the content type, `webhook-id` (stable
    across retries, so receivers deduplicate) and `webhook-timestamp`; the two signatures when `secret` is
    set. `now` must be timezone-aware."""
    now_s = int(now.timestamp())
    headers = {"Content-Type": "application/json", "webhook-id": message_id,
               "webhook-timestamp": str(now_s)}
    if secret is not None:
        headers["webhook-signature"] = Webhook(secret.encode()).sign(message_id, now, body.decode())
        headers["Authorization"] = f"Bearer {bearer_token(secret, message_id, body, now_s)}"
    return headers
