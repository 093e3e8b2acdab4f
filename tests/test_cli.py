"""The `billsync` command as a person uses it: real processes, real loopback HTTP."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest

from api.errors import ConfigError
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator, DOSimConfig
from tests.conftest import TODAY


def billsync(
    home: Path, args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITALOCEAN", "DOIT"))}
    environ.update({"BILLSYNC_HOME": str(home), "BILLSYNC_HTTP_MAX_ATTEMPTS": "2"})
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "api", *args], env=environ, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_demo_leaves_a_workbook_and_archive_and_finds_nothing_new_the_second_time(
    tmp_path: Path,
) -> None:
    home = tmp_path / "data"
    result = billsync(home, ["demo", "--months", "4", "--items", "8"])

    assert result.returncode == 0, result.stderr
    assert "Nothing new" in result.stdout
    workbook = openpyxl.load_workbook(home / "ledger.xlsx", read_only=True)
    assert workbook.sheetnames[:3] == ["Invoices", "Line Items", "Runs"]
    header, *invoices = list(workbook["Invoices"].iter_rows(values_only=True))
    providers = [row[header.index("Provider")] for row in invoices]
    assert providers.count("DigitalOcean") == 4 + 1  # 4 months and the month-to-date preview
    assert providers.count("DoiT") >= 4  # several platforms a month, in several currencies
    pdfs = sorted((home / "archive").rglob("*.pdf"))
    assert len(pdfs) == 4 and all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    assert str(home / "ledger.xlsx") in result.stdout
    assert DEMO_TOKEN not in result.stdout + result.stderr

    again = billsync(home, ["demo", "--months", "4", "--items", "8"])  # a second demo is fine too
    assert again.returncode == 0, again.stderr
    assert len(list(openpyxl.load_workbook(home / "ledger.xlsx")["Invoices"].rows)) == 1 + len(
        invoices
    )

    # A demo connection outlives the demo: `sync` starts its simulator again, same shape.
    later = billsync(home, ["sync"])
    assert later.returncode == 0, later.stderr
    assert "demo-digitalocean: Nothing new (5 invoices unchanged)." in later.stdout
    assert "demo-doit: Nothing new" in later.stdout


def test_a_demo_connection_is_never_sent_to_the_real_api(tmp_path: Path) -> None:
    from api.core.model import DEMO_OPTION, Connection
    from api.factory import build_provider
    from api.settings import Settings

    settings = Settings.from_env({"BILLSYNC_HOME": str(tmp_path)})
    demo = Connection("demo-doit", "doit", "example.com", "ref", "…cret",
                      {DEMO_OPTION: {"months": 4, "items": 8}})  # fmt: skip

    with pytest.raises(ConfigError) as refused:
        build_provider(settings, demo, DEMO_TOKEN)
    assert "'demo-doit' is a demo connection" in refused.value.message
    assert "billsync sync demo-doit" in (refused.value.action or "")
    assert "billsync disconnect demo-doit --yes" in (refused.value.action or "")
    simulated = dataclasses.replace(settings, doit_api_url="http://127.0.0.1:9")
    build_provider(simulated, demo, DEMO_TOKEN).close()  # a simulator on loopback is fine


@pytest.fixture
def sim() -> DigitalOceanSimulator:
    config = DOSimConfig(
        months=3,
        items_per_invoice=6,
        today=TODAY,
        tokens={DEMO_TOKEN: "billing", "dop_v1_" + "b" * 64: "no_billing"},
    )
    with DigitalOceanSimulator(config) as simulator:
        yield simulator


def test_connect_sync_list_disconnect(tmp_path: Path, sim: DigitalOceanSimulator) -> None:
    home, env = tmp_path / "h", {"DIGITALOCEAN_API_URL": sim.url, "DIGITALOCEAN_TOKEN": DEMO_TOKEN}

    connected = billsync(home, ["connect", "digitalocean", "--name", "acme"], env=env)
    assert connected.returncode == 0, connected.stderr
    assert f"dop_v1_…{DEMO_TOKEN[-4:]}" in connected.stdout

    synced = billsync(home, ["sync", "acme"], env=env)
    assert synced.returncode == 0, synced.stderr
    assert "4 new" in synced.stdout  # three months and the preview

    listing = billsync(home, ["connections"], env=env)
    assert "acme" in listing.stdout and "succeeded" in listing.stdout
    runs = billsync(home, ["runs"], env=env)
    assert runs.returncode == 0 and "acme" in runs.stdout

    gone = billsync(home, ["disconnect", "acme", "--yes"], env=env)
    assert gone.returncode == 0 and "destroyed" in gone.stdout
    assert billsync(home, ["sync", "acme"], env=env).returncode == 1
    everything = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert DEMO_TOKEN.encode() not in everything


def test_a_demo_connection_from_before_demos_were_marked_is_recognised(
    tmp_path: Path, sim: DigitalOceanSimulator
) -> None:
    home, env = tmp_path / "h", {"DIGITALOCEAN_API_URL": sim.url, "DIGITALOCEAN_TOKEN": DEMO_TOKEN}
    made = billsync(home, ["connect", "digitalocean", "--name", "demo-digitalocean"], env=env)
    assert made.returncode == 0, made.stderr

    later = billsync(home, ["sync", "demo-digitalocean"])  # the real API URL: no simulator

    assert later.returncode == 0, later.stderr
    assert "demo-digitalocean: " in later.stdout and "new" in later.stdout


@pytest.mark.parametrize(
    ("token", "expected"),
    [("dop_v1_" + "0" * 64, "rejected the token"), ("dop_v1_" + "b" * 64, "billing:read")],
)
def test_connect_with_a_bad_token_saves_nothing(
    tmp_path: Path, sim: DigitalOceanSimulator, token: str, expected: str
) -> None:
    home = tmp_path / "h"
    env = {"DIGITALOCEAN_API_URL": sim.url, "DIGITALOCEAN_TOKEN": token}
    if expected == "billing:read":  # /v2/account works with this token; billing does not
        result = billsync(home, ["connect", "digitalocean", "--name", "x"], env=env)
        assert result.returncode == 0
        result = billsync(home, ["sync", "x"], env=env)
    else:
        result = billsync(home, ["connect", "digitalocean", "--name", "x"], env=env)
        listing = billsync(home, ["connections"], env=env)
        assert "No connections yet" in listing.stdout
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and expected in error_lines[0]
    assert token not in result.stdout + result.stderr


def test_errors_are_one_human_line(tmp_path: Path) -> None:
    unknown = billsync(tmp_path, ["sync", "nope"])
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error:") and "Traceback" not in unknown.stderr
    no_token = billsync(tmp_path, ["connect", "digitalocean", "--name", "x"])
    assert no_token.returncode == 1 and "$DIGITALOCEAN_TOKEN" in no_token.stderr


def test_a_killed_sync_is_completed_by_the_next_run(tmp_path: Path) -> None:
    """SIGKILL mid-run (the process dies, its run lock stays), then a rerun: the clean ledger."""
    config = DOSimConfig(months=12, items_per_invoice=10, today=TODAY, latency=0.02)
    with DigitalOceanSimulator(config) as sim:
        env = {"DIGITALOCEAN_API_URL": sim.url, "DIGITALOCEAN_TOKEN": DEMO_TOKEN}
        clean, home = tmp_path / "clean", tmp_path / "crashed"
        for where in (clean, home):
            connected = billsync(where, ["connect", "digitalocean", "--name", "a"], env=env)
            assert connected.returncode == 0
        assert billsync(clean, ["sync", "a"], env=env).returncode == 0

        sim.requests.clear()
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "sync", "a"],
            env={**os.environ, **env, "BILLSYNC_HOME": str(home), "BILLSYNC_CONCURRENCY": "1"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while sum(r.path.endswith("/pdf") for r in sim.requests) < 4:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()

        rerun = billsync(home, ["sync", "a"], env=env)
        assert rerun.returncode == 0, rerun.stderr

    def rows(where: Path, tab: str) -> list[tuple[object, ...]]:
        sheet = openpyxl.load_workbook(where / "ledger.xlsx", read_only=True)[tab]
        header = [c for c in next(sheet.iter_rows(max_row=1, values_only=True))]
        skip = header.index("Synced At") if "Synced At" in header else -1
        return [
            tuple(v for i, v in enumerate(r) if i != skip and not _is_path(v))
            for r in sheet.iter_rows(min_row=2, values_only=True)
        ]

    assert rows(home, "Invoices") == rows(clean, "Invoices")
    assert rows(home, "Line Items") == rows(clean, "Line Items")
    archived = sorted(
        p.name for p in (home / "archive").rglob("*") if p.is_file() and not p.name.startswith(".")
    )
    assert archived == sorted(
        p.name for p in (clean / "archive").rglob("*") if p.is_file() and not p.name.startswith(".")
    )


def _is_path(value: object) -> bool:
    return isinstance(value, str) and ("/archive/" in value or value.startswith("file:"))
