"""POST /v1/connections/{id}/exports: a month's bills from the connection's own Sheet into its
own Drive folder, checked by the import validators of tests/export_rules.py."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import flask
import pytest

from api.errors import AuthError, BillsyncError, ConfigError, SecretError
from api.google.credentials import RECONNECT, REVOKED_MESSAGE
from api.providers.doit import _KEY_ACTION as DOIT_KEY_ACTION
from api.simulators.digitalocean import DEMO_TOKEN
from api.web.errors import api_message
from tests.export_rules import validate_qbo, validate_xero
from tests.fakes.google import FakeGoogle
from tests.report_samples import inbox_batch
from tests.test_cli_google import records
from tests.web.conftest import bearer
from tests.web.test_connections import (  # noqa: F401 - the fixtures these tests share
    BOB,
    RecordingQueue,
    ann,
    app,
    consent,
    new_connection,
    queue,
    sheet,
)
from tests.web.tokens import Issuer


@pytest.fixture
def synced(
    client: Any, ann: dict[str, str], sheet: str, issuer: Issuer  # noqa: F811
) -> dict[str, Any]:  # fmt: skip
    """Ann's connection after one sync (delivered as Cloud Tasks would) into her Sheet."""
    connection = new_connection(client, ann, sheet).get_json()["connection"]
    queued = client.post(f"/v1/connections/{connection['id']}/sync", headers=ann).get_json()
    delivered = client.post(f"/tasks/runs/{queued['run']['id']}", headers=bearer(issuer.task()))
    assert delivered.get_json()["run"]["status"] == "succeeded", delivered.get_json()
    return connection


def export(client: Any, auth: dict[str, str], connection_id: str, body: Any) -> Any:
    return client.post(f"/v1/connections/{connection_id}/exports", json=body, headers=auth)


def final_invoices(fake_google: FakeGoogle, book: str, period: str) -> list[dict[str, Any]]:
    rows = records(fake_google, book, "Invoices")
    return [r for r in rows if r["Period"] == period and r["Status"] != "Preview"]


def latest_period(fake_google: FakeGoogle, book: str) -> str:
    rows = records(fake_google, book, "Invoices")
    return str(max(r["Period"] for r in rows if r["Status"] != "Preview"))


def archived(fake_google: FakeGoogle, name: str) -> dict[str, Any]:
    files = fake_google.drive.files.values()  # type: ignore[attr-defined]
    (found,) = [f for f in files if f["name"] == name and not f["trashed"]]
    return found  # type: ignore[no-any-return]


def per_currency(bills: dict[str, tuple[str, Decimal]]) -> dict[str, str]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in bills.values():
        totals[currency] += amount
    return {currency: str(amount) for currency, amount in totals.items()}


@pytest.mark.parametrize(
    ("body", "validate"),
    [({"format": "xero"}, lambda text: validate_xero(text, "dmy")),
     ({"format": "qbo", "date_format": "iso"}, lambda text: validate_qbo(text, "iso"))],
    ids=["xero", "qbo-iso"],
)  # fmt: skip
def test_a_month_lands_in_drive_reimports_and_is_linked_from_runs(
    client: Any, ann: dict[str, str], sheet: str, synced: dict[str, Any],  # noqa: F811
    fake_google: FakeGoogle, body: dict[str, str], validate: Any, log_lines: list[str],
) -> None:  # fmt: skip
    period = latest_period(fake_google, sheet)
    runs_before = len(records(fake_google, sheet, "Runs"))

    response = export(client, ann, synced["id"], {**body, "period": period})

    assert response.status_code == 200, response.get_json()
    made = response.get_json()["export"]
    name = f"{period} {synced['name']} {body['format']}.csv"  # the connection's bills only
    drive_file = archived(fake_google, name)
    folder = fake_google.drive.files[drive_file["parents"][0]]  # type: ignore[attr-defined]
    assert folder["name"] == "Exports" and folder["parents"] == [synced["drive_folder_id"]]
    text = fake_google.drive.content[drive_file["id"]][-1].decode("utf-8")  # type: ignore[attr-defined]
    bills = validate(text)
    month = final_invoices(fake_google, sheet, period)
    assert bills == {r["Invoice ID"]: (r["Currency"], Decimal(str(r["Total"]))) for r in month}
    (described,) = made["files"]
    assert described == {
        "name": name, "url": drive_file["webViewLink"], "bills": len(month),
        "lines": len(text.splitlines()) - 1, "totals": per_currency(bills),
    }  # fmt: skip
    assert (made["format"], made["period"], made["bills"], made["notes"]) == (
        body["format"], period, len(month), [])  # fmt: skip
    assert made["date_format"] == body.get("date_format", "dmy")
    runs = records(fake_google, sheet, "Runs")
    assert len(runs) == runs_before + 1
    assert runs[-1]["Trigger"] == "export" and drive_file["webViewLink"] in runs[-1]["Message"]
    for said in [response.get_data(as_text=True), *log_lines]:
        assert DEMO_TOKEN not in said and DEMO_TOKEN[7:] not in said


def test_a_month_without_invoices_is_200_with_no_file_and_a_message(
    client: Any, ann: dict[str, str], sheet: str, synced: dict[str, Any],  # noqa: F811
    fake_google: FakeGoogle,
) -> None:  # fmt: skip
    files_before = len(fake_google.drive.files)  # type: ignore[attr-defined]
    runs_before = records(fake_google, sheet, "Runs")

    response = export(client, ann, synced["id"], {"format": "qbo", "period": "1999-01"})

    assert response.status_code == 200
    made = response.get_json()["export"]
    assert made["files"] == [] and made["bills"] == 0
    assert "no invoice of that month" in made["message"] and "1999-01" in made["message"]
    assert len(fake_google.drive.files) == files_before  # type: ignore[attr-defined]
    assert records(fake_google, sheet, "Runs") == runs_before


@pytest.mark.parametrize(
    ("body", "says"),
    [({"format": "sage", "period": "2026-01"}, "'format' must be one of: xero, qbo."),
     ({"format": "xero", "period": "2026-13"}, "'period' must be a month as YYYY-MM"),
     ({"format": "xero", "period": "Jan 2026"}, "'period' must be a month as YYYY-MM"),
     ({"format": "xero", "period": "2026-09\n"}, "'period' must be at most 7 characters"),
     ({"format": "xero"}, "'period' is required"),
     ({"format": "qbo", "period": "2026-01", "date_format": "ymd"}, "'date_format' must be one of"),
     ({"format": "xero", "period": "2026-01", "out": "/etc/passwd"}, "allowed: date_format, "),
     (["xero"], "must be a JSON object")],
    ids=["format", "month-13", "words", "newline", "missing", "date-format", "extra", "not-object"],
)  # fmt: skip
def test_a_bad_body_is_400_with_a_readable_sentence_and_writes_nothing(
    client: Any, ann: dict[str, str], sheet: str, fake_google: FakeGoogle,  # noqa: F811
    body: Any, says: str,
) -> None:  # fmt: skip
    connection = new_connection(client, ann, sheet).get_json()["connection"]
    files_before = len(fake_google.drive.files)  # type: ignore[attr-defined]
    writes_before = len(fake_google.calls.writes())
    response = export(client, ann, connection["id"], body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and says in error["message"], error
    assert len(fake_google.drive.files) == files_before  # type: ignore[attr-defined]
    assert len(fake_google.calls.writes()) == writes_before


def test_callers_without_access_are_refused_before_anything_is_read(
    client: Any, ann: dict[str, str], sheet: str, issuer: Issuer,  # noqa: F811
    fake_google: FakeGoogle,
) -> None:  # fmt: skip
    connection = new_connection(client, ann, sheet).get_json()["connection"]
    body = {"format": "xero", "period": "2026-01"}
    consent(client, issuer, fake_google, BOB)
    bob = bearer(issuer.user(sub=BOB, email="bob@example.com"))
    reads_before = len(fake_google.calls.of("sheets.spreadsheets.getByDataFilter"))

    nobody = export(client, {}, connection["id"], body)
    other = export(client, bob, connection["id"], body)
    unknown = export(client, ann, "no-such-connection", body)

    assert nobody.status_code == 401 and nobody.get_json()["error"]["code"] == "unauthenticated"
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "forbidden"
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "not_found"
    assert len(fake_google.calls.of("sheets.spreadsheets.getByDataFilter")) == reads_before


def test_an_export_waits_for_a_queued_or_running_sync(
    client: Any, ann: dict[str, str], sheet: str, queue: RecordingQueue,  # noqa: F811
) -> None:  # fmt: skip
    connection = new_connection(client, ann, sheet).get_json()["connection"]
    run = client.post(f"/v1/connections/{connection['id']}/sync", headers=ann).get_json()["run"]
    assert queue.enqueued == [run["id"]]  # queued, not yet executed

    response = export(client, ann, connection["id"], {"format": "xero", "period": "2026-01"})

    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "run_in_progress" and error["retryable"] is True
    assert run["id"] in error["message"] and "try again" in error["message"]


def an_inbox_invoice(app: flask.Flask, connection_id: str, period: str) -> None:  # noqa: F811
    """A PDF the inbox read, in the connection's Sheet (written by the Sheets ledger, as the
    inbox writes it)."""
    services = app.extensions["billsync"].services
    sink = services.engine.destinations(services.state.get_connection(connection_id)).sink
    sink.write(inbox_batch(period))


def test_scope_ledger_exports_the_pdf_inbox_too_under_its_own_name(
    app: flask.Flask, client: Any, ann: dict[str, str], sheet: str,  # noqa: F811
    synced: dict[str, Any], fake_google: FakeGoogle,
) -> None:  # fmt: skip
    period = latest_period(fake_google, sheet)
    an_inbox_invoice(app, synced["id"], period)
    body = {"format": "xero", "period": period}

    own = export(client, ann, synced["id"], body).get_json()["export"]
    whole = export(client, ann, synced["id"], {**body, "scope": "ledger"}).get_json()["export"]

    assert [f["name"] for f in own["files"]] == [f"{period} {synced['name']} xero.csv"]
    assert [f["name"] for f in whole["files"]] == [f"{period} xero.csv"]
    ledger = archived(fake_google, f"{period} xero.csv")
    text = fake_google.drive.content[ledger["id"]][-1].decode("utf-8")  # type: ignore[attr-defined]
    bills = validate_xero(text)
    assert bills["LN-42"] == ("USD", Decimal("24.00")) and whole["bills"] == own["bills"] + 1
    assert set(bills) == {r["Invoice ID"] for r in final_invoices(fake_google, sheet, period)}


def test_notes_are_said_once_not_again_in_the_message(
    client: Any, ann: dict[str, str], sheet: str, synced: dict[str, Any],  # noqa: F811
    fake_google: FakeGoogle,
) -> None:  # fmt: skip
    clients = fake_google.sheets.tab(sheet, "Clients")  # type: ignore[attr-defined]
    cells = {0: "product: Droplets", 2: "yes"}  # the bookkeeper forgot the Client
    clients.set_row(1, {n: {"userEnteredValue": {"stringValue": v}} for n, v in cells.items()})
    period = latest_period(fake_google, sheet)

    made = export(client, ann, synced["id"], {"format": "xero", "period": period}).get_json()

    (note,) = made["export"]["notes"]
    assert "Client is empty" in note and note not in made["export"]["message"]


def test_an_unknown_connection_is_404_without_command_line_advice(
    client: Any, ann: dict[str, str],  # noqa: F811
) -> None:  # fmt: skip
    response = export(client, ann, "cn_gone", {"format": "xero", "period": "2026-01"})

    error = response.get_json()["error"]
    assert response.status_code == 404 and "cn_gone" in error["message"]
    assert "billsync" not in error["message"] and "`" not in error["message"], error
    assert "sidebar" in error["message"]


@pytest.mark.parametrize(
    ("error", "says"),
    [(ConfigError("Google refused to refresh the access token.", action=RECONNECT),
      "Google refused to refresh the access token. Reconnect your Google account from the "
      "sidebar."),
     (SecretError("The stored Google grant is unreadable.", action=RECONNECT),
      "The stored Google grant is unreadable. Reconnect your Google account from the sidebar."),
     (ConfigError("'2026-13' is not a month.", action="Give --period as YYYY-MM."),
      "'2026-13' is not a month."),
     (ConfigError("Unknown export format 'sage'.", action="Use xero or qbo."),
      "Unknown export format 'sage'. Use xero or qbo."),
     (AuthError("DoiT rejected the API key.", provider="doit", action=DOIT_KEY_ACTION),
      "DoiT rejected the API key. Create a new API key in the DoiT console (Profile > API), "
      "then disconnect this provider and add it again with the new token."),
     (ConfigError(REVOKED_MESSAGE), "Google access was revoked or expired, then reconnect your "
      "Google account from the sidebar.")],
    ids=["google-login", "secret", "option", "kept", "provider", "in-message"],
)  # fmt: skip
def test_the_api_gives_no_command_line_advice(error: BillsyncError, says: str) -> None:
    """Actions raised on code paths the web shares with the CLI (api/google/credentials.py,
    api/exports.py): a command or an --option is dropped or replaced, other advice kept."""
    assert api_message(error) == says
    assert "billsync" not in api_message(error) and "--" not in api_message(error)
