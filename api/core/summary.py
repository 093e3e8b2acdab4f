"""The Summary tab's tables: spend per month x category, x project, per provider/account, and
the pass-through table; each per currency (never summed across currencies), with the change
from the previous calendar month. Pure: Line Items rows in, plain tables out; both sinks render
the same tables (the workbook as values, the Sheet as values plus a chart)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from api.core.categories import CATEGORIES
from api.core.passthrough import PASS_THROUGH_COLUMNS, PassThrough

NO_PROJECT = "(no project)"
POINTS = Decimal("0.01")


@dataclass(frozen=True)
class Table:
    """One block of the Summary tab: a title row, a header row, data rows.

    `money` names the columns holding Decimal amounts, `percent` those holding percent points
    (12.5 = 12.5 %). `chart` marks the table a chart is drawn from: column 0 is the category
    axis (months), the columns in `series` the stacked series.
    """

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    money: frozenset[str] = frozenset()
    percent: frozenset[str] = frozenset()
    chart: bool = False
    series: tuple[str, ...] = ()


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
        ))  # fmt: skip
    return tables


def place(tables: Iterable[Table]) -> list[Placed]:
    """Tables stacked top to bottom with one empty row between them."""
    placed, top = [], 0
    for table in tables:
        placed.append(Placed(table, top))
        top += len(table.rows) + 3
    return placed


def previous_month(period: str) -> str:
    """'2026-01' -> '2025-12'; anything else -> ''."""
    try:
        year, month = int(period[:4]), int(period[5:7])
    except ValueError:
        return ""
    if len(period) != 7 or period[4] != "-" or not 1 <= month <= 12:
        return ""
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def _by_category(lines: Sequence[Mapping[str, Any]], currency: str, *, first: bool) -> Table:
    cells: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in _in(lines, currency):
        cells[(_period(line), str(line.get("Category") or "Other"))] += _amount(line)
    present = {category for _, category in cells}
    categories = [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))
    totals = _totals(cells, lambda key: key[0])
    rows = []
    for period in sorted(totals):
        change, ratio = _change(totals, period)
        rows.append((period, *(cells.get((period, c), Decimal(0)) for c in categories),
                     totals[period], change, ratio))  # fmt: skip
    header = ("Period", *categories, "Total", "Change", "Change %")
    return Table(
        f"Monthly spend by category ({currency})", header, tuple(rows),
        money=frozenset({*categories, "Total", "Change"}), percent=frozenset({"Change %"}),
        chart=first, series=tuple(categories),
    )  # fmt: skip


def _by_project(lines: Sequence[Mapping[str, Any]], currency: str) -> Table:
    cells: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in _in(lines, currency):
        cells[(_period(line), str(line.get("Project") or "") or NO_PROJECT)] += _amount(line)
    rows = []
    for period, project in sorted(cells):
        before = cells.get((previous_month(period), project))
        rows.append((period, project, cells[(period, project)],
                     None if before is None else cells[(period, project)] - before))  # fmt: skip
    return Table(
        f"Monthly spend by project ({currency})", ("Period", "Project", "Amount", "Change"),
        tuple(rows), money=frozenset({"Amount", "Change"}),
    )  # fmt: skip


def _by_account(lines: Sequence[Mapping[str, Any]]) -> Table:
    cells: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        key = (str(line.get("Provider") or ""), str(line.get("Account") or ""),
               str(line.get("Currency") or ""), _period(line))  # fmt: skip
        cells[key] += _amount(line)
    rows = []
    for provider, account, currency, period in sorted(cells):
        amount = cells[(provider, account, currency, period)]
        before = cells.get((provider, account, currency, previous_month(period)))
        rows.append((provider, account, currency, period, amount,
                     None if before is None else amount - before))  # fmt: skip
    return Table(
        "Monthly spend by provider and account",
        ("Provider", "Account", "Currency", "Period", "Amount", "Change"), tuple(rows),
        money=frozenset({"Amount", "Change"}),
    )  # fmt: skip


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


def _change(totals: Mapping[str, Decimal], period: str) -> tuple[Decimal | None, Decimal | None]:
    before = totals.get(previous_month(period))
    if before is None:
        return None, None
    change = totals[period] - before
    return change, (change * 100 / before).quantize(POINTS) if before else None


def _period(line: Mapping[str, Any]) -> str:
    return str(line.get("Period") or "")


def _amount(line: Mapping[str, Any]) -> Decimal:
    value = line.get("Amount")
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))
