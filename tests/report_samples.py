"""A small ledger for the Summary, Clients and export tests: a DigitalOcean month with taxes and
credits, and a DoiT month billed in two currencies (one invoice in each)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from api.core.model import Invoice, LedgerBatch, LineItem

# (provider, account, id, period, currency, [(product, category, description, project, amount)])
INVOICES: list[tuple[str, str, str, str, str, list[tuple[str, str, str, str, str]]]] = [
    ("digitalocean", "team", "1001", "2026-01", "USD", [
        ("Droplets", "Compute", "web-01", "web-shop", "40.00"),
        ("Droplets", "Compute", "web-02", "web-shop", "20.01"),
        ("Managed Databases", "Databases", "db backup nightly", "", "33.33"),
        ("Spaces", "Storage", "assets", "internal", "5.00"),
        ("Taxes", "Tax", "STATE SALES TAX", "", "7.85"),
        ("Credits", "Credit", "Promo credit", "", "-10.00"),
    ]),
    ("digitalocean", "team", "1002", "2026-02", "USD", [
        ("Droplets", "Compute", "web-01", "web-shop", "44.00"),
        ("Taxes", "Tax", "STATE SALES TAX", "", "3.33"),
    ]),
    ("doit", "example.com", "IN501", "2026-02", "EUR", [
        ("Google Workspace", "Platform", "Business Starter", "", "60.00"),
        ("", "Compute", "=cmd|' /C calc'!A0", "analytics", "12.34"),
        ("VAT", "Tax", "VAT 19%", "", "13.74"),
    ]),
    ("doit", "example.com", "IN502", "2026-02", "GBP", [
        ("Looker", "Platform", "seats", "bi", "99.99"),
        ("VAT", "Tax", "VAT 20%", "", "20.00"),
    ]),
    ("doit", "example.com", "IN503", "2026-02", "GBP", [
        ("Credit note", "Credit", "refund of IN499", "", "-30.00"),
    ]),
]  # fmt: skip

# USD every month, JPY every other month (DoiT bills Looker that way, see the DoiT simulator's
# profiles), KWD once: three minor units (0, 2, 3 decimals) and a series with gap months.
SPARSE: list[tuple[str, str, str, str, str, list[tuple[str, str, str, str, str]]]] = [
    ("digitalocean", "team", "2001", "2026-01", "USD", [
        ("Droplets", "Compute", "web-01", "web-shop", "40.00"),
        ("Credits", "Credit", "Promo credit", "", "-50.00"),
    ]),
    ("digitalocean", "team", "2002", "2026-02", "USD", [
        ("Droplets", "Compute", "web-01", "web-shop", "50.00"),
    ]),
    ("digitalocean", "team", "2003", "2026-03", "USD", [
        ("Droplets", "Compute", "web-01", "web-shop", "45.50"),
    ]),
    ("doit", "tokyo.example.com", "JP2", "2026-02", "JPY", [
        ("Looker Platform", "Platform", "Standard edition", "bi", "180000"),
        ("Consumption tax", "Tax", "JCT 10%", "", "18000"),
    ]),
    ("doit", "tokyo.example.com", "JP4", "2026-04", "JPY", [
        ("Looker Platform", "Platform", "Standard edition", "bi", "198000"),
        ("Consumption tax", "Tax", "JCT 10%", "", "19800"),
    ]),
    ("doit", "tokyo.example.com", "JP6", "2026-06", "JPY", [
        ("Looker Platform", "Platform", "Standard edition", "bi", "99000"),
    ]),
    ("doit", "kuwait.example.com", "KW3", "2026-03", "KWD", [
        ("Compute Engine", "Compute", "vm-1", "ops", "12.345"),
    ]),
]  # fmt: skip

RULES = [
    {"Match": "project: web-*", "Client": "Acme", "Billable": "yes", "Markup %": "10"},
    {"Match": "description: backup", "Client": "Globex", "Billable": "yes", "Markup %": "15"},
    {"Match": "projekt: oops", "Client": "Typo", "Billable": "yes", "Markup %": ""},
    {"Match": "analytics", "Client": "Initech", "Billable": "no", "Markup %": ""},
]


def ledger_batch(sample: list[tuple[str, str, str, str, str, list[Any]]] = INVOICES) -> LedgerBatch:
    invoices, lines = [], []
    for provider, account, number, period, currency, items in sample:
        key = f"{provider}:{account}:{number}"
        year, month = int(period[:4]), int(period[5:])
        total = sum((Decimal(item[4]) for item in items), Decimal(0))
        invoices.append(Invoice(
            provider=provider, account=account, invoice_id=number, key=key, period=period,
            status="Paid", currency=currency, total=total, invoice_date=dt.date(year, month, 28),
            due_date=dt.date(year, month, 28) + dt.timedelta(days=14), line_count=len(items),
            lines_total=total,
        ))  # fmt: skip
        for position, (product, category, description, project, amount) in enumerate(items, 1):
            lines.append(LineItem(
                provider=provider, account=account, invoice_id=number, invoice_key=key,
                period=period, position=position, product=product, category=category,
                description=description, amount=Decimal(amount), currency=currency,
                project=project,
            ))  # fmt: skip
    return LedgerBatch(invoices=tuple(invoices), lines=tuple(lines))


def sums(lines: Iterable[Mapping[str, Any]], *keys: str) -> dict[tuple[Any, ...], Decimal]:
    """Amount summed by the given Line Items columns: the test's own arithmetic."""
    result: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    for line in lines:
        result[tuple(line[k] or "" for k in keys)] += line["Amount"]
    return dict(result)


def invoice_totals() -> dict[str, tuple[str, Decimal]]:
    return {number: (currency, sum((Decimal(i[4]) for i in items), Decimal(0)))
            for _, _, number, _, currency, items in INVOICES}  # fmt: skip


def summary_blocks(rows: list[list[Any]]) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The Summary tab's cells (a list of rows) as title -> (header, data rows)."""
    blocks: dict[str, tuple[list[str], list[list[Any]]]] = {}
    at = 0
    while at < len(rows):
        if not rows[at] or rows[at][0] in (None, ""):
            at += 1
            continue
        title, header = rows[at][0], [c for c in rows[at + 1] if c not in (None, "")]
        data, at = [], at + 2
        while at < len(rows) and rows[at] and rows[at][0] not in (None, ""):
            data.append((list(rows[at]) + [None] * len(header))[: len(header)])
            at += 1
        blocks[title] = (header, data)
    return blocks


def check_summary(lines: list[dict[str, Any]], blocks: dict[str, Any]) -> None:
    """Every Summary number equals the Line Items sums, per currency (the test's arithmetic).
    A month-to-date preview's lines sum in their own row, "<YYYY-MM> (preview)"."""
    from api.core.summary import NO_PROJECT

    lines = [{**x, "Period": f"{x['Period']} (preview)"} if ":preview:" in str(x["Invoice Key"])
             else x for x in lines]  # fmt: skip

    for (currency,) in sums(lines, "Currency"):
        mine = [x for x in lines if x["Currency"] == currency]
        header, rows = blocks[f"Monthly spend by category ({currency})"]
        by_category = sums(mine, "Period", "Category")
        for row in rows:
            cells = dict(zip(header, row, strict=True))
            for category in header[1:-4]:  # Period, categories, Total, Compared with, Change, %
                want = by_category.get((cells["Period"], category), Decimal(0))
                assert Decimal(str(cells[category])) == want, (currency, cells, category)
            total = sum(v for (p, _), v in by_category.items() if p == cells["Period"])
            assert Decimal(str(cells["Total"])) == total
        assert {r[0] for r in rows} == {p for (p, _) in by_category}
        header, rows = blocks[f"Monthly spend by project ({currency})"]
        got = {(r[0], r[1]): Decimal(str(r[2])) for r in rows}
        want = {(p, q or NO_PROJECT): v for (p, q), v in sums(mine, "Period", "Project").items()}
        assert got == want
    header, rows = blocks["Monthly spend by provider and account"]
    got = {tuple(r[:4]): Decimal(str(r[4])) for r in rows}
    assert got == sums(lines, "Provider", "Account", "Currency", "Period")


# The formats a bookkeeper expects: money in its currency's minor unit, ratios in percent.
SHOWN = {
    "USD": "#,##0.00",
    "EUR": "#,##0.00",
    "GBP": "#,##0.00",
    "JPY": "#,##0",
    "KWD": "#,##0.000",
}
PERCENT = "0.0%"
NOT_MONEY = frozenset({"Period", "Project", "Provider", "Account", "Currency", "Client",
                       "Compared with", "Change %"})  # fmt: skip


def check_formats(values: list[list[Any]], formats: list[list[Any]]) -> int:
    """Every number of the Summary (cell values and their number format patterns, row by row)
    has its currency's format (the title's "(JPY)" or the row's Currency) or the percent
    format; returns how many cells were checked."""
    checked = 0
    for title, (header, rows) in summary_blocks(values).items():
        top = next(i for i, row in enumerate(values) if row and row[0] == title)
        for offset, row in enumerate(rows):
            cells = dict(zip(header, row, strict=True))
            currency = cells.get("Currency") or title.rpartition("(")[2].rstrip(")")
            shown = (formats[top + 2 + offset] + [None] * len(header))[: len(header)]
            for name, value, pattern in zip(header, row, shown, strict=True):
                if isinstance(value, int | float | Decimal) and name not in NOT_MONEY:
                    assert pattern == SHOWN[currency], (title, name, value, pattern)
                    checked += 1
                elif name == "Change %" and value not in (None, ""):
                    assert pattern == PERCENT, (title, value, pattern)
                    checked += 1
    return checked


def inbox_batch(period: str) -> LedgerBatch:
    """One PDF invoice of `period` as the inbox writes it (Provider PDF, the supplier as its
    Account, USD 24.00 in one line)."""
    from api.core.pdf_ledger import PROVIDER

    key, day, amount = "pdf:linode-42", dt.date.fromisoformat(f"{period}-28"), Decimal("24.00")
    return LedgerBatch(
        invoices=(Invoice(
            provider=PROVIDER, account="Linode LLC", invoice_id="LN-42", key=key,
            period=period, status="", currency="USD", total=amount, invoice_date=day,
            due_date=day, line_count=1, lines_total=amount),),
        lines=(LineItem(
            provider=PROVIDER, account="Linode LLC", invoice_id="LN-42", invoice_key=key,
            period=period, position=1, product="", category="Compute",
            description="Linode 4GB", amount=amount, currency="USD"),),
    )  # fmt: skip
