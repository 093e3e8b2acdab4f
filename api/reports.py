"""Rebuild the Summary tab and re-apply the Clients rules on a ledger (the shell around the pure
summary and allocation functions); run after every sync, skipped when nothing it reads changed."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from api.core.allocation import (
    BARE_FIELDS,
    MATCH_FIELDS,
    Allocation,
    Rule,
    allocate_all,
    parse_rules,
)
from api.core.model import ALLOCATION_COLUMNS
from api.core.passthrough import invoice_shares, pass_through
from api.core.rows import not_numbers
from api.core.summary import summary_tables
from api.core.text import counted
from api.errors import ConfigError
from api.ports import ArchivingSink, LedgerSink, ReportSink

CLIENTS_TAB = "Clients"
# The Line Items columns allocation, shares and the Summary tables read (a workbook leaves
# the others, such as the Start/End dates, undecoded): a table that needs another adds it here.
REPORT_COLUMNS = frozenset({
    *(name for names in MATCH_FIELDS.values() for name in names), *BARE_FIELDS,
    "Provider", "Invoice Key", "Period", "Amount", "Currency", "Line Key", *ALLOCATION_COLUMNS,
})  # fmt: skip
# Part of every mark: a release that changes what the Summary holds (its tables, columns or
# formats) bumps it, so the first refresh after an upgrade rebuilds the Summary once.
REPORT_FORMAT = "2"


def refresh(sink: LedgerSink, *, force: bool = False) -> list[str]:
    """Allocate every line by the Clients rules, write the changed Client/Billable cells and
    the Summary tab; returns one message per bad rule. A sink without report support is left
    alone.

    Skipped, returning no message, when the sink reports that its Line Items, Clients rules
    and Summary are as the last refresh left them (`report_mark` equals this refresh's mark):
    the same rules were reported when they were applied. `force` rebuilds anyway.
    """
    return _refresh(sink, force)[0]


def run_notes(sink: LedgerSink) -> list[str]:
    """`refresh` as a run's last step (the engine's and the inbox's `after_change`): the bad
    rules, then a sentence when the rules moved lines that had a Client already (an edit of the
    Clients tab), so a run that fetched nothing still says what it did; new lines don't count."""
    problems, moved = _refresh(sink, False)
    if not moved:
        return problems
    return [
        *problems,
        f"Clients rules applied: {counted(moved, 'line item')} changed client or billable.",
    ]


def _refresh(sink: LedgerSink, force: bool) -> tuple[list[str], int]:
    """(messages for bad rules, lines with a Client already whose allocation changed)."""
    if not isinstance(sink, ReportSink):
        return [], 0
    rules, problems = parse_rules(sink.rows(CLIENTS_TAB))
    mark = report_mark(rules, problems)
    if not force and sink.report_mark() == mark:
        return [], 0
    lines = sink.rows("Line Items", REPORT_COLUMNS)
    require_numbers(
        not_numbers(lines, "Amount", "Line Items"),
        "Correct or clear those cells (a full sync also rewrites them from the provider); the "
        "Summary is rebuilt by the next sync.",
    )
    archived = archived_lines(sink)  # read only once the ledger's own lines are usable
    allocations = allocate_all(lines, rules)
    every = [*archived, *lines]
    shares = invoice_shares(every, [*allocate_all(archived, rules), *allocations])
    tables = summary_tables(every, pass_through(shares))
    changed = changed_allocations(lines, allocations)
    sink.write_reports(tables, changed, mark)
    moved = sum(1 for line in lines
                if line.get("Client") and str(line.get("Line Key")) in changed)  # fmt: skip
    return list(problems), moved


def require_numbers(bad: Sequence[str], action: str) -> None:
    """ConfigError naming every cell `not_numbers` found (none: nothing happens)."""
    if bad:
        raise ConfigError("; ".join(bad) + ".", action=action)


def archived_lines(sink: LedgerSink) -> list[dict[str, Any]]:
    """The Line Items of every year moved to an archive (one read of each per refresh; they
    count in the Summary's totals, but their Client/Billable cells are left as they are)."""
    if not isinstance(sink, ArchivingSink):
        return []
    return [line for tab in sink.archive_tabs() for line in sink.rows(tab, REPORT_COLUMNS)]


def report_mark(rules: Sequence[Rule], problems: Sequence[str]) -> str:
    """What a Summary was built with, besides the Line Items: the report format and the
    Clients rules as parsed (so a cell typed as a number or as text reads the same), with the
    messages for bad rows. A SHA-256, 16 hex digits."""
    text = repr((REPORT_FORMAT, tuple(rules), tuple(problems)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def allocations_by_key(
    lines: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Allocation], tuple[str, ...]]:
    """Line Key -> Allocation by the Clients rows, and the messages for bad rules."""
    rules, problems = parse_rules(rows)
    keys = [str(line.get("Line Key")) for line in lines]
    return dict(zip(keys, allocate_all(lines, rules), strict=True)), problems


def changed_allocations(
    lines: Sequence[Mapping[str, Any]], allocations: Sequence[Allocation]
) -> dict[str, tuple[str, bool]]:
    """Line Key -> (Client, Billable) for the lines whose cells differ from the rules' answer:
    only those rows are rewritten."""
    changed = {}
    for line, allocation in zip(lines, allocations, strict=True):
        wanted = (allocation.client, allocation.billable)
        if (line.get("Client"), line.get("Billable")) != wanted:
            changed[str(line.get("Line Key"))] = wanted
    return changed
