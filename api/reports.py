"""Rebuild the Summary tab and re-apply the Clients rules on a ledger (the shell around the pure
summary and allocation functions); run after every sync that changed something."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from api.core.allocation import Allocation, allocate_all, parse_rules
from api.core.passthrough import invoice_shares, pass_through
from api.core.summary import summary_tables
from api.ports import ArchivingSink, LedgerSink, ReportSink

CLIENTS_TAB = "Clients"


def refresh(sink: LedgerSink) -> list[str]:
    """Allocate every line by the Clients rules, write the changed Client/Billable cells and
    the Summary tab; returns one message per bad rule (for the Runs row). A sink without
    report support is left alone."""
    if not isinstance(sink, ReportSink):
        return []
    rules, problems = parse_rules(sink.rows(CLIENTS_TAB))
    lines = sink.rows("Line Items")
    archived = archived_lines(sink)
    allocations = allocate_all(lines, rules)
    every = [*archived, *lines]
    shares = invoice_shares(every, [*allocate_all(archived, rules), *allocations])
    tables = summary_tables(every, pass_through(shares))
    sink.write_reports(tables, changed_allocations(lines, allocations))
    return list(problems)


def archived_lines(sink: LedgerSink) -> list[dict[str, Any]]:
    """The Line Items of every year moved to an archive (one read of each per refresh; they
    count in the Summary's totals, but their Client/Billable cells are left as they are)."""
    if not isinstance(sink, ArchivingSink):
        return []
    return [line for tab in sink.archive_tabs() for line in sink.rows(tab)]


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
