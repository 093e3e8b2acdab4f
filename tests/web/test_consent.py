"""Google consent, web-server flow: PKCE, offline, single-use state bound to the user."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import flask
import pytest

from api.settings import Settings
from api.web import create_app
from api.web.config import WebSettings
from tests.fakes.google import FakeGoogle
from tests.web.conftest import OAUTH_CLIENT, bearer
from tests.web.tokens import Issuer

SCOPES = {"https://www.googleapis.com/auth/spreadsheets",
          "https://www.googleapis.com/auth/drive.file"}  # fmt: skip


def start(client: Any, issuer: Issuer, sub: str = "1001") -> dict[str, str]:
    response = client.post("/v1/oauth/google/start", headers=bearer(issuer.user(sub=sub)))
    assert response.status_code == 200
    url = response.get_json()["url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    return query


def approve(fake_google: FakeGoogle, query: dict[str, str], subject: str) -> str:
    """The person clicks Allow on Google's page, signed in as `subject`."""
    return str(fake_google.oauth.approve(  # type: ignore[attr-defined]
        query["client_id"], query["scope"], query["redirect_uri"],
        query.get("code_challenge"), subject=subject,
    ))  # fmt: skip


def callback(client: Any, code: str, state: str) -> Any:
    return client.get(f"/oauth/google/callback?code={code}&state={state}")


def test_consent_url_asks_offline_pkce_and_only_two_scopes(client: Any, issuer: Issuer) -> None:
    query = start(client, issuer)
    assert query["client_id"] == OAUTH_CLIENT[0]
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert set(query["scope"].split()) == SCOPES
    assert query["redirect_uri"] == "https://billsync.test/oauth/google/callback"
    assert query["login_hint"] == "1001"


def test_consent_stores_the_grant_and_me_says_connected(
    client: Any, issuer: Issuer, fake_google: FakeGoogle, app: flask.Flask, log_lines: list[str]
) -> None:
    query = start(client, issuer)
    code = approve(fake_google, query, "1001")
    page = callback(client, code, query["state"])
    assert page.status_code == 200 and "Google is connected" in page.get_data(as_text=True)
    me = client.get("/v1/me", headers=bearer(issuer.user()))
    assert me.get_json()["google"] == {"connected": True}
    refresh = fake_google.oauth.refresh_tokens()  # type: ignore[attr-defined]
    assert len(refresh) == 1
    services = app.extensions["billsync"].services
    ref = app.extensions["billsync"].accounts.grant_ref("1001")
    assert json.loads(services.secrets.get(ref))["refresh_token"] == refresh[0]
    assert not any(refresh[0] in line or code in line for line in log_lines)
    assert not any("state=" in line for line in log_lines)  # no query strings in request logs


def test_a_replayed_state_is_refused(client: Any, issuer: Issuer, fake_google: FakeGoogle) -> None:
    query = start(client, issuer)
    assert callback(client, approve(fake_google, query, "1001"), query["state"]).status_code == 200
    again = callback(client, approve(fake_google, query, "1001"), query["state"])
    assert again.status_code == 400
    assert "already used" in again.get_data(as_text=True)


def test_an_expired_state_is_refused(
    web_app_settings: Settings, web_settings: WebSettings, issuer: Issuer,
    fake_google: FakeGoogle, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    from dataclasses import replace

    app = create_app(web_app_settings, replace(web_settings, oauth_state_ttl=0))
    client = app.test_client()
    query = start(client, issuer)
    page = callback(client, approve(fake_google, query, "1001"), query["state"])
    assert page.status_code == 400 and "expired" in page.get_data(as_text=True)
    assert fake_google.oauth.refresh_tokens() == []  # type: ignore[attr-defined]


def test_a_different_consenting_account_is_refused(
    client: Any, issuer: Issuer, fake_google: FakeGoogle
) -> None:
    query = start(client, issuer, sub="1001")
    page = callback(client, approve(fake_google, query, "2002"), query["state"])
    assert page.status_code == 403
    assert "different Google account" in page.get_data(as_text=True)
    me = client.get("/v1/me", headers=bearer(issuer.user()))
    assert me.get_json()["google"] == {"connected": False}


def test_a_state_is_bound_to_the_user_who_started(
    client: Any, issuer: Issuer, fake_google: FakeGoogle
) -> None:
    """Bob finishing Ann's consent link with his own account does not connect anyone."""
    query = start(client, issuer, sub="1001")
    page = callback(client, approve(fake_google, query, "3003"), query["state"])
    assert page.status_code == 403
    for sub in ("1001", "3003"):
        me = client.get("/v1/me", headers=bearer(issuer.user(sub=sub)))
        assert me.get_json()["google"] == {"connected": False}


def test_an_unknown_state_and_a_cancel(client: Any, issuer: Issuer) -> None:
    assert callback(client, "4/0Afake", "made-up").status_code == 400
    query = start(client, issuer)
    cancelled = client.get(f"/oauth/google/callback?error=access_denied&state={query['state']}")
    assert cancelled.status_code == 200 and "did not allow" in cancelled.get_data(as_text=True)
    assert callback(client, "4/0Afake", query["state"]).status_code == 400  # state is gone


def test_without_an_oauth_client_consent_answers_503(
    web_app_settings: Settings, web_settings: WebSettings, issuer: Issuer
) -> None:
    from dataclasses import replace

    app = create_app(web_app_settings, replace(web_settings, oauth_client=None))
    response = app.test_client().post("/v1/oauth/google/start", headers=bearer(issuer.user()))
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "google_oauth_not_configured"
    assert app.test_client().get("/healthz").status_code == 200


def test_a_state_is_taken_once() -> None:
    from api.web.accounts import AccountStore, PendingConsent

    now = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
    store = AccountStore("sqlite://", clock=lambda: now)
    store.save_state("s1", PendingConsent("1001", "v" * 43, now + dt.timedelta(seconds=600)))
    taken = store.take_state("s1")
    assert taken is not None and taken.subject == "1001"
    assert store.take_state("s1") is None
