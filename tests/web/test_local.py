"""`billsync serve`'s local mode: a per-home key, loopback Host only, the "local" spreadsheet."""

from __future__ import annotations

import json
import stat
import time
from dataclasses import replace
from typing import Any

import pytest

from api.ledger.workbook.ledger import WorkbookLedger
from api.settings import Settings
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator
from api.web import create_app
from api.web.config import WebSettings
from api.web.local import KEY_FILE, local_key
from tests.fakes import invoice_pdfs
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


def test_a_service_run_also_reads_its_ledgers_pdf_inbox(
    settings: Settings, do_sim: DigitalOceanSimulator
) -> None:
    """Issue 12: the service's runs process the inbox of their ledger (here the local one)."""
    local = replace(settings, digitalocean_api_url=do_sim.url)
    app = create_app(local, WebSettings(auth="local"))
    client, key = app.test_client(), local_key(local.home, None)
    _, truth = invoice_pdfs.write(local.inbox_dir, "ruled", "hosting.pdf")
    made = client.post(
        "/v1/spreadsheets/local/connections", headers=bearer(key),
        json={"provider": "digitalocean", "name": "acme", "token": DEMO_TOKEN},
    )  # fmt: skip
    assert made.status_code == 201, made.get_data(as_text=True)
    connection_id = made.get_json()["connection"]["id"]
    run = client.post(f"/v1/connections/{connection_id}/sync", headers=bearer(key)).get_json()
    deadline = time.monotonic() + 60
    while run["run"]["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the run never ended"
        time.sleep(0.1)
        run = client.get(f"/v1/runs/{run['run']['id']}", headers=bearer(key)).get_json()
    assert run["run"]["status"] == "succeeded" and run["run"]["phase"] == "done"
    deadline = time.monotonic() + 30  # the inbox follows the sync in the same job
    while (local.inbox_dir / "hosting.pdf").exists():
        assert time.monotonic() < deadline, "the inbox was not read after the run"
        time.sleep(0.1)
    rows = WorkbookLedger(local.workbook_path).rows("Invoices")
    pdf_rows = [row for row in rows if row["Provider"] == "PDF"]
    assert [row["Invoice ID"] for row in pdf_rows] == [truth.invoice_id]
    assert len(rows) == do_sim.config.months + 1 + 1  # the API invoices (+ preview) and the PDF


def finished(client: Any, key: str, connection_id: str) -> dict[str, Any]:
    run = client.post(f"/v1/connections/{connection_id}/sync", headers=bearer(key)).get_json()
    deadline = time.monotonic() + 60
    while run["run"]["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the run never ended"
        time.sleep(0.1)
        run = client.get(f"/v1/runs/{run['run']['id']}", headers=bearer(key)).get_json()
    return dict(run["run"])


def test_a_run_that_changed_nothing_reports_no_line_items_and_a_final_phase(
    settings: Settings, do_sim: DigitalOceanSimulator
) -> None:
    local = replace(settings, digitalocean_api_url=do_sim.url)
    app = create_app(local, WebSettings(auth="local"))
    client, key = app.test_client(), local_key(local.home, None)
    made = client.post(
        "/v1/spreadsheets/local/connections", headers=bearer(key),
        json={"provider": "digitalocean", "name": "acme", "token": DEMO_TOKEN},
    )  # fmt: skip
    connection_id = made.get_json()["connection"]["id"]
    first = finished(client, key, connection_id)
    again = finished(client, key, connection_id)

    assert first["counts"]["line_items"] > 0 and first["phase"] == "done"
    assert again["status"] == "succeeded" and again["phase"] == "done"
    assert again["counts"]["new"] == again["counts"]["updated"] == 0
    assert again["counts"]["line_items"] == 0 and again["message"].startswith("Nothing new")


def test_a_demo_connection_synced_by_the_service_fails_with_what_to_do(
    settings: Settings, do_sim: DigitalOceanSimulator
) -> None:
    from api import connections
    from api.core.model import DEMO_OPTION
    from api.factory import build

    services = build(replace(settings, digitalocean_api_url=do_sim.url))
    demo = connections.connect(
        state=services.state, secrets=services.secrets, providers=services.provider,
        provider="digitalocean", name="demo-digitalocean", token=DEMO_TOKEN,
        options={DEMO_OPTION: {"months": 3, "items": 5}},
    )  # fmt: skip
    do_sim.requests.clear()
    app = create_app(settings, WebSettings(auth="local"))  # the real API URL, as `serve` has it

    run = finished(app.test_client(), local_key(settings.home, None), demo.id)

    assert run["status"] == "failed" and run["phase"] == "done"
    assert "'demo-digitalocean' is a demo connection" in run["message"]
    assert "billsync sync demo-digitalocean" in run["message"]
    assert do_sim.requests == []
