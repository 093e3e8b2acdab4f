"""The Summary tab's tables: spend per month x category, x project, per provider/account, and
the pass-through table; each per currency (never summed across currencies), with the change
from the series' previous billed month. Pure: Line Items rows in, plain tables out; both sinks
render the same tables (the workbook as values, the Sheet as values plus a chart)."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from api.core.categories import CATEGORIES
from api.core.model import is_preview_key
from api.core.passthrough import PASS_THROUGH_COLUMNS, PassThrough

NO_PROJECT = "(no project)"
PREVIEW_SUFFIX = " (preview)"
NO_DATE = "(no date)"  # an inbox PDF whose date could not be read: counted, and visible
RATIO = Decimal("0.000001")  # Change % kept to 0.0001 % (shown to 0.1 %)
COMPARED = "Compared with"
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class Table:
    """One block of the Summary tab: a title row, a header row, data rows.

    `money` names the columns holding Decimal amounts, in `currency` (the whole table's ISO 4217
    code) or, when `currency_column` is set, in the code that column holds on each row.
    `percent` names the columns holding ratios as fractions (0.125 = 12.5 %). `chart` marks the
    table a chart is drawn from: column 0 is the category axis (months), the columns in
    `series` the stacked series.
    """

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    money: frozenset[str] = frozenset()
    percent: frozenset[str] = frozenset()
    chart: bool = False
    series: tuple[str, ...] = ()
    currency: str = ""
    currency_column: str = ""

    def row_currency(self, row: Sequence[Any]) -> str:
        """The currency code of the money cells of `row` ('' when unknown)."""
        if self.currency_column:
            return str(row[self.header.index(self.currency_column)] or "")
        return self.currency


@dataclass(frozen=True)
class Placed:
    """A table and the 0-based row of its title in the Summary tab."""

    table: Table
    top: int

    @property
    def header_row(self) -> int:
        return self.top + 1

    @property
    def first_row(self) -> int:
        return self.top + 2

    @property
    def end_row(self) -> int:  # exclusive
        return self.first_row + len(self.table.rows)


def summary_tables(
    lines: Sequence[Mapping[str, Any]], passthrough: Sequence[PassThrough] = ()
) -> list[Table]:
    """All Summary tables for Line Items rows (dicts keyed by the ledger's column names, Amount
    a Decimal). Currencies in order of their number of lines, most first (amounts in different
    currencies do not compare); the category table of the first is the chart's source."""
    currencies = _currencies(lines)
    tables = [_by_category(lines, currency, first=i == 0) for i, currency in enumerate(currencies)]
    tables += [_by_project(lines, currency) for currency in currencies]
    tables.append(_by_account(lines))
    if passthrough:
        tables.append(Table(
            "Pass-through by client (cost, markup, amount to re-bill)", PASS_THROUGH_COLUMNS,
            tuple(row.row() for row in passthrough),
            money=frozenset({"Cost", "Billable Cost", "Markup", "Re-bill"}),
            currency_column="Currency",
        ))  # fmt: skip
    return tables


def place(tables: Iterable[Table]) -> list[Placed]:
    """Tables stacked top to bottom with one empty row between them."""
    placed, top = [], 0
    for table in tables:
        placed.append(Placed(table, top))
        top += len(table.rows) + 3
    return placed


def compared_months(periods: Iterable[str]) -> dict[str, str]:
    """Each month of one series -> the month it is compared with: the latest earlier month the
    series has lines in (a series billed every other month compares with two months before);
    the first month, and a period that is not YYYY-MM, have none ('')."""
    months = sorted({p for p in periods if _MONTH.fullmatch(p)})
    return dict(zip(months, ["", *months], strict=False))  # none at all: {}


def _by_category(lines: Sequence[Mapping[str, Any]], currency: str, *, first: bool) -> Table:
    cells: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in _in(lines, currency):
        cells[(_period(line), str(line.get("Category") or "Other"))] += _amount(line)
    present = {category for _, category in cells}
    categories = [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))
    totals = _totals(cells, lambda key: key[0])
    compared = compared_months(totals)
    rows = []
    for period in sorted(totals):
        before = compared.get(period, "")
        change = _change(totals[period], totals.get(before))
        rows.append((period, *(cells.get((period, c), Decimal(0)) for c in categories),
                     totals[period], before or None, *change))  # fmt: skip
    header = ("Period", *categories, "Total", COMPARED, "Change", "Change %")
    return Table(
        f"Monthly spend by category ({currency})", header, tuple(rows),
        money=frozenset({*categories, "Total", "Change"}), percent=frozenset({"Change %"}),
        chart=first, series=tuple(categories), currency=currency,
    )  # fmt: skip


def _by_project(lines: Sequence[Mapping[str, Any]], currency: str) -> Table:
    cells: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    for line in _in(lines, currency):
        cells[(_period(line), str(line.get("Project") or "") or NO_PROJECT)] += _amount(line)
    compared = _compared_by_series(cells, period=0)
    rows = []
    for key in sorted(cells):
        before = compared[key]
        amount = cells[key]
        change = _change(amount, cells.get(before) if before else None)[0]
        rows.append((*key, amount, before[0] if before else None, change))
    return Table(
        f"Monthly spend by project ({currency})",
        ("Period", "Project", "Amount", COMPARED, "Change"), tuple(rows),
        money=frozenset({"Amount", "Change"}), currency=currency,
    )  # fmt: skip


def _by_account(lines: Sequence[Mapping[str, Any]]) -> Table:
    cells: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    for line in lines:
        series = (str(line.get("Provider") or ""), str(line.get("Account") or ""),
                  str(line.get("Currency") or ""))  # fmt: skip
        cells[(*series, _period(line))] += _amount(line)
    compared = _compared_by_series(cells, period=3)
    rows = []
    for key in sorted(cells):
        before = compared[key]
        amount = cells[key]
        change = _change(amount, cells.get(before) if before else None)[0]
        rows.append((*key, amount, before[3] if before else None, change))
    return Table(
        "Monthly spend by provider and account",
        ("Provider", "Account", "Currency", "Period", "Amount", COMPARED, "Change"), tuple(rows),
        money=frozenset({"Amount", "Change"}), currency_column="Currency",
    )  # fmt: skip


def _compared_by_series(
    cells: Mapping[tuple[str, ...], Decimal], *, period: int
) -> dict[tuple[str, ...], tuple[str, ...] | None]:
    """Each key -> the key of the same series (the key less its item `period`) in the month it
    is compared with (compared_months); None when there is none."""

    def series(key: tuple[str, ...]) -> tuple[str, ...]:
        return key[:period] + key[period + 1 :]

    periods: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for key in cells:
        periods[series(key)].append(key[period])
    months = {name: compared_months(found) for name, found in periods.items()}
    result: dict[tuple[str, ...], tuple[str, ...] | None] = {}
    for key in cells:
        before = months[series(key)].get(key[period], "")
        result[key] = (*key[:period], before, *key[period + 1 :]) if before else None
    return result


def _currencies(lines: Sequence[Mapping[str, Any]]) -> list[str]:
    count: dict[str, int] = defaultdict(int)
    for line in lines:
        count[str(line.get("Currency") or "")] += 1
    return sorted(count, key=lambda c: (-count[c], c))


def _in(lines: Sequence[Mapping[str, Any]], currency: str) -> Iterable[Mapping[str, Any]]:
    return (line for line in lines if str(line.get("Currency") or "") == currency)


def _totals(cells: Mapping[Any, Decimal], key: Any) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for cell, amount in cells.items():
        totals[key(cell)] += amount
    return totals


def _change(amount: Decimal, before: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
    """(amount - before, that as a fraction of |before|); Nones without a month to compare
    with, no ratio when that month summed to 0. |before|: a credit month (negative) followed
    by spend is a rise, not a fall."""
    if before is None:
        return None, None
    change = amount - before
    return change, (change / abs(before)).quantize(RATIO) if before else None


def _period(line: Mapping[str, Any]) -> str:
    """The row a line counts in: its Period; a month-to-date preview's lines (DigitalOcean's
    running total, not an invoice yet) count apart, in "<YYYY-MM> (preview)", so a partial month
    is neither mixed with that month's invoices nor compared as if it were a whole one."""
    value = line.get("Period")
    # a month retyped in a spreadsheet may come back as a date: it still means that month
    period = f"{value:%Y-%m}" if isinstance(value, dt.date) else str(value or "") or NO_DATE
    preview = is_preview_key(str(line.get("Invoice Key") or ""))
    return f"{period}{PREVIEW_SUFFIX}" if preview else period


def _amount(line: Mapping[str, Any]) -> Decimal:
    value = line.get("Amount")
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))
