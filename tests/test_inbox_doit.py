"""A DoiT invoice PDF downloaded from the console: attached to the API row, kept on updates."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from api.extract.local import LocalExtractor
from api.factory import Services
from api.inboxes import local_inbox
from api.settings import Settings
from api.simulators.doit import DoitSimConfig, DoitSimulator
from tests.conftest import TODAY
from tests.fakes import invoice_pdfs
from tests.test_doit_sync import NAME, workbook_services


@pytest.fixture
def doit_sim() -> Iterator[DoitSimulator]:
    with DoitSimulator(DoitSimConfig(today=TODAY, months=8)) as simulator:
        yield simulator


def test_a_doit_pdf_is_attached_and_stays_linked_when_the_invoice_changes(
    settings: Settings, doit_sim: DoitSimulator
) -> None:
    services: Services = workbook_services(settings, doit_sim)
    assert services.engine.sync(NAME).status == "succeeded"
    rows = services.sink.rows("Invoices")
    # The newest open USD invoice: 40 days later it is due or paid, so its row is rewritten.
    target = max((r for r in rows if r["Currency"] == "USD" and r["Balance Due"]),
                 key=lambda r: r["Invoice Date"])  # fmt: skip
    truth = invoice_pdfs.Truth(
        target["Invoice ID"], target["Invoice Date"], target["Invoice Date"], "DoiT", "USD",
        (("Google Cloud", Decimal(1), target["Total"]),), tax_rate=Decimal(0),
    )  # fmt: skip
    services.settings.inbox_dir.mkdir(parents=True)
    (services.settings.inbox_dir / "doit.pdf").write_bytes(invoice_pdfs.render("ruled", truth))

    run = local_inbox(services, LocalExtractor()).run()

    assert run is not None and run.counts.updated == 1, run and run.message
    row = {r["Invoice Key"]: r for r in services.sink.rows("Invoices")}[target["Invoice Key"]]
    assert row["PDF Total"] == target["Total"] and row["Reconciled"] is True
    assert row["PDF"].endswith(f"{target['Invoice ID']}.pdf") and row["Review"] == ""

    doit_sim.advance(days=40)  # dues pass, payments land: DoiT rows are updated in place
    assert services.engine.sync(NAME).status == "succeeded"

    after = {r["Invoice Key"]: r for r in services.sink.rows("Invoices")}[target["Invoice Key"]]
    assert (after["Status"], after["Balance Due"]) != (row["Status"], row["Balance Due"])
    assert after["PDF"] == row["PDF"], "the attached PDF stays linked"
    assert after["PDF Total"] == target["Total"], "and is read again"
