"""The time-zone trap: DoiT dates are UTC calendar dates whatever zone the host runs in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ZONES = ("UTC", "America/Los_Angeles", "Asia/Tokyo")

# Runs in a child with TZ set: syncs every invoice from the simulator and prints what the
# ledger would hold, plus how many dates a local-time conversion would have moved.
CHILD = """
import datetime as dt, json, time
time.tzset()
from api.providers.doit import DoitProvider
from api.settings import HttpSettings
from api.simulators.doit import DEMO_KEY, DoitSimulator

with DoitSimulator() as sim:
    provider = DoitProvider(DEMO_KEY, base_url=sim.url, http=HttpSettings(timeout=5),
                            clock=lambda: sim.now)
    rows = []
    for ref in provider.list_invoices(first_sync=True):
        invoice = provider.fetch_invoice(ref, "acme").invoice
        rows.append([ref.key, ref.period, invoice.period, str(invoice.invoice_date),
                     str(invoice.due_date)])
    provider.close()
    local = lambda ms: dt.datetime.fromtimestamp(ms / 1000).date()
    utc = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date()
    moved = sum(local(ms) != utc(ms) for inv in sim.visible("acme-inc")
                for ms in (inv.invoice_ms, inv.due_ms))
    print(json.dumps({"zone": time.tzname, "rows": rows, "moved": moved}))
"""


def _run(zone: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TZ": zone, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def synced() -> dict[str, dict]:
    results = {}
    for zone in ZONES:
        child = _run(zone, "-c", CHILD)
        assert child.returncode == 0, child.stderr
        results[zone] = json.loads(child.stdout)
    return results


def test_periods_and_dates_are_identical_in_every_zone(synced: dict[str, dict]) -> None:
    baseline = synced["UTC"]["rows"]
    assert baseline
    for zone in ZONES[1:]:
        assert synced[zone]["rows"] == baseline, zone
    for _key, ref_period, period, invoice_date, _due in baseline:
        assert ref_period == period == invoice_date[:7]


def test_the_trap_is_real_local_time_would_move_dates(synced: dict[str, dict]) -> None:
    assert synced["UTC"]["moved"] == 0
    assert synced["America/Los_Angeles"]["moved"] > 0  # 00:00 UTC on the 1st
    assert synced["Asia/Tokyo"]["moved"] > 0  # 20:00 UTC on the last day, 23:30 UTC dues
    assert synced["America/Los_Angeles"]["zone"] != synced["Asia/Tokyo"]["zone"]


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Tokyo"])
def test_client_mapping_tests_pass_under_zone(zone: str) -> None:
    child = _run(
        zone,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_doit_client.py",
        "-k",
        "mapping or jpy or window or transitions",
    )
    assert child.returncode == 0, child.stdout[-2000:]
    progress = child.stdout.split()[0]
    assert set(progress) == {"."} and len(progress) >= 6  # all selected tests ran and passed
