"""How a run ends: status from what happened, and the one line a person reads."""

from __future__ import annotations

import re

import pytest

from api.core.diff import INCOMPLETE, plan_sync
from api.core.model import InvoiceRef, RunCounts
from api.core.outcome import RunOutcome, Shortfall

PDF = Shortfall("588179306", "2024-01", "pdf", "DigitalOcean had a server error (HTTP 500). More.")
ITEMS = Shortfall("588179307", "2024-02", "line items", "DigitalOcean timed out.")


@pytest.mark.parametrize(
    ("error", "shortfalls", "written", "status"),
    [
        (None, [], 0, "succeeded"),
        (None, [], 3, "succeeded"),
        (None, [PDF], 3, "partial"),  # the row is in, its PDF cell empty
        (None, [PDF], 1, "partial"),  # --full rewrote it unchanged, still without its PDF
        (None, [ITEMS], 2, "partial"),
        (None, [ITEMS], 0, "failed"),  # nothing could be written
        ("The token was rejected.", [], 1, "failed"),
    ],
)
def test_status(error: str | None, shortfalls: list[Shortfall], written: int, status: str) -> None:
    assert RunOutcome(error=error, shortfalls=shortfalls, written=written).status() == status


def test_a_partial_message_names_invoice_period_and_document_then_what_happens_next() -> None:
    outcome = RunOutcome(counts=RunCounts(new=3, line_items=20), shortfalls=[PDF])

    assert outcome.message() == (
        "3 new, 0 updated, 0 unchanged; 20 line items written. Not complete: invoice 588179306 "
        "(2024-01) PDF: DigitalOcean had a server error (HTTP 500) (their invoice rows were "
        "written with those cells empty). The next sync retries only what is missing; if it "
        "keeps failing, check the provider's status page or open the invoice in its console."
    )


def test_many_shortfalls_stay_one_readable_line() -> None:
    many = [Shortfall(str(n), f"2024-{n:02d}", "csv", "Not found.") for n in range(1, 11)]
    message = RunOutcome(counts=RunCounts(new=10), shortfalls=[*many, ITEMS]).message()

    assert "\n" not in message
    assert len(re.findall(r"invoice \d+ \(", message)) == 3 and "and 8 more" in message
    assert "everything else was written" in message


def test_rebuilt_and_restored_ledgers_say_so() -> None:
    rebuilt = RunOutcome(counts=RunCounts(new=5, line_items=9), restored=4, rebuilt="/l.xlsx")
    moved = RunOutcome(counts=RunCounts(new=4), restored=4, rebuilt="old", moved_to="new")
    restored = RunOutcome(counts=RunCounts(new=2, unchanged=3), restored=2)

    assert rebuilt.message() == (
        "The ledger /l.xlsx was missing: rebuilt from the provider, 4 invoices restored, 1 new, "
        "0 updated, 0 unchanged; 9 line items written."
    )
    assert moved.message().startswith(
        "The ledger old was missing: rebuilt from the provider in new"
    )
    assert restored.message().startswith(
        "2 invoices missing from the ledger restored from the provider, 0 updated, 3 unchanged"
    )


def test_an_incomplete_entry_is_fetched_again_even_when_its_version_is_unchanged() -> None:
    ref = InvoiceRef("digitalocean:a", "digitalocean", "1", "2024-01", version="v1")

    plan = plan_sync([ref], {"digitalocean:a": INCOMPLETE})

    assert plan.update == (ref,) and plan.add == plan.unchanged == ()


def test_counts_of_one_are_singular() -> None:
    one = RunOutcome(counts=RunCounts(new=1, line_items=1))
    idle = RunOutcome(counts=RunCounts(unchanged=1))
    restored = RunOutcome(counts=RunCounts(new=1), restored=1)

    assert one.message() == "1 new, 0 updated, 0 unchanged; 1 line item written."
    assert idle.message() == "Nothing new (1 invoice unchanged)."
    assert restored.message() == (
        "1 invoice missing from the ledger restored from the provider, 0 updated, 0 unchanged; "
        "0 line items written."
    )
