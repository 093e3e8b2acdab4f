"""Run counts as a person reads them (issue 9 §5): new, updated and unchanged mean what the
ledger saw, not what the run fetched."""

from __future__ import annotations

from api.core.counts import run_counts
from api.core.diff import INCOMPLETE, plan_sync
from api.core.model import InvoiceRef, RunCounts


def ref(n: int, version: str = "v1") -> InvoiceRef:
    return InvoiceRef(f"do:{n}", "digitalocean", str(n), f"2024-0{n}", version)


LISTED = [ref(1), ref(2), ref(3, "v2")]


def test_a_full_rerun_of_unchanged_invoices_counts_them_unchanged() -> None:
    index = {"do:1": "v1", "do:2": "v1", "do:3": "v2"}
    plan = plan_sync(LISTED, index, full=True)
    written = [(r.key, r.version) for r in LISTED]
    lines = {"do:1": 4, "do:2": 3, "do:3": 2}  # rewritten, but the ledger saw no change

    assert run_counts(plan, written, index, set(index), lines=lines) == RunCounts(
        new=0, updated=0, unchanged=3, removed=0, line_items=0
    )


def test_a_changed_version_and_a_retried_incomplete_invoice_count_updated() -> None:
    index = {"do:1": "v1", "do:2": INCOMPLETE, "do:3": "v1"}
    plan = plan_sync(LISTED, index)
    written = [("do:2", INCOMPLETE), ("do:3", "v2")]  # do:2's document failed again

    counts = run_counts(plan, written, index, set(index), lines={"do:2": 3, "do:3": 5})
    assert (counts.new, counts.updated, counts.unchanged) == (0, 2, 1)
    assert counts.line_items == 8  # the lines of the two updated invoices


def test_a_reconnected_account_already_in_the_ledger_adds_nothing_new() -> None:
    plan = plan_sync(LISTED, {})  # a new connection: an empty index
    written = [(r.key, r.version) for r in LISTED]

    lines = {"do:1": 1, "do:2": 2, "do:3": 4}
    held = run_counts(plan, written, {}, {"do:1", "do:2", "do:3"}, lines=lines)
    fresh = run_counts(plan, written, {}, set(), lines=lines)
    no_ledger = run_counts(plan, written, {}, None, lines=lines)
    some = run_counts(plan, written, {}, {"do:1"}, lines=lines)

    assert (held.new, held.unchanged, held.line_items) == (0, 3, 0)
    assert fresh.new == no_ledger.new == 3
    assert fresh.line_items == no_ledger.line_items == 7
    assert (some.new, some.line_items) == (2, 6)
