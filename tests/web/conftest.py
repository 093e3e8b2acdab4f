"""The service under test: google mode against a local token issuer and the fake Google."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import flask
import pytest

from api import logs
from api.settings import Settings
from api.simulators.digitalocean import DigitalOceanSimulator
from api.web import create_app
from api.web.config import OAuthClient, WebSettings
from tests.fakes.google import FakeGoogle
from tests.web.tokens import ADDON_CLIENT, SCHEDULER_SA, SERVICE_URL, Issuer

OAUTH_CLIENT = ("web-client", "web-secret")


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    found.start()
    yield found
    found.stop()


@pytest.fixture
def web_settings(issuer: Issuer, fake_google: FakeGoogle) -> WebSettings:
    fake_google.oauth.clients[OAUTH_CLIENT[0]] = OAUTH_CLIENT[1]  # type: ignore[attr-defined]
    return WebSettings(
        auth="google",
        id_token_audiences=(ADDON_CLIENT,),
        id_token_certs_url=issuer.url,
        tasks_audience=SERVICE_URL,
        tasks_service_accounts=(SCHEDULER_SA,),
        oauth_client=OAuthClient(
            *OAUTH_CLIENT,
            auth_uri=f"{fake_google.url}/o/oauth2/auth",
            token_uri=f"{fake_google.url}/token",
        ),  # fmt: skip
        oauth_redirect_uri="https://billsync.test/oauth/google/callback",
        oauth_tokeninfo_uri=f"{fake_google.url}/tokeninfo",
    )


@pytest.fixture
def web_app_settings(
    settings: Settings, fake_google: FakeGoogle, do_sim: DigitalOceanSimulator
) -> Settings:
    return replace(
        settings,
        digitalocean_api_url=do_sim.url,
        google_sheets_api_url=fake_google.url,
        google_drive_api_url=fake_google.url,
        google_oauth_token_uri=f"{fake_google.url}/token",
    )


@pytest.fixture
def app(
    web_app_settings: Settings, web_settings: WebSettings, monkeypatch: pytest.MonkeyPatch
) -> flask.Flask:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake token endpoint is http
    return create_app(web_app_settings, web_settings)


@pytest.fixture
def client(app: flask.Flask) -> Any:
    return app.test_client()


class Captured(logging.Handler):
    """Every formatted log line of the `billsync` logger, as the JSON formatter writes it."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = Captured()
    logger = logging.getLogger("billsync")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
