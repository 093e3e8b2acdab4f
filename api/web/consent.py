"""Google consent, web-server flow (google-auth-oauthlib): offline access, PKCE, two scopes.

`start` issues a single-use `state` bound to the signed-in user (its `sub`) with the PKCE
verifier, kept server-side for `ttl` seconds; `finish` takes that state once, exchanges the
code, asks Google's tokeninfo endpoint whose grant it is (the consenting account must be the
ID token's `sub`), and stores the refresh token in the SecretStore. Sources:
developers.google.com/identity/protocols/oauth2/web-server, RFC 7636 (PKCE).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

import httpx
from google_auth_oauthlib.flow import Flow

from api import logs
from api.errors import Forbidden, InvalidRequest, NotConfigured, RetriableSinkError
from api.google.credentials import SCOPES
from api.ports import SecretStore, utcnow
from api.web.accounts import AccountStore, PendingConsent
from api.web.config import OAuthClient

log = logs.get("web.consent")


def not_configured() -> NotConfigured:
    return NotConfigured(
        "Google sign-in is not set up on this service.",
        code="google_oauth_not_configured",
        action="Set BILLSYNC_GOOGLE_CLIENT_ID and BILLSYNC_GOOGLE_CLIENT_SECRET (or a client "
        "secrets file) and restart it.",
    )


class Consent:
    """The consent flow for one OAuth web client."""

    def __init__(
        self,
        *,
        client: OAuthClient | None,
        accounts: AccountStore,
        secrets_store: SecretStore,
        tokeninfo_uri: str,
        ttl: int,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._client = client
        self._accounts = accounts
        self._secrets = secrets_store
        self._tokeninfo_uri = tokeninfo_uri
        self._ttl = ttl
        self._clock = clock

    def start(self, subject: str, redirect_uri: str) -> str:
        """The consent URL for `subject`; its state is good once, for `ttl` seconds."""
        flow = self._flow(redirect_uri, code_verifier=None)
        state = secrets.token_urlsafe(32)
        url, _ = flow.authorization_url(
            access_type="offline",
            prompt="consent",  # Google returns a refresh token only on explicit consent
            state=state,
            login_hint=subject,  # Google accepts the `sub` as a hint for the right account
        )
        expires = self._clock() + dt.timedelta(seconds=self._ttl)
        self._accounts.save_state(state, PendingConsent(subject, flow.code_verifier, expires))
        return str(url)

    def finish(self, code: str, state: str, redirect_uri: str) -> str:
        """Exchange `code`; returns the subject whose grant was stored."""
        pending = self._accounts.take_state(state) if state else None
        if pending is None:
            raise InvalidRequest(
                "This sign-in link was already used or is unknown.",
                action="Start again from the sidebar's 'Connect Google' button.",
            )
        if self._clock() >= pending.expires_at:
            raise InvalidRequest(
                "This sign-in link has expired.",
                action="Start again from the sidebar's 'Connect Google' button.",
            )
        if not code:
            raise Forbidden("Google access was not granted.", action="Try again and click Allow.")
        credentials = self._exchange(code, redirect_uri, pending.code_verifier)
        if self._grant_owner(credentials.token) != pending.subject:
            raise Forbidden(
                "You approved access with a different Google account than the one signed in "
                "to the sheet.",
                action="Start again and choose the account you use in Google Sheets.",
            )
        self._store(pending.subject, credentials)
        return pending.subject

    def _flow(self, redirect_uri: str, code_verifier: str | None) -> Flow:
        if self._client is None:
            raise not_configured()
        config = {"web": {
            "client_id": self._client.client_id, "client_secret": self._client.client_secret,
            "auth_uri": self._client.auth_uri, "token_uri": self._client.token_uri,
        }}  # fmt: skip
        return Flow.from_client_config(
            config,
            scopes=list(SCOPES),
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            autogenerate_code_verifier=code_verifier is None,
        )

    def _exchange(self, code: str, redirect_uri: str, verifier: str) -> Any:
        flow = self._flow(redirect_uri, verifier)
        try:
            flow.fetch_token(code=code)
        except Exception as exc:  # oauthlib raises many types; none may leak the code
            log.warning("consent code exchange failed: %s", type(exc).__name__)
            raise Forbidden(
                "Google did not accept this sign-in (it may have been used already).",
                action="Start again from the sidebar's 'Connect Google' button.",
            ) from None
        credentials = flow.credentials
        granted = set(credentials.granted_scopes or credentials.scopes or ())
        if not credentials.refresh_token or not set(SCOPES) <= granted:
            raise Forbidden(
                "Google access was granted without offline access to Sheets and Drive files.",
                action="Start again and tick every requested permission.",
            )
        return credentials

    def _grant_owner(self, access_token: str) -> str:
        """The `sub` of the account that granted `access_token` (Google's tokeninfo)."""
        try:
            response = httpx.post(
                self._tokeninfo_uri, data={"access_token": access_token}, timeout=10.0
            )
            response.raise_for_status()
            return str(response.json().get("sub", ""))
        except (httpx.HTTPError, ValueError, AttributeError):
            raise RetriableSinkError(
                "Google could not confirm which account approved access.",
                action="Try again in a minute.",
            ) from None

    def _store(self, subject: str, credentials: Any) -> None:
        assert self._client is not None
        grant = json.dumps({
            "type": "authorized_user", "client_id": self._client.client_id,
            "client_secret": self._client.client_secret,
            "refresh_token": credentials.refresh_token, "token_uri": self._client.token_uri,
            "scopes": list(SCOPES),
        })  # fmt: skip
        # The secret's name carries no personal data: a digest of the subject.
        name = "google-user--" + hashlib.sha256(subject.encode()).hexdigest()[:32]
        ref = self._secrets.put(name, grant, labels={"kind": "google-grant"})
        replaced = self._accounts.set_grant(subject, ref)
        if replaced:
            self._secrets.delete(replaced)
