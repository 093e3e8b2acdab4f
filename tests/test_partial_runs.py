"""One invoice whose document or line items keep failing must not keep the others out.

The issue's input: a DigitalOcean account with invoices 2024-01, 2024-02 and 2024-03, where
one request for the 2024-01 invoice fails on every attempt (a 500 on its PDF, a 404 on its
CSV, a 500 on its line items). The run writes everything else and ends "partial", naming
the invoice and the part; the next run retries only what is missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from api import connections
from api.factory import Services, build
from api.settings import Settings
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator, DOSimConfig
from api.simulators.doit import DEMO_KEY, DoitSimConfig, DoitSimulator
from tests import test_doit_sync as doit_sync
from tests.conftest import TODAY
from tests.fakes.google import FakeGoogle
from tests.test_cli import billsync
from tests.test_lost_ledger import google_services, sheet

NAME = "acme"
ALWAYS = 10_000  # shots: more than every retry of every run in a test
PERIODS = ["2024-01", "2024-02", "2024-03"]


@pytest.fixture
def do_config() -> DOSimConfig:
    return DOSimConfig(months=3, items_per_invoice=6, today=dt.date(2024, 4, 10), preview=False)


def connect(services: Services) -> None:
    connections.connect(
        state=services.state, secrets=services.secrets, providers=services.provider,
        provider="digitalocean", name=NAME, token=DEMO_TOKEN, options={},
    )  # fmt: skip


def first_invoice(sim: DigitalOceanSimulator) -> dict[str, Any]:
    january = [i for i in sim.invoices() if i["invoice_period"] == "2024-01"]
    assert len(january) == 1 and len(sim.invoices()) == 3
    return january[0]


def fetches(sim: DigitalOceanSimulator) -> list[str]:
    """Billing requests after the listing, without the query string."""
    return [r.path for r in sim.requests if r.path.startswith("/v2/customers/my/invoices/")]


def ledger(where: Services | Any) -> dict[str, list[dict[str, Any]]]:
    sink = where.sink if isinstance(where, Services) else where
    return {
        tab: [{k: v for k, v in row.items() if k != "Synced At"} for row in sink.rows(tab)]
        for tab in ("Invoices", "Line Items")
    }


@pytest.fixture
def clean(tmp_path: Path, settings: Settings, do_sim: DigitalOceanSimulator) -> dict[str, Any]:
    """The ledger one clean run gives, in a home of its own."""
    home = tmp_path / "clean"
    built = build(replace(settings, home=home, database_url=f"sqlite:///{home}.db",
                          digitalocean_api_url=do_sim.url))  # fmt: skip
    connect(built)
    assert built.engine.sync(NAME).status == "succeeded"
    do_sim.requests.clear()
    return ledger(built)


@pytest.mark.parametrize(("kind", "status"), [("pdf", "500"), ("csv", "404")])
def test_a_document_that_keeps_failing_leaves_its_cell_empty_and_the_rest_written(
    services: Services, do_sim: DigitalOceanSimulator, clean: dict[str, Any], kind: str, status: str
) -> None:
    connect(services)
    january = first_invoice(do_sim)
    path = f"/v2/customers/my/invoices/{january['invoice_uuid']}/{kind}"
    do_sim.faults.add(status, path=path, times=ALWAYS)
    other = "csv" if kind == "pdf" else "pdf"

    for _ in range(2):  # the issue ran sync twice: the same outcome both times
        run = services.engine.sync(NAME)

        assert run.status == "partial"
        assert f"invoice {january['invoice_id']} (2024-01) {kind.upper()}" in run.message
        assert "next sync retries only what is missing" in run.message
        rows = services.sink.rows("Invoices")
        assert [r["Period"] for r in rows] == PERIODS
        assert rows[0][kind.upper()] == "" and rows[0][other.upper()] != ""
        assert all(r[kind.upper()] for r in rows[1:])
        assert services.sink.rows("Runs")[-1]["Status"] == "partial"
    assert run.counts.updated == 1 and run.counts.new == 0  # the second run: only January
    assert len(services.sink.rows("Line Items")) == len(clean["Line Items"])

    do_sim.faults.clear()
    do_sim.requests.clear()
    run = services.engine.sync(NAME)

    assert run.status == "succeeded", run.message
    base = f"/v2/customers/my/invoices/{january['invoice_uuid']}"
    assert sorted(set(fetches(do_sim))) == sorted({base, f"{base}/summary", f"{base}/{kind}"})
    assert ledger(services) == clean
    assert services.sink.rows("Invoices")[0][kind.upper()].endswith(f".{kind}")

    do_sim.requests.clear()
    assert services.engine.sync(NAME).message.startswith("Nothing new")
    assert fetches(do_sim) == []


def test_line_items_that_keep_failing_keep_only_that_invoice_out_then_order_is_restored(
    services: Services, do_sim: DigitalOceanSimulator, clean: dict[str, Any]
) -> None:
    connect(services)
    january = first_invoice(do_sim)
    do_sim.faults.add("500", path=f"/v2/customers/my/invoices/{january['invoice_uuid']}",
                      times=ALWAYS)  # fmt: skip

    run = services.engine.sync(NAME)

    assert run.status == "partial" and run.counts.new == 2
    assert f"invoice {january['invoice_id']} (2024-01) line items" in run.message
    assert [r["Period"] for r in services.sink.rows("Invoices")] == PERIODS[1:]
    assert january["invoice_uuid"] not in {k.split(":")[-1] for k in services.state.index(NAME)}

    do_sim.faults.clear()
    run = services.engine.sync(NAME)

    assert run.status == "succeeded" and run.counts.new == 1, run.message
    assert ledger(services) == clean  # January first again, in Invoices and in Line Items
    periods = [r["Period"] for r in services.sink.rows("Line Items")]
    assert periods == sorted(periods)


def test_every_invoice_failing_is_a_failed_run_not_a_partial_one(
    services: Services, do_sim: DigitalOceanSimulator
) -> None:
    connect(services)
    do_sim.faults.add("500", path="/v2/customers/my/invoices/*/summary", times=ALWAYS)

    run = services.engine.sync(NAME)

    assert run.status == "failed" and "line items" in run.message
    assert services.sink.rows("Invoices") == []


# -- DoiT: no documents, but one invoice's detail can keep failing the same way --------------


@pytest.fixture
def doit_sim() -> Iterator[DoitSimulator]:
    with DoitSimulator(DoitSimConfig(today=TODAY, months=4)) as simulator:
        yield simulator


@pytest.mark.parametrize("where", ["workbook", "sheet"])
def test_doit_invoice_whose_detail_keeps_failing_does_not_block_the_others(
    settings: Settings, doit_sim: DoitSimulator, fake_google: FakeGoogle, where: str
) -> None:
    if where == "workbook":
        services = doit_sync.workbook_services(settings, doit_sim)
    else:
        services = doit_sync.sheet_services(settings, doit_sim, fake_google)
    connection = services.state.get_connection(doit_sync.NAME)
    sink = services.engine.destinations(connection).sink
    listed = services.provider(connection, DEMO_KEY).list_invoices(first_sync=True)
    oldest = min(listed, key=lambda ref: (ref.period, ref.invoice_id))
    doit_sim.faults.add("500", path=f"*/invoices/{oldest.handle['id']}", times=ALWAYS)

    run = services.engine.sync(doit_sync.NAME)

    assert run.status == "partial"
    assert f"invoice {oldest.invoice_id} ({oldest.period}) line items" in run.message
    keys = [r["Invoice Key"] for r in sink.rows("Invoices")]
    assert oldest.key not in keys and len(keys) == len(listed) - 1

    doit_sim.faults.clear()
    run = services.engine.sync(doit_sync.NAME)

    assert run.status == "succeeded", run.message
    rows = sink.rows("Invoices")
    assert rows[0]["Invoice Key"] == oldest.key  # back in its chronological place
    assert [r["Period"] for r in rows] == sorted(r["Period"] for r in rows)


# -- the command line: exit 1, one human line naming the invoice and the document ------------


def test_cli_partial_sync_exits_1_with_one_line_naming_invoice_and_document(
    tmp_path: Path, do_sim: DigitalOceanSimulator
) -> None:
    home = tmp_path / "home"
    env = {"DIGITALOCEAN_API_URL": do_sim.url, "DIGITALOCEAN_TOKEN": DEMO_TOKEN}
    connected = billsync(home, ["connect", "digitalocean", "--name", NAME], env=env)
    assert connected.returncode == 0, connected.stderr
    january = first_invoice(do_sim)
    do_sim.faults.add("500", path=f"/v2/customers/my/invoices/{january['invoice_uuid']}/pdf",
                      times=ALWAYS)  # fmt: skip

    for _ in range(2):
        result = billsync(home, ["sync"], env=env)

        assert result.returncode == 1
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        named = [line for line in lines if january["invoice_id"] in line]
        assert len(named) == 1 and "2024-01" in named[0] and "PDF" in named[0]
        assert "retries" in named[0]
        assert not [line for line in lines if line.lstrip().startswith("{")]  # no JSON log


# -- the Google Sheet: the same, and the late invoice is inserted in its place ---------------


def test_sheet_gets_a_late_invoice_in_its_chronological_place(
    settings: Settings,
    do_sim: DigitalOceanSimulator,
    fake_google: FakeGoogle,
    clean: dict[str, Any],
) -> None:
    services, _ = google_services(settings, do_sim, fake_google)
    january = first_invoice(do_sim)
    do_sim.faults.add("500", path=f"/v2/customers/my/invoices/{january['invoice_uuid']}",
                      times=ALWAYS)  # fmt: skip

    run = services.engine.sync(NAME)

    assert run.status == "partial" and "(2024-01) line items" in run.message
    assert [r["Period"] for r in sheet(services).rows("Invoices")] == PERIODS[1:]

    do_sim.faults.clear()
    run = services.engine.sync(NAME)

    assert run.status == "succeeded", run.message
    assert ledger(sheet(services)) == clean  # January first, in Invoices and in Line Items
    inserts = [r for call in fake_google.calls.of("sheets.spreadsheets.batchUpdate")
               for r in call.body["requests"] if "insertDimension" in r]  # fmt: skip
    assert len(inserts) == 2  # its lines, then its invoice row
