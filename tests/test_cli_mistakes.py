"""The command line under mistakes (issue 9 §5): each input a person may give by accident, with
the one human line (and the exit status) it should get. Real processes, loopback HTTP only."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from api import logs
from api.cli import cli
from api.errors import ConfigError
from api.settings import remove_stale_downloads
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator, DOSimConfig
from tests.conftest import TODAY
from tests.test_cli import billsync


@pytest.fixture
def sim() -> DigitalOceanSimulator:
    with DigitalOceanSimulator(DOSimConfig(months=2, items_per_invoice=3, today=TODAY)) as server:
        yield server


def connected(tmp_path: Path, sim: DigitalOceanSimulator) -> tuple[Path, dict[str, str]]:
    home, env = tmp_path / "h", {"DIGITALOCEAN_API_URL": sim.url, "DIGITALOCEAN_TOKEN": DEMO_TOKEN}
    assert billsync(home, ["connect", "digitalocean", "--name", "acme"], env=env).returncode == 0
    return home, env


def human_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (no JSON log, no traceback)."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "unexpected" not in lines[0]
    return lines[0]


def test_disconnect_without_a_terminal_refuses_unless_yes(tmp_path, sim) -> None:
    home, env = connected(tmp_path, sim)
    environ = {**os.environ, **env, "BILLSYNC_HOME": str(home)}
    refused = subprocess.run([sys.executable, "-m", "api", "disconnect", "acme"], input="n\n",
                             env=environ, capture_output=True, text=True, timeout=60)  # fmt: skip

    assert "--yes" in human_error(refused)
    assert "acme" in billsync(home, ["connections"], env=env).stdout  # token kept
    assert billsync(home, ["sync", "acme"], env=env).returncode == 0
    gone = billsync(home, ["disconnect", "acme", "--yes"], env=env)
    assert gone.returncode == 0 and "destroyed" in gone.stdout


def writable(folder: Path) -> bool:
    try:
        (folder / "probe").mkdir()
    except OSError:
        return False
    (folder / "probe").rmdir()
    return True


def unwritable_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if writable(folder):  # root ignores the mode bits; sysfs refuses even root
        folder = Path("/sys")
        if not folder.is_dir() or writable(folder):
            pytest.skip("no folder here that this user cannot write")
    return folder


def test_a_read_only_home_says_so(tmp_path) -> None:
    home = unwritable_folder(tmp_path)
    line = human_error(billsync(home, ["connections"]))
    assert f"The data folder {home} cannot be written" in line and "BILLSYNC_HOME" in line
    assert "database server" not in line


def test_a_home_inside_a_read_only_folder_says_so(tmp_path) -> None:
    home = unwritable_folder(tmp_path) / "data"
    assert f"{home} cannot be written" in human_error(billsync(home, ["connections"]))


def test_a_home_below_a_file_says_so(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    home = tmp_path / "notes.txt" / "data"
    assert "cannot be written (Not a directory)" in human_error(billsync(home, ["connections"]))


@pytest.mark.parametrize(
    ("url", "expected"),
    [("foo://bar", "does not support (foo)"), ("mysql://u@db.example/billing",
                                               "does not support (mysql)"),
     ("not a url", "is not a database URL")],
)  # fmt: skip
def test_an_unsupported_database_url_says_what_to_use(tmp_path, url, expected) -> None:
    line = human_error(billsync(tmp_path / "h", ["connections"], env={"DATABASE_URL": url}))
    assert expected in line and "sqlite:///" in line and "postgresql://" in line


def test_a_missing_database_driver_is_named(tmp_path) -> None:
    try:  # psycopg2 is not a dependency: billsync uses psycopg 3
        import psycopg2  # noqa: F401

        pytest.skip("psycopg2 is installed here")
    except ImportError:
        pass
    env = {"DATABASE_URL": "postgresql+psycopg2://u@127.0.0.1:9/x"}
    line = human_error(billsync(tmp_path / "h", ["connections"], env=env))
    assert "driver for postgresql+psycopg2 (Python module psycopg2) is not installed" in line


def test_an_unreachable_api_during_connect_names_the_url(tmp_path) -> None:
    env = {"DIGITALOCEAN_API_URL": "http://127.0.0.1:9", "DIGITALOCEAN_TOKEN": DEMO_TOKEN}
    line = human_error(billsync(tmp_path / "h", ["connect", "digitalocean", "--name", "x"],
                                env=env))  # fmt: skip
    assert "http://127.0.0.1:9/v2/account" in line and "run the sync" not in line


def test_a_failed_sync_prints_no_ledger_or_archive_lines(tmp_path, sim) -> None:
    home, env = connected(tmp_path, sim)
    failed = billsync(home, ["sync", "acme"], env={**env, "DIGITALOCEAN_API_URL":
                                                   "http://127.0.0.1:9"})  # fmt: skip
    assert failed.returncode == 1
    assert "Ledger:" not in failed.stdout and "Archive:" not in failed.stdout
    ok = billsync(home, ["sync", "acme"], env=env)
    assert "Ledger:" in ok.stdout and "Archive:" in ok.stdout


def test_an_error_and_its_action_read_as_two_sentences() -> None:
    error = ConfigError("DoiT said: Invalid API key", action="Create a new API key.")
    assert str(error) == "DoiT said: Invalid API key. Create a new API key."
    assert str(ConfigError("Done.", action="Next.")) == "Done. Next."


def test_no_json_log_line_reaches_stderr_without_verbose(tmp_path, sim) -> None:
    home, env = connected(tmp_path, sim)
    assert billsync(home, ["sync", "acme"], env=env).stderr.count("{") == 0
    loud = billsync(home, ["-v", "sync", "acme"], env=env)
    assert [line for line in loud.stderr.splitlines() if line.startswith('{"severity"')]

    (home / "ledger.xlsx").write_bytes(b"PK\x03\x04 half a workbook")  # a damaged ledger
    quiet = billsync(home, ["sync", "acme"], env=env)
    assert "not a valid .xlsx workbook" in human_error(quiet)


@pytest.mark.parametrize(("flags", "warns"), [([], False), (["-v"], True)])
def test_warnings_are_logged_only_with_verbose(tmp_path, flags, warns) -> None:
    result = CliRunner().invoke(cli, [*flags, "--home", str(tmp_path), "connections"])
    assert result.exit_code == 0
    assert logs.get("engine").isEnabledFor(logging.WARNING) is warns
    assert logs.get("engine").isEnabledFor(logging.CRITICAL) is warns


def test_stale_download_temp_files_are_removed_at_start(tmp_path) -> None:
    home = tmp_path / "h"
    downloads = home / "tmp"
    downloads.mkdir(parents=True)
    left = [downloads / "tmpa1b2c3.pdf", downloads / "tmpd4e5f6.csv"]  # a kill -9 left these
    fresh, other = downloads / "tmpg7h8i9.pdf", downloads / "notes.pdf"
    hour_ago = time.time() - 3700
    for path in [*left, fresh, other]:
        path.write_bytes(b"")
    for path in [*left, other]:
        os.utime(path, (hour_ago, hour_ago))

    assert billsync(home, ["connections"]).returncode == 0

    assert sorted(p.name for p in downloads.iterdir()) == ["notes.pdf", "tmpg7h8i9.pdf"]


def test_a_download_in_progress_is_never_removed(tmp_path) -> None:
    busy = tmp_path / "tmpbusy.pdf"
    busy.write_bytes(b"%PDF-1.7 partial")
    assert remove_stale_downloads(tmp_path, now=time.time() + 3599) == 0
    assert remove_stale_downloads(tmp_path, now=time.time() + 3601) == 1
    assert not busy.exists()


def test_demo_twice_says_what_each_sync_did(tmp_path) -> None:
    home = tmp_path / "d"
    first = billsync(home, ["demo", "--months", "2", "--items", "3"])
    again = billsync(home, ["demo", "--months", "2", "--items", "3"])

    assert first.returncode == 0 and again.returncode == 0, again.stderr
    assert "First sync (full history):" in first.stdout
    assert (
        "First sync" not in again.stdout and "Sync (only what is new or changed):" in again.stdout
    )
    window = "demo-doit: re-read the invoices of the last 120 days for changes"
    assert first.stdout.count(window) == 1  # the second pass; the first read all history
    assert again.stdout.count(window) == 2


def test_a_full_sync_with_nothing_changed_says_unchanged(tmp_path, sim) -> None:
    home, env = connected(tmp_path, sim)
    assert "3 new" in billsync(home, ["sync", "acme"], env=env).stdout  # 2 months + preview

    full = billsync(home, ["sync", "acme", "--full"], env=env)

    assert full.returncode == 0, full.stderr
    assert "acme: Nothing new (3 invoices unchanged)." in full.stdout
    assert "updated" not in full.stdout


def test_reconnecting_an_account_already_in_the_ledger_adds_nothing_new(tmp_path, sim) -> None:
    home, env = connected(tmp_path, sim)
    assert billsync(home, ["sync", "acme"], env=env).returncode == 0
    assert billsync(home, ["disconnect", "acme", "--yes"], env=env).returncode == 0
    assert billsync(home, ["connect", "digitalocean", "--name", "acme"], env=env).returncode == 0

    again = billsync(home, ["sync", "acme"], env=env)

    assert again.returncode == 0, again.stderr
    assert (
        "acme: Nothing new (3 invoices unchanged)." in again.stdout and "new," not in again.stdout
    )
