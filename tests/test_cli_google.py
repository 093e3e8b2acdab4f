"""`billsync connect ... --sheet/--drive-folder` and `billsync sync` as a person runs them.

Real `billsync` processes talk over loopback to the DigitalOcean simulator and the fake Google
(Sheets, Drive and the OAuth token endpoint), configured only through environment variables.
The Google login is the grant `billsync google login` saves (that command has its own tests in
test_google_credentials), or a service-account key file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.destinations import remember_login
from api.factory import build
from api.google.credentials import SCOPES
from api.settings import Settings
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator, DOSimConfig
from tests.conftest import TODAY
from tests.fakes.google import FakeGoogle

FOLDER_MIME = "application/vnd.google-apps.folder"
SHEET_MIME = "application/vnd.google-apps.spreadsheet"


@pytest.fixture
def sim() -> Iterator[DigitalOceanSimulator]:
    with DigitalOceanSimulator(DOSimConfig(months=3, items_per_invoice=5, today=TODAY)) as sim:
        yield sim


@pytest.fixture
def env(tmp_path: Path, sim: DigitalOceanSimulator, fake_google: FakeGoogle) -> dict[str, str]:
    """The environment of every `billsync` process: its home, and where each service is."""
    return {
        "BILLSYNC_HOME": str(tmp_path / "home"),
        "BILLSYNC_HTTP_MAX_ATTEMPTS": "2",
        "DIGITALOCEAN_API_URL": sim.url,
        "DIGITALOCEAN_TOKEN": DEMO_TOKEN,
        "GOOGLE_SHEETS_API_URL": fake_google.url,
        "GOOGLE_DRIVE_API_URL": fake_google.url,
        "GOOGLE_OAUTH_TOKEN_URI": fake_google.url + "/token",
    }


@pytest.fixture
def signed_in(env: dict[str, str]) -> dict[str, str]:
    """What `billsync google login` leaves in the home: an encrypted offline grant."""
    settings = Settings.from_env(env)
    grant = {
        "type": "authorized_user",
        "client_id": "cid",
        "client_secret": "cs",
        "refresh_token": "fake-refresh",
        "token_uri": env["GOOGLE_OAUTH_TOKEN_URI"],
        "scopes": list(SCOPES),
    }
    remember_login(settings, build(settings).secrets.put("google-oauth", json.dumps(grant)))
    return env


def billsync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DIGITALOCEAN", "DOIT", "GOOGLE", "BILLSYNC"))
    }
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "api", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert DEMO_TOKEN not in result.stdout + result.stderr
    assert "fake-refresh" not in result.stdout + result.stderr
    return result.stdout


def records(fake: FakeGoogle, sheet: str, tab: str) -> list[dict[str, Any]]:
    return fake.sheets.tab(sheet, tab).records()  # type: ignore[no-any-return, attr-defined]


def files_under(fake: FakeGoogle, root: str) -> list[dict[str, Any]]:
    """Every non-folder file below `root`, at any depth."""
    files = fake.drive.files  # type: ignore[attr-defined]
    inside, found = {root}, []
    for record in sorted(files.values(), key=lambda f: len(_ancestors(files, f))):
        if set(record.get("parents", [])) & inside:
            if record["mimeType"] == FOLDER_MIME:
                inside.add(record["id"])
            else:
                found.append(record)
    return found


def _ancestors(files: dict[str, Any], record: dict[str, Any]) -> list[str]:
    chain: list[str] = []
    parents = record.get("parents", [])
    while parents and parents[0] in files and parents[0] not in chain:
        chain.append(parents[0])
        parents = files[parents[0]].get("parents", [])
    return chain


def assert_synced(fake: FakeGoogle, sim: DigitalOceanSimulator, sheet: str, folder: str) -> None:
    invoices = records(fake, sheet, "Invoices")
    finals = [r for r in invoices if r["Status"] != "Preview"]
    assert len(finals) == 3 and len(invoices) == 4  # three months and the month-to-date preview
    uuids = {inv.uuid for inv in sim.book.finals}
    assert {r["Invoice Key"].split(":")[-1] for r in finals} == uuids
    lines = records(fake, sheet, "Line Items")
    assert (
        len({r["Line Key"] for r in lines})
        == len(lines)
        == sum(int(r["Line Items"]) for r in invoices)
    )
    archived = [f for f in files_under(fake, folder) if f["mimeType"] != SHEET_MIME]
    assert sorted(f["name"].rsplit(".", 1)[-1] for f in archived) == ["csv"] * 3 + ["pdf"] * 3
    assert all(r["PDF"] for r in finals)  # each row links its archived PDF
    assert records(fake, sheet, "Runs")[-1]["Status"] == "succeeded"


def test_connect_to_a_shared_sheet_and_folder_by_url_then_sync(
    signed_in: dict[str, str], fake_google: FakeGoogle, sim: DigitalOceanSimulator
) -> None:
    fake_google.sheets.create("1SheetFromTheBrowserAbc")  # type: ignore[attr-defined]
    folder = fake_google.drive.add_folder("Bookkeeping")  # type: ignore[attr-defined]
    sheet_url = "https://docs.google.com/spreadsheets/d/1SheetFromTheBrowserAbc/edit#gid=0"
    folder_url = f"https://drive.google.com/drive/folders/{folder}?usp=sharing"

    out = ok(
        billsync(
            signed_in,
            "connect",
            "digitalocean",
            "--name",
            "acme",
            "--sheet",
            sheet_url,
            "--drive-folder",
            folder_url,
        )
    )

    assert "https://docs.google.com/spreadsheets/d/1SheetFromTheBrowserAbc/edit" in out
    assert f"https://drive.google.com/drive/folders/{folder}" in out
    out = ok(billsync(signed_in, "sync", "acme"))
    assert_synced(fake_google, sim, "1SheetFromTheBrowserAbc", folder)
    assert "Ledger:  https://docs.google.com/spreadsheets/d/1SheetFromTheBrowserAbc/edit" in out
    assert f"Archive: https://drive.google.com/drive/folders/{folder}" in out
    assert "ledger.xlsx" not in out
    before = len(fake_google.calls.writes())
    assert "Nothing new" in ok(billsync(signed_in, "sync", "acme"))
    assert fake_google.calls.writes()[before:] == []


def test_connect_creates_the_sheet_and_folder_then_sync(
    signed_in: dict[str, str], fake_google: FakeGoogle, sim: DigitalOceanSimulator
) -> None:
    out = ok(
        billsync(
            signed_in,
            "connect",
            "digitalocean",
            "--name",
            "acme",
            "--create-sheet",
            "--create-folder",
        )
    )

    created = fake_google.drive.files.values()  # type: ignore[attr-defined]
    (folder,) = [f for f in created if f["mimeType"] == FOLDER_MIME]
    (sheet,) = [f for f in created if f["mimeType"] == SHEET_MIME]
    assert folder["name"] == "billsync archive (acme)" and sheet["parents"] == [folder["id"]]
    assert f"/spreadsheets/d/{sheet['id']}/edit" in out and folder["id"] in out
    ok(billsync(signed_in, "sync", "acme"))
    assert_synced(fake_google, sim, sheet["id"], folder["id"])


def service_account_key(path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "billsync-test",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "ledger@billsync-test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return path


def test_a_service_account_writes_a_sheet_shared_with_it(
    env: dict[str, str], fake_google: FakeGoogle, tmp_path: Path
) -> None:
    fake_google.sheets.create("1SharedWithTheRobot0")  # type: ignore[attr-defined]
    key = service_account_key(tmp_path / "sa.json")

    ok(
        billsync(
            env,
            "connect",
            "digitalocean",
            "--name",
            "acme",
            "--sheet",
            "1SharedWithTheRobot0",
            "--google-credentials",
            str(key),
        )
    )
    ok(billsync(env, "sync", "acme"))

    assert len(records(fake_google, "1SharedWithTheRobot0", "Invoices")) == 4
    emails = fake_google.oauth.service_accounts  # type: ignore[attr-defined]
    assert "ledger@billsync-test.iam.gserviceaccount.com" in json.dumps(emails)


@pytest.mark.parametrize(
    ("prepare", "says"),
    [
        (lambda sheets: None, "Spreadsheet 1NoSuchSheetAnywhere0 not found: check the --sheet"),
        (
            lambda sheets: setattr(sheets.create("1NoSuchSheetAnywhere0"), "shared", False),
            "Spreadsheet 1NoSuchSheetAnywhere0 is not shared with",
        ),
    ],
    ids=["404-missing", "403-not-shared"],
)
def test_connect_refuses_a_sheet_it_cannot_open(
    signed_in: dict[str, str], fake_google: FakeGoogle, prepare: Any, says: str
) -> None:
    prepare(fake_google.sheets)  # type: ignore[attr-defined]

    result = billsync(
        signed_in,
        "connect",
        "digitalocean",
        "--name",
        "acme",
        "--sheet",
        "https://docs.google.com/spreadsheets/d/1NoSuchSheetAnywhere0/edit",
    )

    assert result.returncode == 1
    assert says in result.stderr and "Traceback" not in result.stderr
    assert "No connections yet" in ok(billsync(signed_in, "connections"))  # nothing was saved
    assert fake_google.calls.writes() == []


def test_connect_refuses_a_folder_it_cannot_open(
    signed_in: dict[str, str], fake_google: FakeGoogle
) -> None:
    fake_google.sheets.create("1SheetFromTheBrowserAbc")  # type: ignore[attr-defined]

    result = billsync(
        signed_in,
        "connect",
        "digitalocean",
        "--name",
        "acme",
        "--sheet",
        "1SheetFromTheBrowserAbc",
        "--drive-folder",
        "1NoSuchFolderAnywhere",
    )

    assert result.returncode == 1 and "1NoSuchFolderAnywhere" in result.stderr
    assert "No connections yet" in ok(billsync(signed_in, "connections"))


def test_connect_with_google_but_no_login_says_to_log_in(env: dict[str, str]) -> None:
    result = billsync(env, "connect", "digitalocean", "--name", "acme", "--create-sheet")

    assert result.returncode == 1 and "billsync google login" in result.stderr


def test_flags_that_contradict_each_other_are_refused(signed_in: dict[str, str]) -> None:
    result = billsync(
        signed_in,
        "connect",
        "digitalocean",
        "--name",
        "acme",
        "--sheet",
        "1SheetFromTheBrowserAbc",
        "--create-sheet",
    )

    assert result.returncode == 1 and "not both" in result.stderr
