"""DoiT through the engine: changing invoices updated in place, in the workbook and a Sheet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from api import connections
from api.destinations import remember_login
from api.factory import Services, build
from api.google.credentials import SCOPES
from api.settings import Settings
from api.simulators.doit import DEMO_KEY, DoitSimConfig, DoitSimulator
from tests.conftest import TODAY
from tests.fakes.google import FakeGoogle

NAME = "doit"
TENANT = "acme-inc"


@pytest.fixture
def doit_sim() -> Iterator[DoitSimulator]:
    with DoitSimulator(DoitSimConfig(today=TODAY, months=8)) as simulator:
        yield simulator


def workbook_services(settings: Settings, sim: DoitSimulator) -> Services:
    built = build(replace(settings, doit_api_url=sim.url))
    connections.connect(
        state=built.state,
        secrets=built.secrets,
        providers=built.provider,
        provider="doit",
        name=NAME,
        token=DEMO_KEY,
        options={"window_days": 120},
    )
    return built


def sheet_services(settings: Settings, sim: DoitSimulator, fake: FakeGoogle) -> Services:
    settings = replace(
        settings,
        doit_api_url=sim.url,
        google_sheets_api_url=fake.url,
        google_drive_api_url=fake.url,
        google_oauth_token_uri=fake.url + "/token",
    )
    built = build(settings)
    grant = {
        "client_id": "cid",
        "client_secret": "cs",
        "refresh_token": "fake-refresh",
        "scopes": list(SCOPES),
    }
    ref = built.secrets.put("google-oauth", json.dumps(grant))
    remember_login(settings, ref)
    book = fake.sheets.create()  # type: ignore[attr-defined]
    connections.connect(
        state=built.state,
        secrets=built.secrets,
        providers=built.provider,
        provider="doit",
        name=NAME,
        token=DEMO_KEY,
        options={"window_days": 120, "sheet": book.id, "google_ref": ref},
    )
    return built


@pytest.fixture(params=["workbook", "sheet"])
def services(
    request: pytest.FixtureRequest,
    settings: Settings,
    doit_sim: DoitSimulator,
    fake_google: FakeGoogle,
) -> Services:
    if request.param == "workbook":
        return workbook_services(settings, doit_sim)
    return sheet_services(settings, doit_sim, fake_google)


def sink(services: Services) -> Any:
    return services.engine.destinations(services.state.get_connection(NAME)).sink


def by_id(services: Services) -> dict[str, dict[str, Any]]:
    return {row["Invoice ID"]: row for row in sink(services).rows("Invoices")}


def test_first_sync_reads_the_whole_history_with_each_currency_kept(
    services: Services, doit_sim: DoitSimulator
) -> None:
    run = services.engine.sync(NAME)
    assert run.status == "succeeded", run.message

    rows = by_id(services)
    expected = doit_sim.visible(TENANT)
    assert set(rows) == {inv.id for inv in expected}
    now = doit_sim.now_ms
    for inv in expected:
        row = rows[inv.id]
        assert (row["Currency"], row["Total"]) == (inv.currency, inv.total)
        assert (row["Status"], row["Balance Due"]) == (inv.status(now), inv.balance(now))
        assert row["Reconciled"] is True
    assert len({row["Currency"] for row in rows.values()}) > 1
    lines = sink(services).rows("Line Items")
    for currency in {row["Currency"] for row in rows.values()}:
        # lines of one currency add up to that currency's invoices: nothing summed across
        of_lines = [line["Amount"] for line in lines if line["Currency"] == currency]
        of_invoices = [row["Total"] for row in rows.values() if row["Currency"] == currency]
        assert sum(of_lines, Decimal(0)) == sum(of_invoices, Decimal(0))


def test_status_and_balance_changes_update_rows_in_place(
    services: Services, doit_sim: DoitSimulator
) -> None:
    services.engine.sync(NAME)
    before = by_id(services)
    order_before = [row["Invoice ID"] for row in sink(services).rows("Invoices")]

    doit_sim.advance(days=40)  # dues pass, payments land, last month's invoices are posted
    run = services.engine.sync(NAME)

    assert run.status == "succeeded" and run.counts.updated > 0 and run.counts.new > 0
    after = by_id(services)
    now = doit_sim.now_ms
    changed = [
        i
        for i in before
        if (before[i]["Status"], before[i]["Balance Due"])
        != (after[i]["Status"], after[i]["Balance Due"])
    ]
    assert changed  # something really moved, e.g. OPEN -> PAST DUE -> PAID
    for inv in doit_sim.visible(TENANT):
        assert (after[inv.id]["Status"], after[inv.id]["Balance Due"]) == (
            inv.status(now),
            inv.balance(now),
        )
    rows = sink(services).rows("Invoices")
    assert len(rows) == len({row["Invoice Key"] for row in rows})  # never a second row
    assert [row["Invoice ID"] for row in rows][: len(order_before)] == order_before  # in place
    lines = sink(services).rows("Line Items")
    assert len(lines) == len({line["Line Key"] for line in lines})


def test_a_rerun_with_nothing_changed_writes_nothing(
    services: Services, doit_sim: DoitSimulator
) -> None:
    services.engine.sync(NAME)
    before = sink(services).rows("Invoices")
    doit_sim.requests.clear()
    run = services.engine.sync(NAME)
    assert run.status == "succeeded" and run.counts.new == run.counts.updated == 0
    assert sink(services).rows("Invoices") == before
    # one listing page of the 120-day window; no key validation, no invoice fetched
    assert [r.path for r in doit_sim.requests] == ["/billing/v1/invoices"]


def test_a_full_resync_never_duplicates(services: Services, doit_sim: DoitSimulator) -> None:
    services.engine.sync(NAME)
    before = sink(services).rows("Line Items")
    run = services.engine.sync(NAME, full=True)
    assert run.status == "succeeded" and run.counts.new == 0
    assert [line["Line Key"] for line in sink(services).rows("Line Items")] == [
        line["Line Key"] for line in before
    ]
