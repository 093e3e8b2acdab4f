"""How ledger values become typed Sheets CellData, and how read-back values become model values.

Text is always a stringValue, so "=cmd|..." from a provider stays text (never a formula).
Money and plain numbers are numberValues with a number format; dates and datetimes are serial
days from 1899-12-30 (UTC) with a date format. A document link is the link text as a
stringValue carrying a `textFormat.link`: clickable, with no formula at all, so a URL with
quotes can never break out of a HYPERLINK() string.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from api.core.model import (
    DATE_COLUMNS,
    DATETIME_COLUMNS,
    INTEGER_COLUMNS,
    LINK_COLUMNS,
    MONEY_COLUMNS,
    PLAIN_NUMBER_COLUMNS,
)
from api.core.money import minor_digits
from api.ledger import link_text
from api.ledger.workbook.cells import typed_row

EPOCH = dt.datetime(1899, 12, 30, tzinfo=dt.UTC)
# Money shows its row's currency's minor unit (ISO 4217): JPY 0 decimals, USD 2, KWD 3.
MONEY_FORMAT = {"type": "NUMBER", "pattern": "#,##0.00"}
MONEY_FORMATS = {0: {"type": "NUMBER", "pattern": "#,##0"}, 2: MONEY_FORMAT,
                 3: {"type": "NUMBER", "pattern": "#,##0.000"},
                 4: {"type": "NUMBER", "pattern": "#,##0.0000"}}  # fmt: skip
UNIT_PRICE_FORMAT = {"type": "NUMBER", "pattern": "#,##0.00######"}
PLAIN_FORMAT = {"type": "NUMBER", "pattern": "#,##0.######"}
INTEGER_FORMAT = {"type": "NUMBER", "pattern": "0"}
DATE_FORMAT = {"type": "DATE", "pattern": "yyyy-mm-dd"}
DATETIME_FORMAT = {"type": "DATE_TIME", "pattern": 'yyyy-mm-dd hh:mm:ss "UTC"'}
# Headers over numbers and dates are right-aligned, like the values under them.
RIGHT_ALIGNED = (
    DATE_COLUMNS | DATETIME_COLUMNS | MONEY_COLUMNS | INTEGER_COLUMNS | (PLAIN_NUMBER_COLUMNS)
)
# What a data cell write replaces (a stale format or link is cleared with it).
CELL_FIELDS = "userEnteredValue,userEnteredFormat.numberFormat,userEnteredFormat.textFormat.link"
# A values-only write (the number format comes from a repeatCell over the column range).
VALUE_FIELDS = "userEnteredValue,userEnteredFormat.textFormat.link"
FORMAT_FIELDS = "userEnteredFormat.numberFormat"
HEADER_FIELDS = (
    "userEnteredValue,userEnteredFormat.textFormat.bold,userEnteredFormat.horizontalAlignment"
)


def serial(value: dt.date) -> float | int:
    """Sheets serial days; datetimes are UTC and kept to the second (what a person reads)."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        seconds = int((aware.astimezone(dt.UTC) - EPOCH).total_seconds())
        return seconds / 86400
    return (value - EPOCH.date()).days


def from_serial(value: float, *, with_time: bool) -> dt.date | dt.datetime:
    if with_time:
        return EPOCH + dt.timedelta(seconds=round(value * 86400))
    return (EPOCH + dt.timedelta(days=int(value))).date()


def money_format(currency: Any) -> dict[str, str]:
    """The number format of money in `currency` (a row's Currency), by its ISO 4217 minor unit."""
    if isinstance(currency, str) and currency.strip():
        return MONEY_FORMATS.get(minor_digits(currency), MONEY_FORMAT)
    return MONEY_FORMAT


def row_cells(header: list[str], row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """CellData for a whole ledger row, in header order ({} for a column the row lacks)."""
    currency = row.get("Currency")
    return [to_cell(name, row.get(name), currency) if name in row else {} for name in header]


def to_cell(column: str, value: Any, currency: Any = None) -> dict[str, Any]:
    """CellData for one ledger value ({} for an empty cell); money is formatted by `currency`
    (the row's Currency code)."""
    if value is None or value == "":
        return {}
    if isinstance(value, bool):
        return {"userEnteredValue": {"boolValue": value}}
    if column in DATETIME_COLUMNS and isinstance(value, dt.datetime):
        return _number(serial(value), DATETIME_FORMAT)
    if column in DATE_COLUMNS and isinstance(value, dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        return _number(serial(day), DATE_FORMAT)
    if isinstance(value, Decimal | int | float):
        if column in INTEGER_COLUMNS:
            return _number(int(value), INTEGER_FORMAT)
        if column in PLAIN_NUMBER_COLUMNS:
            return _number(value, PLAIN_FORMAT)
        if column in MONEY_COLUMNS:
            if column == "Unit Price":
                return _number(value, UNIT_PRICE_FORMAT)
            return _number(value, money_format(currency))
        return _number(value, None)
    if isinstance(value, dt.datetime | dt.date):
        with_time = isinstance(value, dt.datetime)
        return _number(serial(value), DATETIME_FORMAT if with_time else DATE_FORMAT)
    text = str(value)
    if column in LINK_COLUMNS and text.startswith(("https://", "http://", "file://")):
        return {
            "userEnteredValue": {"stringValue": link_text(text)},
            "userEnteredFormat": {"textFormat": {"link": {"uri": text}}},
        }
    return {"userEnteredValue": {"stringValue": text}}


def _number(value: Decimal | float | int, number_format: dict[str, str] | None) -> dict[str, Any]:
    # JSON has no decimals: the double closest to the Decimal is what Sheets stores anyway.
    number = value if isinstance(value, int) else float(value)
    cell: dict[str, Any] = {"userEnteredValue": {"numberValue": number}}
    if number_format:
        cell["userEnteredFormat"] = {"numberFormat": number_format}
    return cell


def column_format(column: str) -> dict[str, str] | None:
    """The number format to_cell gives this column's values of the column's own type."""
    if column in DATETIME_COLUMNS:
        return DATETIME_FORMAT
    if column in DATE_COLUMNS:
        return DATE_FORMAT
    if column in INTEGER_COLUMNS:
        return INTEGER_FORMAT
    if column in PLAIN_NUMBER_COLUMNS:
        return PLAIN_FORMAT
    if column in MONEY_COLUMNS:
        return UNIT_PRICE_FORMAT if column == "Unit Price" else MONEY_FORMAT
    return None


def lean_cell(column: str, cell: dict[str, Any]) -> dict[str, Any] | None:
    """`cell` without the number format its column's range gives it (None: it needs another)."""
    entered_format = cell.get("userEnteredFormat") or {}
    own = entered_format.get("numberFormat")
    is_number = "numberValue" in (cell.get("userEnteredValue") or {})
    if own != column_format(column) and (own is not None or is_number):
        return None
    if own is None:
        return cell
    lean = {key: value for key, value in cell.items() if key != "userEnteredFormat"}
    rest = {key: value for key, value in entered_format.items() if key != "numberFormat"}
    if rest:
        lean["userEnteredFormat"] = rest
    return lean


def header_cell(name: str) -> dict[str, Any]:
    """A bold header; right-aligned over a column of numbers or dates."""
    entered: dict[str, Any] = {"textFormat": {"bold": True}}
    if name in RIGHT_ALIGNED:
        entered["horizontalAlignment"] = "RIGHT"
    return {"userEnteredValue": {"stringValue": name}, "userEnteredFormat": entered}


def read_value(cell: dict[str, Any]) -> Any:
    """The value batchGet (UNFORMATTED_VALUE, SERIAL_NUMBER) gives back for CellData we wrote."""
    entered = cell.get("userEnteredValue") or {}
    for kind in ("stringValue", "numberValue", "boolValue"):
        if kind in entered:
            return entered[kind]
    return ""


def same_value(written: Any, read: Any) -> bool:
    """Does a read-back raw value equal what we would write (numbers as doubles)?"""
    if isinstance(written, bool) or isinstance(read, bool):
        return written is read or (written == read and type(written) is type(read))
    if isinstance(written, int | float) and isinstance(read, int | float):
        return float(written) == float(read)
    return written == read


def typed(header: list[str], raw: list[Any], known: frozenset[str]) -> dict[str, Any]:
    """A row read with UNFORMATTED_VALUE/SERIAL_NUMBER as model values (like the workbook)."""
    values: list[Any] = []
    for index, name in enumerate(header):
        value = raw[index] if index < len(raw) else ""
        values.append(_plain(name, value) if name in known else _user(value))
    return typed_row(header, values, known)


def _plain(column: str, value: Any) -> Any:
    if value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if column in DATETIME_COLUMNS:
            return from_serial(value, with_time=True)
        if column in DATE_COLUMNS:
            return from_serial(value, with_time=False)
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return value


def _user(value: Any) -> Any:
    # A user's own column: numbers come back as Decimal, text as text, empty as None.
    if value == "":
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    return value
