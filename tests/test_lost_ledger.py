"""The ledger and the state index disagree: billsync believes the ledger.

A ledger that is missing (the workbook file, a tab of the Sheet) is rebuilt from the provider
on the next sync, with a Runs row saying so; a damaged one is reported on every sync with a
non-zero exit and one human line, and is never overwritten.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from api import connections
from api.destinations import SPREADSHEET_MIME, remember_login
from api.factory import Services, build
from api.google.credentials import SCOPES
from api.settings import Settings
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator
from tests.fakes.google import FakeGoogle
from tests.test_cli import billsync

NAME = "acme"


def connect(services: Services, **options: Any) -> None:
    connections.connect(
        state=services.state, secrets=services.secrets, providers=services.provider,
        provider="digitalocean", name=NAME, token=DEMO_TOKEN, options=options,
    )  # fmt: skip


def ledger(sink: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        tab: [{k: v for k, v in row.items() if k != "Synced At"} for row in sink.rows(tab)]
        for tab in ("Invoices", "Line Items")
    }


# -- the workbook ---------------------------------------------------------------------------


def test_a_deleted_workbook_is_rebuilt_from_the_provider_with_a_runs_row_saying_so(
    services: Services, do_sim: DigitalOceanSimulator
) -> None:
    connect(services)
    assert services.engine.sync(NAME).status == "succeeded"
    before = ledger(services.sink)
    path = Path(services.sink.location())
    path.unlink()

    run = services.engine.sync(NAME)

    assert run.status == "succeeded", run.message
    assert run.counts.new == len(before["Invoices"])
    assert f"The ledger {path} was missing: rebuilt from the provider" in run.message
    assert f"{len(before['Invoices'])} invoices restored" in run.message
    assert ledger(services.sink) == before
    assert [r["Message"] for r in services.sink.rows("Runs")] == [run.message]
    do_sim.requests.clear()
    assert services.engine.sync(NAME).message.startswith("Nothing new")


@pytest.mark.parametrize("tab", ["Invoices", "Line Items"])
def test_a_deleted_tab_of_the_workbook_is_rebuilt(services: Services, tab: str) -> None:
    connect(services)
    services.engine.sync(NAME)
    before = ledger(services.sink)
    path = Path(services.sink.location())
    book = openpyxl.load_workbook(path)
    del book[tab]
    book.save(path)  # as a person in Excel would

    run = services.engine.sync(NAME)

    assert run.status == "succeeded" and "was missing: rebuilt" in run.message, run.message
    assert ledger(services.sink) == before


def test_rows_deleted_from_the_workbook_come_back(services: Services) -> None:
    connect(services)
    services.engine.sync(NAME)
    before = ledger(services.sink)
    path = Path(services.sink.location())
    book = openpyxl.load_workbook(path)
    book["Invoices"].delete_rows(2, 2)  # the two oldest invoices
    book.save(path)

    run = services.engine.sync(NAME)

    assert run.status == "succeeded" and run.counts.new == 2, run.message
    assert "2 invoices missing from the ledger restored from the provider" in run.message
    assert ledger(services.sink) == before


@pytest.mark.parametrize("damage", ["truncated", "not a zip"])
def test_a_damaged_workbook_fails_every_sync_and_is_left_as_it_is(
    services: Services, damage: str
) -> None:
    connect(services)
    services.engine.sync(NAME)
    path = Path(services.sink.location())
    data = path.read_bytes()
    damaged = data[: len(data) // 2] if damage == "truncated" else b"PK\x03\x04 not really"
    path.write_bytes(damaged)

    for _ in range(2):  # nothing new at the provider: still reported, every time
        run = services.engine.sync(NAME)

        assert run.status == "failed"
        assert str(path) in run.message and "backup" in run.message
        assert path.read_bytes() == damaged


def test_cli_demo_after_the_ledger_was_deleted_rebuilds_it(tmp_path: Path) -> None:
    home = tmp_path / "data"
    first = billsync(home, ["demo", "--months", "3", "--items", "5"])
    assert first.returncode == 0, first.stderr
    workbook = home / "ledger.xlsx"
    rows = len(list(openpyxl.load_workbook(workbook)["Invoices"].rows))
    workbook.unlink()

    again = billsync(home, ["demo", "--months", "3", "--items", "5"])

    assert again.returncode == 0, again.stderr
    assert "was missing: rebuilt from the provider" in again.stdout
    book = openpyxl.load_workbook(workbook)
    assert len(list(book["Invoices"].rows)) == rows
    header, *runs = list(book["Runs"].iter_rows(values_only=True))
    messages = [row[header.index("Message")] for row in runs]
    # DigitalOcean's sync starts the file again; DoiT's then finds its own rows missing from it
    assert [m for m in messages if "rebuilt" in str(m) or "restored" in str(m)] == messages[-2:]
    assert "was missing: rebuilt" in str(messages[-2])
    assert "missing from the ledger restored from the provider" in str(messages[-1])


def test_cli_sync_of_a_damaged_workbook_exits_1_with_one_human_line(
    tmp_path: Path, do_sim: DigitalOceanSimulator
) -> None:
    home = tmp_path / "home"
    env = {"DIGITALOCEAN_API_URL": do_sim.url, "DIGITALOCEAN_TOKEN": DEMO_TOKEN}
    assert billsync(home, ["connect", "digitalocean", "--name", NAME], env=env).returncode == 0
    assert billsync(home, ["sync"], env=env).returncode == 0
    workbook = home / "ledger.xlsx"
    workbook.write_bytes(workbook.read_bytes()[: workbook.stat().st_size // 2])

    for _ in range(2):
        result = billsync(home, ["sync"], env=env)

        assert result.returncode == 1
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr  # no JSON log line without -v
        assert lines[0].startswith(f"error: {NAME}: ") and str(workbook) in lines[0]


# -- the Google Sheet -----------------------------------------------------------------------


@pytest.fixture
def sheet_services(
    settings: Settings, do_sim: DigitalOceanSimulator, fake_google: FakeGoogle
) -> tuple[Services, str]:
    return google_services(settings, do_sim, fake_google)


def google_services(
    settings: Settings, do_sim: DigitalOceanSimulator, fake_google: FakeGoogle
) -> tuple[Services, str]:
    """Services whose connection writes to a new Sheet of a signed-in user; and its id."""
    google = replace(
        settings, digitalocean_api_url=do_sim.url, google_sheets_api_url=fake_google.url,
        google_drive_api_url=fake_google.url,
        google_oauth_token_uri=fake_google.url + "/token",
    )  # fmt: skip
    built = build(google)
    grant = {"type": "authorized_user", "client_id": "cid", "client_secret": "cs",
             "refresh_token": "fake-refresh", "token_uri": google.google_oauth_token_uri,
             "scopes": list(SCOPES)}  # fmt: skip
    ref = built.secrets.put("google-oauth", json.dumps(grant))
    remember_login(google, ref)
    book = fake_google.sheets.create()  # type: ignore[attr-defined]
    connect(built, sheet=book.id, google_credentials="user", google_ref=ref)
    return built, book.id


def sheet(services: Services) -> Any:
    return services.engine.destinations(services.state.get_connection(NAME)).sink


@pytest.mark.parametrize("tab", ["Invoices", "Line Items"])
def test_a_deleted_tab_of_the_sheet_is_rebuilt_with_a_runs_row_saying_so(
    sheet_services: tuple[Services, str], fake_google: FakeGoogle, tab: str
) -> None:
    services, spreadsheet = sheet_services
    assert services.engine.sync(NAME).status == "succeeded"
    before = ledger(sheet(services))
    fake_google.sheets.delete_tab(spreadsheet, tab)  # type: ignore[attr-defined]

    run = services.engine.sync(NAME)

    assert run.status == "succeeded", run.message
    assert "was missing: rebuilt from the provider" in run.message
    assert spreadsheet in run.message  # the Sheet's address
    assert ledger(sheet(services)) == before
    assert sheet(services).rows("Runs")[-1]["Message"] == run.message


def test_a_trashed_sheet_is_rebuilt_in_a_new_sheet_beside_it(
    settings: Settings, do_sim: DigitalOceanSimulator, fake_google: FakeGoogle
) -> None:
    services, _ = google_services(settings, do_sim, fake_google)
    drive, sheets = fake_google.drive, fake_google.sheets  # type: ignore[attr-defined]
    folder = drive.add_folder("Bookkeeping")
    made = drive.insert({"name": "Acme ledger", "mimeType": SPREADSHEET_MIME,
                         "parents": [folder]})  # fmt: skip
    sheets.create(made["id"], title="Acme ledger")  # a Sheet made in Drive, as the UI does
    services.state.update_options(NAME, {"sheet": made["id"]})
    assert services.engine.sync(NAME).status == "succeeded"
    before = ledger(sheet(services))
    drive.files[made["id"]]["trashed"] = True  # the bookkeeper moves it to the trash

    run = services.engine.sync(NAME)

    assert run.status == "succeeded", run.message
    moved = services.state.get_connection(NAME).options["sheet"]
    assert moved != made["id"]
    assert drive.files[moved]["parents"] == [folder] and not drive.files[moved]["trashed"]
    assert drive.files[moved]["name"] == "Acme ledger"
    assert (
        f"The ledger https://docs.google.com/spreadsheets/d/{made['id']}/edit was missing: "
        f"rebuilt from the provider in https://docs.google.com/spreadsheets/d/{moved}/edit"
    ) in run.message
    assert ledger(sheet(services)) == before
    assert [r["Message"] for r in sheet(services).rows("Runs")] == [run.message]
    assert services.engine.sync(NAME).message.startswith("Nothing new")
    replacements = [f for f in drive.files.values() if f["name"] == "Acme ledger"]
    assert len(replacements) == 2  # the trashed one and its one replacement


def test_a_workbook_without_its_invoice_key_column_fails_every_sync_unchanged(
    services: Services,
) -> None:
    connect(services)
    services.engine.sync(NAME)
    path = Path(services.sink.location())
    book = openpyxl.load_workbook(path)
    header = [cell.value for cell in book["Invoices"][1]]
    book["Invoices"].delete_cols(header.index("Invoice Key") + 1)
    book.save(path)
    damaged = path.read_bytes()

    for _ in range(2):
        run = services.engine.sync(NAME)

        assert run.status == "failed"
        assert "no 'Invoice Key' column" in run.message and "Put the column back" in run.message
        assert path.read_bytes() == damaged


def test_a_sheet_without_its_invoice_key_column_fails_every_sync_unchanged(
    sheet_services: tuple[Services, str], fake_google: FakeGoogle
) -> None:
    services, spreadsheet = sheet_services
    services.engine.sync(NAME)
    sheets = fake_google.sheets  # type: ignore[attr-defined]
    header = [str(v) for v in sheets.tab(spreadsheet, "Invoices").values()[0]]
    sheets.delete_columns(spreadsheet, "Invoices", header.index("Invoice Key"))
    fake_google.calls.clear()

    for _ in range(2):
        run = services.engine.sync(NAME)

        assert run.status == "failed" and "no 'Invoice Key' column" in run.message
    assert fake_google.calls.writes() == []
