"""Builds what the views use from Settings and WebSettings (called by create_app only)."""

from __future__ import annotations

from typing import Any

from api.factory import Services, build, build_queue
from api.inboxes import execute_with_inbox
from api.settings import Settings
from api.web.access import SheetAccess
from api.web.accounts import AccountStore
from api.web.certs import CertCache
from api.web.config import WebSettings
from api.web.consent import Consent
from api.web.context import Verifier, WebContext
from api.web.identity import GoogleVerifier, LocalVerifier
from api.web.local import local_key


def build_context(
    settings: Settings, web: WebSettings, *, services: Services | None, queue: Any
) -> WebContext:
    services = services or build(settings)
    accounts = AccountStore(settings.database_url)
    key: str | None = None
    verifier: Verifier
    if web.auth == "local":
        key = local_key(settings.home, web.local_key)
        verifier = LocalVerifier(key)
    else:
        verifier = GoogleVerifier(web, CertCache(web.id_token_certs_url))
    token_uri = web.oauth_client.token_uri if web.oauth_client else settings.google_oauth_token_uri
    access = SheetAccess(
        accounts=accounts, secrets=services.secrets, sheets_api_url=settings.google_sheets_api_url,
        client=web.oauth_client, token_uri=token_uri, ttl=web.sheet_access_ttl,
    )  # fmt: skip
    consent = Consent(
        client=web.oauth_client, accounts=accounts, secrets_store=services.secrets,
        tokeninfo_uri=web.oauth_tokeninfo_uri, ttl=web.oauth_state_ttl,
    )  # fmt: skip
    if queue is None:  # Cloud Tasks when configured, else threads that recovered orphans
        queue = build_queue(services, lambda run_id: execute_with_inbox(services, run_id))
    return WebContext(services, web, verifier, accounts, access, consent, queue, key)
