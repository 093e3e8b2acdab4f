"""Bill import rows in the CSV layouts Xero and QuickBooks Online document.

Xero (Purchases > Bills > Import, the bill CSV template): one row per bill line; lines of one
bill share *ContactName, *InvoiceNumber, *InvoiceDate, *DueDate and Currency; at most 500 bills
a file; a bill with a negative total imports as a credit note; amounts tax-exclusive. The
invoice's tax goes into the TaxAmount column of its lines (split in whole minor units in
proportion to the positive lines), not a line of its own. *TaxType is the category's mapped tax
type on every line of it (AccountMap.xero_tax_type); a line under a mapped type that carries no
tax says TaxAmount 0, so Xero does not compute tax at that type's rate (it does when the column
is blank). Amounts are written in the currency's minor unit (JPY 360000, KWD 1.250).

QuickBooks Online (Expenses > Bills > Import bills): one row per line; Bill no. (at most 21
characters), Supplier, Bill Date, Due Date, Account, Line Description, Line Amount; Customer and
Billable for costs re-billed to a client. QuickBooks Online (US) bills carry no purchase tax,
so the invoice's tax stays a line booked to the Tax category's account; a bill cannot have a
negative total (that is a supplier credit), so such invoices are left out and reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from api.core.allocation import split_cents
from api.core.bills import AccountMap, Bill, BillLine
from api.core.money import minor_digits
from api.core.text import looks_like_formula

XERO_COLUMNS = (
    "*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3",
    "POAddressLine4", "POCity", "PORegion", "POPostalCode", "POCountry", "*InvoiceNumber",
    "*InvoiceDate", "*DueDate", "Total", "InventoryItemCode", "Description", "*Quantity",
    "*UnitAmount", "*AccountCode", "*TaxType", "TaxAmount", "TrackingName1", "TrackingOption1",
    "TrackingName2", "TrackingOption2", "Currency",
)  # fmt: skip
XERO_MAX_BILLS = 500
QBO_COLUMNS = (
    "Bill no.", "Supplier", "Bill Date", "Due Date", "Memo", "Account", "Line Description",
    "Line Amount", "Line Tax Code", "Currency", "Customer", "Billable",
)  # fmt: skip
QBO_MAX_NUMBER = 21
DATE_FORMATS = {"iso": "%Y-%m-%d", "dmy": "%d/%m/%Y", "mdy": "%m/%d/%Y"}
TRACKING_NAME = "Client"


def xero_files(
    bills: Sequence[Bill], accounts: AccountMap, date_format: str = "dmy"
) -> list[list[dict[str, str]]]:
    """The rows of each Xero bill file (keyed by XERO_COLUMNS), at most 500 bills a file."""
    files = []
    for start in range(0, len(bills), XERO_MAX_BILLS):
        rows = []
        for bill in bills[start : start + XERO_MAX_BILLS]:
            rows += _xero_bill(with_tax_spread(bill), accounts, DATE_FORMATS[date_format])
        files.append(rows)
    return files


def with_tax_spread(bill: Bill) -> Bill:
    """The bill with its Tax lines' net amount carried by its positive non-tax lines (split in
    whole cents by split_cents) instead of as lines; unchanged when it has no tax or no
    positive line to carry it."""
    taxes = [line for line in bill.lines if line.category == "Tax"]
    carriers = [(i, line.amount) for i, line in enumerate(bill.lines)
                if line.category != "Tax" and line.amount > 0]  # fmt: skip
    if not taxes or not carriers:
        return bill
    tax = sum((line.amount for line in taxes), Decimal(0))
    parts = split_cents(tax, carriers, bill.currency)
    lines = tuple(
        replace(line, tax=line.tax + parts.get(i, Decimal(0)))
        for i, line in enumerate(bill.lines)
        if line.category != "Tax"
    )
    return replace(bill, lines=lines)


def _xero_bill(bill: Bill, accounts: AccountMap, date_format: str) -> list[dict[str, str]]:
    rows = []
    for line in bill.lines:
        codes = accounts.of(line.category)
        mapped = bool(codes.xero_tax_type)
        row = dict.fromkeys(XERO_COLUMNS, "")
        row.update({
            "*ContactName": _text(bill.supplier), "*InvoiceNumber": _text(bill.number),
            "*InvoiceDate": _day(bill.invoice_date, date_format),
            "*DueDate": _day(bill.due_date, date_format), "Description": _text(line.description),
            "*Quantity": "1", "*UnitAmount": _money(line.amount, bill.currency),
            "*AccountCode": _text(codes.xero_account),
            "*TaxType": _text(accounts.xero_tax_type(line.category, bool(line.tax))),
            "TaxAmount": _money(line.tax, bill.currency) if line.tax or mapped else "",
            "Currency": _text(bill.currency),
        })  # fmt: skip
        if line.client:
            row["TrackingName1"], row["TrackingOption1"] = TRACKING_NAME, _text(line.client)
        rows.append(row)
    return rows


def qbo_rows(
    bills: Sequence[Bill], accounts: AccountMap, date_format: str = "mdy"
) -> tuple[list[dict[str, str]], list[str]]:
    """The rows of a QuickBooks Online bill file (keyed by QBO_COLUMNS), and one message per
    invoice left out (a negative total: enter it as a supplier credit)."""
    rows: list[dict[str, str]] = []
    skipped = []
    for bill in bills:
        if not qbo_accepts(bill):
            amount = f"{bill.currency} {bill.total}"
            skipped.append(f"{bill.supplier} invoice {bill.number} ({amount}) is a credit: "
                           "enter it as a supplier credit.")  # fmt: skip
            continue
        rows += _qbo_bill(bill, accounts, DATE_FORMATS[date_format])
    return rows, skipped


def qbo_accepts(bill: Bill) -> bool:
    """QuickBooks Online takes a bill whose total is not negative (a credit is not a bill)."""
    return bill.total >= 0


def qbo_number(bill: Bill) -> str:
    """The bill number QuickBooks Online keeps (21 characters): a longer invoice number keeps
    its last 21, the part that tells invoices apart."""
    return bill.number[-QBO_MAX_NUMBER:]


def _qbo_bill(bill: Bill, accounts: AccountMap, date_format: str) -> list[dict[str, str]]:
    memo = f"{bill.supplier} invoice {bill.number}, {bill.period} ({bill.invoice_key})"
    return [_qbo_line(bill, line, accounts, date_format, memo) for line in bill.lines]


def _qbo_line(
    bill: Bill, line: BillLine, accounts: AccountMap, date_format: str, memo: str
) -> dict[str, str]:
    codes = accounts.of(line.category)
    return {
        "Bill no.": _text(qbo_number(bill)), "Supplier": _text(bill.supplier),
        "Bill Date": _day(bill.invoice_date, date_format),
        "Due Date": _day(bill.due_date, date_format), "Memo": _text(memo),
        "Account": _text(codes.qbo_account), "Line Description": _text(line.description),
        "Line Amount": _money(line.amount + line.tax, bill.currency),
        "Line Tax Code": _text(codes.qbo_tax_code),
        "Currency": _text(bill.currency), "Customer": _text(line.client),
        "Billable": ("Billable" if line.billable else "NotBillable") if line.client else "",
    }  # fmt: skip


def _text(text: str) -> str:
    """Text as a CSV cell no spreadsheet app evaluates: a leading quote mark before = + - @
    (OWASP "CSV Injection"). Every text column goes through it — supplier and invoice number
    come from a PDF's sender, client names and codes from a person's tabs."""
    return f"'{text}" if looks_like_formula(text) else text


def _day(day: dt.date, date_format: str) -> str:
    return day.strftime(date_format)


def _money(amount: Any, currency: str) -> str:
    """A plain number with the currency's minor-unit digits (JPY 0, USD 2, KWD 3), more only
    when the amount has them: '360000', '12.50', '1.250', '0.125' (USD)."""
    digits = minor_digits(currency)
    whole, _, fraction = format(Decimal(amount), "f").partition(".")
    fraction = fraction.rstrip("0").ljust(digits, "0")
    text = f"{whole}.{fraction}" if fraction else whole
    return text.removeprefix("-") if not Decimal(text) else text
