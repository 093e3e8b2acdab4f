"""Validators for bill import files, written from each product's documented import rules (not
from our exporter), returning the bills they would create: number -> (currency, total).

Xero (help: "Import invoices, bills and credit notes"; the bill CSV template): required columns
*ContactName, *InvoiceNumber, *InvoiceDate, *DueDate, *Quantity, *UnitAmount, *AccountCode,
*TaxType must be filled on every row; rows with the same InvoiceNumber (and contact) are lines
of one bill and must agree on contact, dates and currency; at most 500 bills a file; dates in
the organisation's regional format; amounts plain numbers (no symbols); a negative total imports
as a credit note; a line's total is Quantity x UnitAmount plus its TaxAmount (tax exclusive).

QuickBooks Online (Import bills): Bill no. (at most 21 characters), Supplier, Bill Date, Due
Date, Account and Line Amount required on every line; lines of one bill agree on supplier,
dates and currency; a bill's total (the sum of its line amounts) must not be negative; Billable
requires a Customer; dates in the company's date format.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal, InvalidOperation

XERO_REQUIRED = ("*ContactName", "*InvoiceNumber", "*InvoiceDate", "*DueDate", "*Quantity",
                 "*UnitAmount", "*AccountCode", "*TaxType")  # fmt: skip
XERO_KNOWN = frozenset({
    *XERO_REQUIRED, "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3",
    "POAddressLine4", "POCity", "PORegion", "POPostalCode", "POCountry", "Total",
    "InventoryItemCode", "Description", "TaxAmount", "TrackingName1", "TrackingOption1",
    "TrackingName2", "TrackingOption2", "Currency",
})  # fmt: skip
QBO_REQUIRED = ("Bill no.", "Supplier", "Bill Date", "Due Date", "Account", "Line Amount")
QBO_KNOWN = frozenset({*QBO_REQUIRED, "Memo", "Line Description", "Line Tax Code", "Currency",
                       "Customer", "Billable", "Terms", "Location"})  # fmt: skip
FORMATS = {"iso": "%Y-%m-%d", "dmy": "%d/%m/%Y", "mdy": "%m/%d/%Y"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")


class Rejected(AssertionError):
    pass


def validate_xero(text: str, date_format: str = "dmy") -> dict[str, tuple[str, Decimal]]:
    rows = _rows(text, XERO_REQUIRED, XERO_KNOWN)
    bills: dict[tuple[str, str], dict[str, object]] = {}
    for n, row in enumerate(rows, 2):
        for name in XERO_REQUIRED:
            _need(row[name].strip(), f"row {n}: {name} is empty")
        quantity = _number(row["*Quantity"], n, 4)
        unit = _number(row["*UnitAmount"], n, 4)
        tax = _number(row["TaxAmount"], n, 2) if row.get("TaxAmount") else Decimal(0)
        currency = row.get("Currency", "")
        _need(not currency or _CURRENCY.fullmatch(currency), f"row {n}: bad currency {currency}")
        _need(bool(row.get("TrackingName1")) == bool(row.get("TrackingOption1")),
              f"row {n}: a tracking option needs its tracking name")  # fmt: skip
        head = (
            row["*ContactName"],
            _date(row["*InvoiceDate"], date_format, n),
            _date(row["*DueDate"], date_format, n),
            currency,
        )
        _need(head[2] >= head[1], f"row {n}: due date before the bill date")
        bill = bills.setdefault((row["*ContactName"], row["*InvoiceNumber"]),
                                {"head": head, "total": Decimal(0)})  # fmt: skip
        _need(bill["head"] == head, f"row {n}: lines of one bill disagree ({head})")
        bill["total"] = bill["total"] + quantity * unit + tax  # type: ignore[operator]
    _need(len(bills) <= 500, f"{len(bills)} bills in one file (500 at most)")
    return {number: (b["head"][3], b["total"]) for (_, number), b in bills.items()}  # type: ignore[index,misc]


def validate_qbo(text: str, date_format: str = "mdy") -> dict[str, tuple[str, Decimal]]:
    rows = _rows(text, QBO_REQUIRED, QBO_KNOWN)
    bills: dict[str, dict[str, object]] = {}
    for n, row in enumerate(rows, 2):
        for name in QBO_REQUIRED:
            _need(row[name].strip(), f"row {n}: {name} is empty")
        _need(len(row["Bill no."]) <= 21, f"row {n}: Bill no. longer than 21 characters")
        amount = _number(row["Line Amount"], n, 2)
        billable = row.get("Billable", "")
        _need(billable in ("", "Billable", "NotBillable"), f"row {n}: Billable '{billable}'")
        _need(billable != "Billable" or row.get("Customer"), f"row {n}: Billable needs a Customer")
        currency = row.get("Currency", "")
        _need(not currency or _CURRENCY.fullmatch(currency), f"row {n}: bad currency {currency}")
        head = (
            row["Supplier"],
            _date(row["Bill Date"], date_format, n),
            _date(row["Due Date"], date_format, n),
            currency,
        )
        bill = bills.setdefault(row["Bill no."], {"head": head, "total": Decimal(0)})
        _need(bill["head"] == head, f"row {n}: lines of one bill disagree ({head})")
        bill["total"] = bill["total"] + amount  # type: ignore[operator]
    for number, bill in bills.items():
        _need(bill["total"] >= 0, f"bill {number}: negative total (a supplier credit)")  # type: ignore[operator]
    return {number: (b["head"][3], b["total"]) for number, b in bills.items()}  # type: ignore[index,misc]


def _rows(text: str, required: tuple[str, ...], known: frozenset[str]) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    _need(len(set(header)) == len(header), "duplicate columns")
    missing = [name for name in required if name not in header]
    _need(not missing, f"missing columns {missing}")
    unknown = [name for name in header if name not in known]
    _need(not unknown, f"columns the import does not know: {unknown}")
    rows = list(reader)
    _need(rows, "no bills")
    for n, row in enumerate(rows, 2):
        _need(None not in row and None not in row.values(), f"row {n}: wrong number of fields")
        for value in row.values():
            _need(not value.startswith(("=", "+", "@")), f"row {n}: a formula: {value}")
    return rows


def _number(text: str, n: int, places: int) -> Decimal:
    _need(_NUMBER.fullmatch(text), f"row {n}: '{text}' is not a plain number")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Rejected(f"row {n}: '{text}' is not a number") from None
    exponent = value.as_tuple().exponent
    _need(isinstance(exponent, int) and -exponent <= places, f"row {n}: {text} too precise")
    return value


def _date(text: str, date_format: str, n: int) -> dt.date:
    try:
        return dt.datetime.strptime(text, FORMATS[date_format]).date()
    except ValueError:
        raise Rejected(f"row {n}: '{text}' is not a {date_format} date") from None


def _need(condition: object, message: str) -> None:
    if not condition:
        raise Rejected(message)
