"""`billsync serve`'s local mode: a per-home key, loopback Host only, the "local" spreadsheet."""

from __future__ import annotations

import json
import stat
from typing import Any

import pytest

from api.settings import Settings
from api.web import create_app
from api.web.config import WebSettings
from api.web.local import KEY_FILE, local_key
from tests.web.conftest import bearer


@pytest.fixture
def local_client(settings: Settings) -> Any:
    return create_app(settings, WebSettings(auth="local")).test_client()


def test_the_key_is_random_per_home_and_0600(settings: Settings, tmp_path: Any) -> None:
    key = local_key(settings.home, None)
    path = settings.home / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_key(settings.home, None) == key and len(key) >= 40
    assert local_key(tmp_path / "other", None) != key
    assert local_key(settings.home, "from-env") == "from-env"


def test_the_key_is_required(local_client: Any, settings: Settings) -> None:
    key = (settings.home / KEY_FILE).read_text().strip()
    assert local_client.get("/v1/me").status_code == 401
    assert local_client.get("/v1/me", headers=bearer("wrong")).status_code == 401
    ok = local_client.get("/v1/me", headers=bearer(key))
    assert ok.status_code == 200 and ok.get_json()["google"] == {"connected": False}


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.nip.io",
                                  "10.0.0.5:8080"])  # fmt: skip
def test_a_foreign_host_header_is_refused(local_client: Any, settings: Settings, host: str) -> None:
    key = (settings.home / KEY_FILE).read_text().strip()
    response = local_client.get("/v1/me", headers={**bearer(key), "Host": host})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "localhost"])
def test_loopback_hosts_are_served(local_client: Any, settings: Settings, host: str) -> None:
    key = (settings.home / KEY_FILE).read_text().strip()
    assert local_client.get("/v1/me", headers={**bearer(key), "Host": host}).status_code == 200


def test_the_local_spreadsheet_is_only_for_local_mode(
    local_client: Any, settings: Settings, client: Any, issuer: Any
) -> None:
    key = (settings.home / KEY_FILE).read_text().strip()
    listed = local_client.get("/v1/spreadsheets/local/connections", headers=bearer(key))
    assert listed.status_code == 200 and listed.get_json() == {"connections": []}
    refused = client.get("/v1/spreadsheets/local/connections", headers=bearer(issuer.user()))
    assert refused.status_code == 403
    assert json.loads(refused.get_data())["error"]["code"] == "forbidden"
