"""Bills to import into an accounting product: one bill per invoice of a month, in its currency.

Built from the ledger's Invoices and Line Items rows (dicts keyed by column name). Each bill
line is one line item (quantity 1 at its amount, so nothing is lost to quantity x price
rounding); credits stay negative lines. Account codes and tax types come from a per-category
mapping (an `Accounts` tab the user may add; defaults below).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from api.core.allocation import SHARED, UNALLOCATED, Allocation
from api.core.categories import CATEGORIES
from api.core.model import PREVIEW_STATUS, PROVIDER_NAMES
from api.core.pdf_ledger import PROVIDER as PDF_PROVIDER
from api.core.pdf_ledger import UNKNOWN_SUPPLIER

SUPPLIERS = PROVIDER_NAMES  # a provider is the supplier of its own invoices
ACCOUNT_COLUMNS = ("Category", "Xero Account Code", "Xero Tax Type", "QBO Account", "QBO Tax Code")


@dataclass(frozen=True)
class AccountCodes:
    """Where one category's cost is booked in each product; `xero_tax_type` is the user's
    (Accounts tab), "" when not mapped (AccountMap.xero_tax_type then decides)."""

    xero_account: str = "489"  # Xero's default chart: Telephone & Internet
    xero_tax_type: str = ""
    qbo_account: str = "Computer and Internet Expenses"
    qbo_tax_code: str = ""


@dataclass(frozen=True)
class AccountMap:
    """Category -> AccountCodes. A category's mapped Xero tax type is used on every line of it;
    an unmapped line gets `taxed` when it carries a tax amount (the invoice's tax, spread over
    its lines), `untaxed` otherwise: Xero's default names in a US organisation."""

    codes: Mapping[str, AccountCodes] = field(default_factory=dict)
    default: AccountCodes = AccountCodes()
    taxed: str = "Tax on Purchases"
    untaxed: str = "Tax Exempt"

    def of(self, category: str) -> AccountCodes:
        return self.codes.get(category, self.default)

    def xero_tax_type(self, category: str, carries_tax: bool) -> str:
        """The category's mapped tax type, else `taxed` or `untaxed` by `carries_tax`."""
        mapped = self.of(category).xero_tax_type
        return mapped or (self.taxed if carries_tax else self.untaxed)


DEFAULT_ACCOUNTS = AccountMap(
    codes={
        "Platform": AccountCodes("485", "", "Software & apps"),
        "Tax": AccountCodes("489", "", "Taxes & Licenses"),
    }
)


@dataclass(frozen=True)
class BillLine:
    description: str
    amount: Decimal
    category: str
    client: str = ""
    billable: bool = False
    tax: Decimal = Decimal(0)  # the part of the invoice's tax this line carries


@dataclass(frozen=True)
class Bill:
    """One provider invoice as a bill: `total` is the invoice's total, which the lines (with
    the tax amounts they carry) must add up to."""

    number: str
    supplier: str
    invoice_key: str
    period: str
    invoice_date: dt.date
    due_date: dt.date
    currency: str
    total: Decimal
    lines: tuple[BillLine, ...]

    @property
    def lines_total(self) -> Decimal:
        return sum((line.amount + line.tax for line in self.lines), Decimal(0))


def parse_accounts(rows: Sequence[Mapping[str, Any]]) -> tuple[AccountMap, tuple[str, ...]]:
    """An Accounts tab (Category, Xero Account Code, Xero Tax Type, QBO Account, QBO Tax Code)
    over the defaults; a row naming an unknown category is reported and skipped."""
    codes = dict(DEFAULT_ACCOUNTS.codes)
    problems = []
    for number, row in enumerate(rows, 1):
        values = {str(k).strip().lower(): str(v or "").strip() for k, v in row.items()}
        category = values.get("category", "")
        if not any(values.values()):
            continue
        if category not in CATEGORIES:
            problems.append(f"Accounts row {number}: unknown category '{category}' (use one of "
                            f"{', '.join(CATEGORIES)}); skipped.")  # fmt: skip
            continue
        base = codes.get(category, DEFAULT_ACCOUNTS.default)
        codes[category] = AccountCodes(
            values.get("xero account code") or base.xero_account,
            values.get("xero tax type") or base.xero_tax_type,
            values.get("qbo account") or base.qbo_account,
            values.get("qbo tax code") or base.qbo_tax_code,
        )
    return replace(DEFAULT_ACCOUNTS, codes=codes), tuple(problems)


def month_bills(
    invoices: Sequence[Mapping[str, Any]],
    lines: Sequence[Mapping[str, Any]],
    period: str,
    allocations: Mapping[str, Allocation] | None = None,
) -> list[Bill]:
    """The bills of one month (`YYYY-MM`): every final invoice of that period (previews are
    not bills yet), ordered by supplier, date and number. `allocations` (by Line Key) puts
    each line's client on it; Shared and Unallocated lines carry no client."""
    by_invoice: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for line in lines:
        if line.get("Period") == period:
            by_invoice[str(line.get("Invoice Key"))].append(line)
    bills = []
    for invoice in invoices:
        if invoice.get("Period") != period or invoice.get("Status") == PREVIEW_STATUS:
            continue
        key = str(invoice.get("Invoice Key"))
        items = sorted(by_invoice.get(key, []), key=_position)
        bills.append(_bill(invoice, items, allocations or {}))
    bills.sort(key=lambda b: (b.supplier, b.invoice_date, b.number))
    return bills


def totals_by_currency(bills: Sequence[Bill]) -> dict[str, Decimal]:
    """The sum of the bills' lines (tax included) per currency, never across currencies."""
    totals: dict[str, Decimal] = {}
    for bill in bills:
        totals[bill.currency] = totals.get(bill.currency, Decimal(0)) + bill.lines_total
    return totals


def _bill(
    invoice: Mapping[str, Any], items: Sequence[Mapping[str, Any]], alloc: Mapping[str, Allocation]
) -> Bill:
    period = str(invoice.get("Period"))
    invoice_date = _date(invoice.get("Invoice Date")) or _month_end(period)
    lines = []
    for item in items:
        allocation = alloc.get(str(item.get("Line Key")), Allocation(UNALLOCATED))
        client = "" if allocation.client in (SHARED, UNALLOCATED) else allocation.client
        description = str(item.get("Description") or "") or str(item.get("Product") or "")
        product = str(item.get("Product") or "")
        if product and product not in description:
            description = f"{product}: {description}" if description else product
        lines.append(BillLine(description, item.get("Amount") or Decimal(0),
                              str(item.get("Category") or "Other"), client,
                              allocation.billable and bool(client)))  # fmt: skip
    taxes = _decimal(invoice.get("Taxes"))
    if taxes and not any(line.category == "Tax" for line in lines):
        # A PDF's tax is on its invoice row, not a line (providers' APIs give it as a line).
        lines.append(BillLine("Tax", taxes, "Tax", "", False))
    total = invoice.get("Total")
    provider = str(invoice.get("Provider"))
    supplier = (  # a PDF's supplier is its Account; a provider is its own supplier
        str(invoice.get("Account") or UNKNOWN_SUPPLIER) if provider == PDF_PROVIDER
        else SUPPLIERS.get(provider.lower(), provider)
    )  # fmt: skip
    return Bill(
        number=str(invoice.get("Invoice ID") or ""),
        supplier=supplier,
        invoice_key=str(invoice.get("Invoice Key")),
        period=period,
        invoice_date=invoice_date,
        due_date=max(_date(invoice.get("Due Date")) or invoice_date, invoice_date),
        currency=str(invoice.get("Currency") or ""),
        total=total if isinstance(total, Decimal) else Decimal(str(total or 0)),
        lines=tuple(lines),
    )


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except ArithmeticError:
        return Decimal(0)


def _position(line: Mapping[str, Any]) -> int:
    _, _, tail = str(line.get("Line Key") or "").rpartition("#")
    return int(tail) if tail.isdigit() else 0


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _month_end(period: str) -> dt.date:
    year, month = int(period[:4]), int(period[5:7])
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)
