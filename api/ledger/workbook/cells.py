"""How ledger values become typed .xlsx cells, and how cells read back as model values."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from api.core.model import (
    BOOLEAN_COLUMNS,
    DATE_COLUMNS,
    DATETIME_COLUMNS,
    INTEGER_COLUMNS,
    LINK_COLUMNS,
    MONEY_COLUMNS,
    PLAIN_NUMBER_COLUMNS,
)
from api.core.money import minor_digits, minor_unit, parse_amount
from api.ledger import link_text
from api.ledger.workbook.xlsx_read import Formula, Link
from api.ledger.workbook.xlsx_write import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    MONEY,
    MONEY_FORMAT,
    MONEY_STYLES,
    UNIT_PRICE,
    UNIT_PRICE_FORMAT,
    Encoder,
    SheetWriter,
    any_cell,
    date_cell,
    datetime_cell,
    number_cell,
    text_column,
)

__all__ = ["DATE_FORMAT", "DATETIME_FORMAT", "MONEY_FORMAT", "UNIT_PRICE_FORMAT", "encoder"]
NUMBER = (int, float, Decimal)
RowTyper = Callable[[list[Any]], dict[str, Any]]


def model_value(column: str, value: Any) -> Any:
    """A model row value as stored: link columns become Link(display text, URL)."""
    if column in LINK_COLUMNS and isinstance(value, str):
        return Link(link_text(value), value) if value else None
    return value


def encoder(column: str | None) -> Encoder:
    """How a column's values become cells: `column` is a ledger column, or None for a user's
    own column (its values kept as what they are: text, number, date, link or formula).

    Provider text is always a string cell (never a formula); money is a number with a money
    format; dates and times are date cells (times in naive UTC, to the second).
    """
    if column is None or column in INTEGER_COLUMNS or column in BOOLEAN_COLUMNS:
        return any_cell
    if column in DATETIME_COLUMNS:
        return _datetime
    if column in DATE_COLUMNS:
        return _date
    if column in PLAIN_NUMBER_COLUMNS:
        return any_cell
    if column in MONEY_COLUMNS:
        return _unit_price if column == "Unit Price" else _money
    return text_column


def _money(sheet: SheetWriter, ref: str, value: Any) -> str:
    if isinstance(value, NUMBER) and not isinstance(value, bool):
        return number_cell(ref, value, sheet.money_style)
    return any_cell(sheet, ref, value)


def money_style(currency: Any) -> int:
    """The cell style of a row's money: its currency's minor unit (ISO 4217), else 2 places."""
    if isinstance(currency, str) and currency.strip():
        return MONEY_STYLES.get(minor_digits(currency), MONEY)
    return MONEY


def _unit_price(sheet: SheetWriter, ref: str, value: Any) -> str:
    if isinstance(value, NUMBER) and not isinstance(value, bool):
        return number_cell(ref, value, UNIT_PRICE)
    return any_cell(sheet, ref, value)


def _datetime(sheet: SheetWriter, ref: str, value: Any) -> str:
    if isinstance(value, dt.datetime):
        return datetime_cell(ref, value, seconds=True)
    return any_cell(sheet, ref, value)


def _date(sheet: SheetWriter, ref: str, value: Any) -> str:
    if isinstance(value, dt.datetime):
        return date_cell(ref, value.date())
    if isinstance(value, dt.date):
        return date_cell(ref, value)
    return any_cell(sheet, ref, value)


# -- reading back ---------------------------------------------------------------------------


def typed_row(header: list[str], raw: list[Any], known: frozenset[str]) -> dict[str, Any]:
    """A row of raw cell values as the model types it (see LedgerSink.rows)."""
    return row_typer(tuple(header), known)(raw)


@functools.lru_cache(maxsize=64)
def row_typer(
    header: tuple[str, ...], known: frozenset[str]
) -> Callable[[list[Any]], dict[str, Any]]:
    """`typed_row` for one header, with each column's conversion chosen once."""
    columns = [(index, name, _converter(name) if name in known else _same)
               for index, name in enumerate(header) if name]  # fmt: skip
    money = [name for name in header if name in MONEY_COLUMNS and name not in PLAIN_NUMBER_COLUMNS]
    width = len(header)

    def typed(raw: list[Any]) -> dict[str, Any]:
        if len(raw) < width:
            raw = raw + [None] * (width - len(raw))
        row: dict[str, Any] = {}
        for index, name, convert in columns:
            value = raw[index]
            if isinstance(value, Formula | Link):
                value = value.cached if isinstance(value, Formula) else value.text
                if isinstance(value, Link):
                    value = value.text
            row[name] = convert(name, value)
        currency = row.get("Currency")
        if money and isinstance(currency, str) and currency:
            _quantize(row, money, minor_unit(currency))
        return row

    return typed


def _quantize(row: dict[str, Any], money: list[str], unit: Decimal) -> None:
    for name in money:
        amount = row.get(name)
        # 12 -> 12.00 for USD (a number cell forgets trailing zeros); 0.00744 stays as it is
        if isinstance(amount, Decimal) and amount.is_finite():
            with contextlib.suppress(ArithmeticError):
                exact = amount.quantize(unit)
                if amount == exact:
                    row[name] = exact


def _same(column: str, value: Any) -> Any:
    return value


def _converter(column: str) -> Callable[[str, Any], Any]:
    if column in MONEY_COLUMNS:
        return lambda _column, value: _decimal(value)
    if column in DATETIME_COLUMNS:
        return _datetime_value
    if column in DATE_COLUMNS | INTEGER_COLUMNS | BOOLEAN_COLUMNS:
        return from_cell
    return _text_value


def _text_value(column: str, value: Any) -> Any:
    """A text column: most cells are text already (the common case, checked first)."""
    return value if type(value) is str else from_cell(column, value)


def _datetime_value(column: str, value: Any) -> Any:
    if isinstance(value, dt.datetime):  # the file holds naive UTC
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value


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
