"""Fake Google OAuth token endpoint: code exchange (with PKCE), refresh, JWT bearer, revocation."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import flask

from tests.fakes.google import FakeGoogle

TOKEN_PATH = "/token"
# What the tests' static credentials carry (see google_common.md): accepted from the start.
DEFAULT_CLIENT = ("cid", "cs")
DEFAULT_REFRESH = "fake-refresh"
DEFAULT_ACCESS = "fake-access"


@dataclass
class Grant:
    client_id: str
    scopes: tuple[str, ...]
    revoked: bool = False
    subject: str = ""  # the Google account (`sub`) that consented


@dataclass
class Pending:
    """A consent the user gave: the code Google put in the loopback redirect."""

    client_id: str
    scopes: tuple[str, ...]
    redirect_uri: str
    code_challenge: str | None
    subject: str = ""


@dataclass
class OAuthState:
    clients: dict[str, str] = field(default_factory=lambda: dict([DEFAULT_CLIENT]))
    codes: dict[str, Pending] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)  # refresh token -> grant
    access: dict[str, str] = field(default_factory=dict)  # access token -> refresh token | ""
    service_accounts: list[str] = field(default_factory=list)  # iss of accepted assertions
    _serial: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.grants[DEFAULT_REFRESH] = Grant(DEFAULT_CLIENT[0], ())
        self.access[DEFAULT_ACCESS] = DEFAULT_REFRESH

    def approve(
        self,
        client_id: str,
        scopes: str | tuple[str, ...],
        redirect_uri: str,
        code_challenge: str | None = None,
        subject: str = "",
    ) -> str:
        """The user (Google account `subject`) clicked Allow: a one-shot code for the redirect."""
        if isinstance(scopes, str):
            scopes = tuple(scopes.split())
        code = "4/0A" + secrets.token_urlsafe(24)
        self.codes[code] = Pending(client_id, tuple(scopes), redirect_uri, code_challenge,
                                   subject)  # fmt: skip
        return code

    def subject_of(self, access_token: str) -> str:
        """The account an access token acts for ("" for service accounts and unknown tokens)."""
        source = self.access.get(access_token)
        grant = self.grants.get(source) if source else None
        return grant.subject if grant is not None and not grant.revoked else ""

    def revoke(self, refresh_token: str) -> None:
        """The user removed the app's access (or the 7-day testing-mode grant expired)."""
        self.grants[refresh_token].revoked = True
        for token, source in list(self.access.items()):
            if source == refresh_token:
                del self.access[token]

    def expire_access_tokens(self) -> None:
        self.access.clear()

    def is_valid_access(self, token: str) -> bool:
        source = self.access.get(token)
        if source is None:
            return False
        return source == "" or not self.grants[source].revoked

    def refresh_tokens(self) -> list[str]:
        return [token for token in self.grants if token != DEFAULT_REFRESH]

    def _issue(self, source: str) -> str:
        token = f"ya29.fake-{next(self._serial)}-{secrets.token_urlsafe(12)}"
        self.access[token] = source
        return token


def _error(status: int, error: str, description: str) -> flask.Response:
    # The token endpoint speaks RFC 6749 errors, not the APIs' {"error": {...}} shape.
    body = json.dumps({"error": error, "error_description": description}, indent=2)
    return flask.Response(body, status=status, content_type="application/json; charset=utf-8")


def _tokens(state: OAuthState, refresh: str, scopes: tuple[str, ...], *, new: bool) -> Any:
    answer: dict[str, Any] = {
        "access_token": state._issue(refresh),
        "expires_in": 3599,
        "scope": " ".join(scopes),
        "token_type": "Bearer",
    }
    if new:
        answer["refresh_token"] = refresh
    return answer


def _exchange_code(state: OAuthState, form: Any) -> Any:
    pending = state.codes.pop(form.get("code", ""), None)
    if pending is None:
        return _error(400, "invalid_grant", "Malformed auth code.")
    if form.get("client_id") != pending.client_id:
        return _error(400, "invalid_grant", "Bad Request")
    if form.get("redirect_uri") != pending.redirect_uri:
        return _error(400, "redirect_uri_mismatch", "Bad Request")
    if pending.code_challenge is not None:
        verifier = form.get("code_verifier", "").encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if digest.decode() != pending.code_challenge:
            return _error(400, "invalid_grant", "Invalid code verifier.")
    refresh = "1//0g" + secrets.token_urlsafe(32)
    state.grants[refresh] = Grant(pending.client_id, pending.scopes, subject=pending.subject)
    return _tokens(state, refresh, pending.scopes, new=True)


def _refresh(state: OAuthState, form: Any) -> Any:
    grant = state.grants.get(form.get("refresh_token", ""))
    if grant is None or grant.revoked or grant.client_id != form.get("client_id"):
        return _error(400, "invalid_grant", "Token has been expired or revoked.")
    return _tokens(state, form["refresh_token"], grant.scopes, new=False)


def _jwt_bearer(state: OAuthState, form: Any) -> Any:
    try:
        payload = form.get("assertion", "").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return _error(400, "invalid_grant", "Invalid JWT Signature.")
    state.service_accounts.append(str(claims.get("iss", "")))
    return {"access_token": state._issue(""), "expires_in": 3599, "token_type": "Bearer"}


def _tokeninfo(state: OAuthState, token: str) -> Any:
    """Google's tokeninfo for an access token (oauth2.googleapis.com/tokeninfo)."""
    source = state.access.get(token)
    grant = state.grants.get(source) if source else None
    if grant is None or grant.revoked:
        return _error(400, "invalid_token", "Invalid Value")
    return {"azp": grant.client_id, "aud": grant.client_id, "sub": grant.subject,
            "scope": " ".join(grant.scopes), "exp": "1999999999", "expires_in": "3599",
            "access_type": "offline"}  # fmt: skip


def register(fake: FakeGoogle) -> None:
    state = OAuthState()
    fake.oauth = state  # type: ignore[attr-defined]
    fake.authorize = state.is_valid_access
    fake.subject_of = state.subject_of  # type: ignore[attr-defined]

    @fake.api_route("oauth2.tokeninfo", rule="/tokeninfo", methods=["GET", "POST"], auth=False)
    def tokeninfo() -> Any:
        values = flask.request.values
        return _tokeninfo(state, values.get("access_token", ""))

    @fake.api_route("oauth2.token", rule=TOKEN_PATH, methods=["POST"], auth=False)
    def token() -> Any:
        form = dict(flask.request.form.items())
        basic = flask.request.authorization  # client_secret_basic, as requests-oauthlib sends
        if basic is not None and basic.type == "basic":
            form.setdefault("client_id", basic.username or "")
            form.setdefault("client_secret", basic.password or "")
        client_secret = state.clients.get(form.get("client_id", ""))
        grant_type = form.get("grant_type", "")
        if grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _jwt_bearer(state, form)
        if client_secret is None or form.get("client_secret") != client_secret:
            return _error(401, "invalid_client", "The OAuth client was not found.")
        if grant_type == "authorization_code":
            return _exchange_code(state, form)
        if grant_type == "refresh_token":
            return _refresh(state, form)
        return _error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
