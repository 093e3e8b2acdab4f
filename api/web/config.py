"""The service's own settings: who may call it and how Google consent is reached.

Built once (`WebSettings.from_env()` or by a test) and passed to `create_app`; nothing here
reads the environment at import time. Defaults are `billsync serve`'s: local auth on loopback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from api.errors import ConfigError

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
# PEM form (kid -> certificate): google-auth checks iat/exp only on this path, not on JWKS.
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_TOKENINFO_URI = "https://oauth2.googleapis.com/tokeninfo"
AUTH_MODES = ("local", "google")


@dataclass(frozen=True)
class OAuthClient:
    """The Google OAuth web client the consent flow uses (never logged, never returned)."""

    client_id: str
    client_secret: str
    auth_uri: str = GOOGLE_AUTH_URI
    token_uri: str = GOOGLE_TOKEN_URI

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r}, client_secret='[redacted]')"


@dataclass(frozen=True)
class WebSettings:
    """How callers are verified (seconds for every duration).

    `auth` is "local" (a per-home key, loopback only) or "google" (ID tokens for users, OIDC
    tokens for Cloud Scheduler / Cloud Tasks; Google's documents:
    developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken).
    """

    auth: str = "local"
    local_key: str | None = None  # else $BILLSYNC_HOME/serve.key (created 0600)
    id_token_issuers: tuple[str, ...] = GOOGLE_ISSUERS
    id_token_audiences: tuple[str, ...] = ()  # the add-on's OAuth client id(s)
    id_token_certs_url: str = GOOGLE_CERTS_URL
    tasks_audience: str | None = None  # the service URL Cloud Tasks / Scheduler sign for
    tasks_service_accounts: tuple[str, ...] = ()
    clock_skew: int = 10
    oauth_client: OAuthClient | None = None
    oauth_redirect_uri: str | None = None  # https://<service>/oauth/google/callback
    oauth_tokeninfo_uri: str = GOOGLE_TOKENINFO_URI
    oauth_state_ttl: int = 600
    sheet_access_ttl: int = 300  # how long a "this user can open that sheet" answer is kept
    project: str | None = None  # Google Cloud project, for log lines' trace ids

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise ConfigError(
                f"BILLSYNC_AUTH must be one of {', '.join(AUTH_MODES)}, got {self.auth!r}."
            )

    def __repr__(self) -> str:  # the local key is a credential
        return f"WebSettings(auth={self.auth!r}, audiences={self.id_token_audiences!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        env = os.environ if environ is None else environ
        return cls(
            auth=env.get("BILLSYNC_AUTH", "local"),
            local_key=env.get("BILLSYNC_LOCAL_KEY") or None,
            id_token_issuers=_list(env, "BILLSYNC_ID_TOKEN_ISSUERS") or GOOGLE_ISSUERS,
            id_token_audiences=_list(env, "BILLSYNC_ID_TOKEN_AUDIENCES"),
            id_token_certs_url=env.get("BILLSYNC_ID_TOKEN_CERTS_URL") or GOOGLE_CERTS_URL,
            tasks_audience=env.get("BILLSYNC_TASKS_AUDIENCE") or None,
            tasks_service_accounts=_list(env, "BILLSYNC_TASKS_SERVICE_ACCOUNTS"),
            oauth_client=_oauth_client(env),
            oauth_redirect_uri=env.get("BILLSYNC_OAUTH_REDIRECT_URI") or None,
            oauth_tokeninfo_uri=env.get("GOOGLE_OAUTH_TOKENINFO_URI") or GOOGLE_TOKENINFO_URI,
            project=env.get("GOOGLE_CLOUD_PROJECT") or None,
        )


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def _oauth_client(env: Mapping[str, str]) -> OAuthClient | None:
    token_uri = env.get("GOOGLE_OAUTH_TOKEN_URI") or GOOGLE_TOKEN_URI
    auth_uri = env.get("GOOGLE_OAUTH_AUTH_URI") or GOOGLE_AUTH_URI
    client_id = env.get("BILLSYNC_GOOGLE_CLIENT_ID")
    client_secret = env.get("BILLSYNC_GOOGLE_CLIENT_SECRET")
    if client_id and client_secret:
        return OAuthClient(client_id, client_secret, auth_uri, token_uri)
    path = env.get("BILLSYNC_GOOGLE_CLIENT_SECRETS")
    if not path:
        return None
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
        web = info.get("web") or info["installed"]
        return OAuthClient(web["client_id"], web["client_secret"], auth_uri, token_uri)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError(
            f"BILLSYNC_GOOGLE_CLIENT_SECRETS ({path}) is not a readable OAuth client file.",
            action="Download the 'Web application' client JSON from the Google Cloud console.",
        ) from None
