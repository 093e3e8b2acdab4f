"""Google credentials: the user's offline OAuth grant (in the SecretStore), ADC, service keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import google.auth
import google.auth.exceptions
import google.auth.transport.requests
from google.auth.credentials import Credentials as BaseCredentials
from google.oauth2 import service_account
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow

from api.errors import BillsyncError, ConfigError, RetriableSinkError, SecretError
from api.ports import SecretStore

# Only what billsync needs: the sheets it is pointed at, and files it creates (drive.file
# cannot see the rest of the user's Drive).
SCOPES: tuple[str, ...] = (
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive.file",
)
SECRET_NAME = "google-oauth"
RECONNECT = "Run `billsync google login` again."
REVOKED_MESSAGE = "Google access was revoked or expired: run `billsync google login` again."
PROMPT = "Open this address in a browser to let billsync use your Google Sheets and Drive:\n{url}"

# OAuth error codes (RFC 6749 §5.2) that mean the stored grant is dead, not the network.
_DEAD_GRANT = ("invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope")


def login_installed_app(
    client_secrets_file: Path | str,
    secrets: SecretStore,
    *,
    token_uri: str,
    open_browser: bool = True,
    name: str = SECRET_NAME,
    timeout_seconds: int | None = 300,
) -> str:
    """Run the installed-app loopback flow once and store the offline grant; returns its ref.

    The browser is sent to Google's consent page; Google redirects to a one-shot server on
    127.0.0.1 with a code, which is exchanged at `token_uri` for a refresh token.
    """
    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets_file), list(SCOPES))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Cannot read the Google OAuth client file {client_secrets_file}: "
            f"{type(exc).__name__}.",
            action="Download the 'Desktop app' OAuth client JSON from the Google Cloud console.",
        ) from None
    flow.client_config["token_uri"] = token_uri  # a setting, so a local fake can stand in
    try:
        credentials = flow.run_local_server(
            host="127.0.0.1",
            port=0,
            open_browser=open_browser,
            authorization_prompt_message=PROMPT,
            timeout_seconds=timeout_seconds,
            access_type="offline",
            prompt="consent",  # Google only returns a refresh token on explicit consent
        )
    except Exception as exc:  # oauthlib raises many types; none may leak a code or token
        raise ConfigError(
            f"Google sign-in did not complete ({type(exc).__name__}).",
            action="Run `billsync google login` again and approve the access request.",
        ) from None
    if not credentials.refresh_token:
        raise ConfigError(
            "Google did not grant offline access (no refresh token).",
            action="Run `billsync google login` again and approve the access request.",
        )
    granted = set(credentials.scopes or SCOPES)
    missing = [scope for scope in SCOPES if scope not in granted]
    if missing:
        raise ConfigError(
            f"Google access was granted without {', '.join(missing)}.",
            action="Run `billsync google login` again and tick every requested permission.",
        )
    return secrets.put(name, _grant_json(credentials, token_uri))


def _grant_json(credentials: Credentials, token_uri: str) -> str:
    # google-auth's "authorized_user" shape, so `gcloud`-style tooling can read it too.
    return json.dumps(
        {
            "type": "authorized_user",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "refresh_token": credentials.refresh_token,
            "token_uri": token_uri,
            "scopes": list(SCOPES),
        }
    )


def load_user_credentials(
    secrets: SecretStore,
    ref: str,
    *,
    token_uri: str,
    client_id: str | None = None,
    client_secret: str | None = None,
    refresh: bool = True,
) -> Credentials:
    """The user's credentials from the stored grant; refreshed now so a dead grant shows early."""
    info = _stored_grant(secrets, ref)
    credentials = Credentials(
        token=None,
        refresh_token=info["refresh_token"],
        token_uri=token_uri,
        client_id=client_id or info.get("client_id"),
        client_secret=client_secret or info.get("client_secret"),
        scopes=list(SCOPES),
    )
    if refresh:
        refresh_credentials(credentials)
    return credentials


def _stored_grant(secrets: SecretStore, ref: str) -> Mapping[str, Any]:
    try:
        info = json.loads(secrets.get(ref))
    except SecretError:
        raise
    except (ValueError, TypeError):
        raise SecretError("The stored Google grant is unreadable.", action=RECONNECT) from None
    if not isinstance(info, dict) or not info.get("refresh_token"):
        raise SecretError("The stored Google grant has no refresh token.", action=RECONNECT)
    return info


def refresh_credentials(credentials: BaseCredentials) -> None:
    """Fetch a fresh access token; a revoked grant becomes a clear 'reconnect Google' error."""
    try:
        credentials.refresh(google.auth.transport.requests.Request())
    except google.auth.exceptions.GoogleAuthError as exc:
        raise google_auth_error(exc) from None


def google_auth_error(exc: Exception) -> BillsyncError:
    """Map a google-auth failure to our tree; never carries the token endpoint's body."""
    if isinstance(exc, google.auth.exceptions.RefreshError):
        if _is_dead_grant(exc):
            return ConfigError(REVOKED_MESSAGE)
        if getattr(exc, "retryable", False):
            return RetriableSinkError(
                "Google's sign-in service did not answer; the next run will try again."
            )
        return ConfigError("Google refused to refresh the access token.", action=RECONNECT)
    if isinstance(exc, google.auth.exceptions.TransportError):
        return RetriableSinkError(
            "Google's sign-in service is unreachable; the next run will try again."
        )
    return ConfigError(
        f"Google credentials are not usable ({type(exc).__name__}).", action=RECONNECT
    )


def _is_dead_grant(exc: google.auth.exceptions.RefreshError) -> bool:
    text = " ".join(str(arg) for arg in exc.args)
    return any(code in text for code in _DEAD_GRANT)


def service_account_credentials(
    path: Path | str, *, token_uri: str | None = None, subject: str | None = None
) -> BaseCredentials:
    """A service account key file: only for Shared Drives (it cannot own My Drive files)."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
        if token_uri:
            info["token_uri"] = token_uri
        credentials = service_account.Credentials.from_service_account_info(
            info, scopes=list(SCOPES), subject=subject
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"Cannot use the service account file {path} ({type(exc).__name__}).",
            action="Point --service-account at a JSON key downloaded from IAM.",
        ) from None
    return credentials


def default_credentials() -> BaseCredentials:
    """Application Default Credentials (Cloud Run identity, `gcloud auth application-default`)."""
    try:
        credentials, _project = google.auth.default(scopes=list(SCOPES))
    except google.auth.exceptions.DefaultCredentialsError:
        raise ConfigError(
            "No Google Application Default Credentials were found.",
            action="Run `billsync google login` (your own account) or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service account key for a Shared Drive.",
        ) from None
    return credentials
