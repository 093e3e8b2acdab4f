"""Who is calling: Google ID tokens (users), Google OIDC tokens (Scheduler / Tasks), a local key.

google-auth's `jwt.decode` checks the signature, `iat`, `exp` and `aud`; the rest of Google's
list (developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken) is
checked here: `iss`, `email_verified`, a sane lifetime, and which audience makes a token a
user's or a task's. Missing, malformed, expired or foreign tokens -> Unauthenticated (401);
a valid token of the wrong kind or an identity not allowed -> Forbidden (403).
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import google.auth.exceptions
from google.auth import jwt

from api.errors import Forbidden, Unauthenticated
from api.web.certs import CertCache
from api.web.config import WebSettings

MAX_LIFETIME = 86_400  # seconds; Google's ID tokens live one hour
USER, TASK, LOCAL = "user", "task", "local"


@dataclass(frozen=True)
class Caller:
    """A verified caller: `subject` is the Google account id (`sub`) or "local"."""

    kind: str  # "user" | "task" | "local"
    subject: str
    email: str = ""


def bearer(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "This request has no credentials.",
            action="Send 'Authorization: Bearer <token>'.",
        )
    return token.strip()


class GoogleVerifier:
    """Verifies Google-signed JWTs against cached certificates and the settings' rules."""

    def __init__(self, web: WebSettings, certs: CertCache) -> None:
        self.web = web
        self.certs = certs

    def caller(self, token: str, wanted: str) -> Caller:
        """The verified caller of kind `wanted` ("user" or "task") presenting `token`."""
        claims = self._claims(token)
        kind = self._kind(claims)
        if kind != wanted:
            raise Forbidden(
                f"A {kind} token cannot call this address.",
                action="Use the credential meant for this endpoint.",
            )
        email = str(claims.get("email", ""))
        if kind == USER and claims.get("email_verified") is not True:
            raise Forbidden("This Google account's email address is not verified.")
        if kind == TASK and email not in self.web.tasks_service_accounts:
            raise Forbidden("This service account may not call task endpoints.")
        return Caller(kind, str(claims["sub"]), email)

    def _claims(self, token: str) -> Mapping[str, Any]:
        audiences = list(self.web.id_token_audiences)
        if self.web.tasks_audience:
            audiences.append(self.web.tasks_audience)
        if not audiences:
            raise Unauthenticated("This service accepts no Google tokens (no audience is set).")
        try:
            certs = self.certs.get(_kid(token))
            claims = jwt.decode(
                token,
                certs=dict(certs),
                audience=audiences,
                clock_skew_in_seconds=self.web.clock_skew,
            )
        except (ValueError, google.auth.exceptions.GoogleAuthError):
            # google-auth's messages may quote claims; say only what a caller can act on.
            raise Unauthenticated(
                "The token is invalid or expired.", action="Sign in again and retry."
            ) from None
        if claims.get("iss") not in self.web.id_token_issuers:
            raise Unauthenticated("The token was not issued by an accepted issuer.")
        if int(claims.get("exp", 0)) - int(claims.get("iat", 0)) > MAX_LIFETIME:
            raise Unauthenticated("The token lives longer than Google's tokens do.")
        if not claims.get("sub"):
            raise Unauthenticated("The token names no account.")
        return claims

    def _kind(self, claims: Mapping[str, Any]) -> str:
        audience = claims.get("aud")
        return TASK if audience == self.web.tasks_audience else USER


def _kid(token: str) -> str | None:
    try:
        segment = token.split(".", 1)[0]
        header = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        kid = json.loads(header).get("kid")
    except (ValueError, TypeError, AttributeError):
        return None  # jwt.decode will refuse the token with the same error as any other
    return kid if isinstance(kid, str) else None


class LocalVerifier:
    """`billsync serve`: one random key per home; every route answers to it."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def caller(self, token: str, wanted: str) -> Caller:
        if not hmac.compare_digest(token.encode(), self._key):
            raise Unauthenticated(
                "The local key is wrong.", action="Use the URL `billsync serve` printed."
            )
        return Caller(LOCAL, "local")
