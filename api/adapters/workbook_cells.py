"""How ledger values become typed .xlsx cells, and how cells read back as model values."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from api.adapters import link_text
from api.adapters.xlsx_read import Formula, Link
from api.core.model import (
    BOOLEAN_COLUMNS,
    DATE_COLUMNS,
    DATETIME_COLUMNS,
    INTEGER_COLUMNS,
    LINK_COLUMNS,
    MONEY_COLUMNS,
    PLAIN_NUMBER_COLUMNS,
)
from api.core.money import minor_unit, parse_amount

MONEY_FORMAT = "#,##0.00"  # the currency code sits in the Currency column of the same row
UNIT_PRICE_FORMAT = "#,##0.00######"  # unit prices go down to fractions of a cent
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER_FONT = Font(bold=True)
LINK_FONT = Font(color="0563C1", underline="single")
NUMBER = (int, float, Decimal)


def model_value(column: str, value: Any) -> Any:
    """A model row value as stored: link columns become Link(display text, URL)."""
    if column in LINK_COLUMNS and isinstance(value, str):
        return Link(link_text(value), value) if value else None
    return value


def to_cell(ws: WriteOnlyWorksheet, column: str | None, value: Any) -> Any:
    """One value for `ws.append`: a plain value, or a WriteOnlyCell when it needs a format.

    `column` is a ledger column, or None for a user's own column (kept as it was).
    """
    if value is None or value == "":
        return None
    if isinstance(value, Link):
        cell = _styled(ws, _text(value.text) if isinstance(value.text, str) else value.text)
        cell.hyperlink = value.url  # a real hyperlink, never a =HYPERLINK formula
        cell.font = LINK_FONT
        return cell
    if isinstance(value, Formula):  # the user's formula, in a column of theirs or ours
        return value.text
    if isinstance(value, str):
        return _text_cell(ws, value)
    if column is None:
        return _user_value(ws, value)
    if column in DATETIME_COLUMNS and isinstance(value, dt.datetime):
        # xlsx has no time zones: the file holds naive UTC, to the second (what a person reads).
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return _formatted(ws, value.replace(microsecond=0), DATETIME_FORMAT)
    if column in DATE_COLUMNS and isinstance(value, dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        return _formatted(ws, day, DATE_FORMAT)
    if column in MONEY_COLUMNS and isinstance(value, NUMBER) and not isinstance(value, bool):
        if column in PLAIN_NUMBER_COLUMNS:
            return value
        return _formatted(ws, value, UNIT_PRICE_FORMAT if column == "Unit Price" else MONEY_FORMAT)
    if isinstance(value, bool | int | float | Decimal | dt.date):
        return _user_value(ws, value)
    raise TypeError(f"column {column!r} cannot hold a {type(value).__name__}")


def header_cell(ws: WriteOnlyWorksheet, name: str) -> WriteOnlyCell:
    cell = _styled(ws, _text(name))
    cell.font = HEADER_FONT
    return cell


def _user_value(ws: WriteOnlyWorksheet, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _formatted(ws, value, DATETIME_FORMAT)
    if isinstance(value, dt.date):
        return _formatted(ws, value, DATE_FORMAT)
    return value


def _text_cell(ws: WriteOnlyWorksheet, text: str) -> Any:
    text = _text(text)
    if text.startswith("="):
        # openpyxl would store "=..." as a formula; provider text is never evaluated.
        cell = _styled(ws, text)
        cell.data_type = "s"
        return cell
    return text  # "+", "-", "@" leads are plain strings already: only "=" makes a formula


def _text(text: str) -> str:
    # Control characters are not allowed in OOXML text; they carry no meaning in a ledger.
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def _styled(ws: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell:
    return WriteOnlyCell(ws, value=value)


def _formatted(ws: WriteOnlyWorksheet, value: Any, number_format: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = number_format
    return cell


# -- reading back ---------------------------------------------------------------------------


def typed_row(header: list[str], raw: list[Any], known: frozenset[str]) -> dict[str, Any]:
    """A row of raw cell values as the model types it (see LedgerSink.rows)."""
    row: dict[str, Any] = {}
    for index, name in enumerate(header):
        if not name:
            continue
        value = raw[index] if index < len(raw) else None
        if isinstance(value, Formula):
            value = value.cached
        if isinstance(value, Link):
            value = value.text
        row[name] = from_cell(name, value) if name in known else value
    currency = row.get("Currency")
    if isinstance(currency, str) and currency:
        unit = minor_unit(currency)
        for name in MONEY_COLUMNS - PLAIN_NUMBER_COLUMNS:
            amount = row.get(name)
            # 12 -> 12.00 for USD (a number cell forgets trailing zeros); 0.00744 stays as it is
            if isinstance(amount, Decimal) and amount.is_finite():
                with contextlib.suppress(ArithmeticError):
                    if amount == amount.quantize(unit):
                        row[name] = amount.quantize(unit)
    return row


def from_cell(column: str, value: Any) -> Any:
    if column in MONEY_COLUMNS:
        return _decimal(value)
    if column in DATETIME_COLUMNS:
        if isinstance(value, dt.datetime):  # the file holds naive UTC
            aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
            return aware.astimezone(dt.UTC)
        return value
    if column in DATE_COLUMNS:
        return value.date() if isinstance(value, dt.datetime) else value
    if column in INTEGER_COLUMNS:
        return int(value) if isinstance(value, Decimal) else value
    if column in BOOLEAN_COLUMNS:
        return bool(value) if isinstance(value, Decimal) else value
    if value is None:
        return ""
    if isinstance(value, Decimal):  # a number typed into a text column (an invoice number)
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m") if column == "Period" else value.isoformat()
    return value if isinstance(value, str) else str(value)


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        if len(value.as_tuple().digits) > 15:
            # A file saved by a spreadsheet app may spell the binary double in 17 digits
            # (0.30000000000000004); its shortest spelling is what was meant.
            return Decimal(repr(float(value)))
        return value
    if isinstance(value, str) and value.strip():
        try:
            return parse_amount(value)
        except ValueError:
            return value
    return None if value in (None, "") else value
