"""Whole syncs into a Google Sheet and Drive folder: the fake Google, the DigitalOcean simulator."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

import pytest

from api import connections
from api.archive.drive import KEY_PROPERTY
from api.destinations import remember_login
from api.factory import Services, build
from api.google.credentials import SCOPES
from api.settings import Settings
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator
from tests.fakes.google import FakeGoogle

NAME = "acme"
REFRESH = "fake-refresh"
LINK_COLUMNS = ("PDF", "CSV", "Synced At")


@pytest.fixture
def google_settings(
    settings: Settings, do_sim: DigitalOceanSimulator, fake_google: FakeGoogle
) -> Settings:
    return replace(
        settings,
        digitalocean_api_url=do_sim.url,
        google_sheets_api_url=fake_google.url,
        google_drive_api_url=fake_google.url,
        google_oauth_token_uri=fake_google.url + "/token",
    )


@pytest.fixture
def services(google_settings: Settings, fake_google: FakeGoogle) -> Services:
    """A signed-in user whose connection writes to their own Sheet and Drive folder."""
    built = build(google_settings)
    grant = {
        "type": "authorized_user",
        "client_id": "cid",
        "client_secret": "cs",
        "refresh_token": REFRESH,
        "token_uri": google_settings.google_oauth_token_uri,
        "scopes": list(SCOPES),
    }  # what `billsync google login` stores
    ref = built.secrets.put("google-oauth", json.dumps(grant))
    remember_login(google_settings, ref)
    book = fake_google.sheets.create()  # type: ignore[attr-defined]
    root = fake_google.drive.add_folder("Bookkeeping")  # type: ignore[attr-defined]
    connections.connect(
        state=built.state, secrets=built.secrets, providers=built.provider,
        provider="digitalocean", name=NAME, token=DEMO_TOKEN,
        options={"sheet": book.id, "drive_folder": root, "google_credentials": "user",
                 "google_ref": ref},
    )  # fmt: skip
    return built


def sheet(services: Services) -> Any:
    connection = services.state.get_connection(NAME)
    return services.engine.destinations(connection).sink


def ledger(sink: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        tab: [{k: v for k, v in row.items() if k not in LINK_COLUMNS} for row in sink.rows(tab)]
        for tab in ("Invoices", "Line Items")
    }


def test_sheet_and_drive_hold_the_same_ledger_as_the_workbook(
    services: Services, fake_google: FakeGoogle, tmp_path: Any, google_settings: Settings
) -> None:
    run = services.engine.sync(NAME)
    assert run.status == "succeeded", run.message

    local = build(
        replace(
            google_settings, home=tmp_path / "local", database_url=f"sqlite:///{tmp_path}/local.db"
        )
    )
    connections.connect(
        state=local.state,
        secrets=local.secrets,
        providers=local.provider,
        provider="digitalocean",
        name=NAME,
        token=DEMO_TOKEN,
    )
    assert local.engine.sync(NAME).status == "succeeded"
    assert ledger(sheet(services)) == ledger(local.sink)

    finals = [r for r in sheet(services).rows("Invoices") if r["Status"] != "Preview"]
    uploads = fake_google.drive.uploaded()  # type: ignore[attr-defined]
    assert len(uploads) == 2 * len(finals)
    keys = {u["appProperties"][KEY_PROPERTY] for u in uploads}
    assert keys == {r["Invoice Key"] for r in finals}
    assert all(r["PDF"].startswith("https://") for r in finals)


def test_rerun_with_nothing_new_makes_no_google_call_that_writes(
    services: Services, fake_google: FakeGoogle
) -> None:
    services.engine.sync(NAME)
    fake_google.calls.clear()

    run = services.engine.sync(NAME)

    assert run.status == "succeeded" and run.counts.new == run.counts.updated == 0
    assert fake_google.calls.writes() == []
    assert fake_google.calls.of("drive.files.create") == []


def test_a_changed_preview_is_one_batch_write_plus_the_summary_and_run_row(
    services: Services, fake_google: FakeGoogle, do_sim: DigitalOceanSimulator
) -> None:
    services.engine.sync(NAME)
    fake_google.calls.clear()
    do_sim.touch_preview()

    run = services.engine.sync(NAME)

    assert run.counts.updated == 1
    writes = [c.method_id for c in fake_google.calls.writes()]
    assert writes == ["sheets.spreadsheets.batchUpdate"] * 3  # rows, Summary, run row
    reads = [c.method_id for c in fake_google.calls.reads()]
    # at the start: is the Sheet in the Drive trash, is every indexed invoice in it; then one
    # read right before the write (rows are addressed by position: a person may move them);
    # then the Summary rebuild: the tabs, the Clients rules, the lines, the tabs again
    assert reads == ["drive.files.get"] + ["sheets.spreadsheets.getByDataFilter"] * 2 + [
        "sheets.spreadsheets.get", "sheets.spreadsheets.values.batchGet",
        "sheets.spreadsheets.values.batchGet", "sheets.spreadsheets.get",
    ]  # fmt: skip
    previews = [r for r in sheet(services).rows("Invoices") if r["Status"] == "Preview"]
    assert len(previews) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", r".*:batchUpdate$"),
        ("POST", r"^/upload/drive/v3/files$"),
        ("POST", r"^/drive/v3/files$"),
    ],
)
def test_a_write_applied_but_unanswered_never_duplicates(
    services: Services, fake_google: FakeGoogle, method: str, path: str
) -> None:
    fake_google.faults.add("drop_after_apply", method=method, path_regex=path, times=3)
    services.engine.sync(NAME)  # may fail or recover by itself; either way:
    assert services.engine.sync(NAME).status == "succeeded"
    assert len([c for c in fake_google.calls if c.dropped]) == 3  # the faults really fired

    rows = sheet(services).rows("Invoices")
    assert len({r["Invoice Key"] for r in rows}) == len(rows)
    lines = sheet(services).rows("Line Items")
    assert len({r["Line Key"] for r in lines}) == len(lines)
    uploads = fake_google.drive.uploaded()  # type: ignore[attr-defined]
    names = [u["name"] for u in uploads]
    assert len(names) == len(set(names)) == 2 * sum(r["Status"] != "Preview" for r in rows)


def test_a_sheet_that_is_gone_fails_the_run_clearly(
    services: Services, fake_google: FakeGoogle
) -> None:
    fake_google.faults.add("404", path_regex=r"^/v4/spreadsheets/", times=50)
    run = services.engine.sync(NAME)
    assert run.status == "failed" and "not found" in run.message
    assert services.state.list_runs(NAME)[0].status == "failed"


def test_a_revoked_google_grant_asks_to_sign_in_again(
    services: Services, fake_google: FakeGoogle
) -> None:
    fake_google.oauth.revoke(REFRESH)  # type: ignore[attr-defined]
    run = services.engine.sync(NAME)
    assert run.status == "failed" and "billsync google login" in run.message
    assert services.state.list_runs(NAME)[0].id == run.id


def test_no_token_in_any_cell_call_or_log(
    services: Services, fake_google: FakeGoogle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="billsync")
    services.engine.sync(NAME)
    for tab in ("Invoices", "Line Items", "Runs"):
        text = json.dumps(sheet(services).rows(tab), default=str)
        assert DEMO_TOKEN not in text and REFRESH not in text
    bodies = json.dumps([c.body for c in fake_google.calls], default=str)
    assert DEMO_TOKEN not in bodies
    assert DEMO_TOKEN not in caplog.text and REFRESH not in caplog.text
