"""The Google Sheet reads like the workbook (issue 9 §4): money by its currency's ISO 4217 minor
unit, headers aligned like their columns, times labelled UTC. Checked on the stateful fake."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from api.core.model import LedgerBatch
from tests.contract.samples import invoice, lines, run
from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle
from tests.test_sheets_sink import SHEET, make_sink


@pytest.fixture
def fake(fake_google: FakeGoogle) -> FakeGoogle:  # noqa: F811
    fake_google.sheets.create(SHEET)  # type: ignore[attr-defined]
    return fake_google


def tab(fake: FakeGoogle, title: str) -> Any:
    book = fake.sheets.books[SHEET]  # type: ignore[attr-defined]
    return next(t for t in book.tabs if t.title == title)


def cell(fake: FakeGoogle, title: str, name: str, row: int) -> dict[str, Any]:
    sheet = tab(fake, title)
    header = [sheet.cell(0, c).get("userEnteredValue", {}).get("stringValue") for c in range(40)]
    return sheet.cell(row, header.index(name))  # type: ignore[no-any-return]


def pattern(cell_data: dict[str, Any]) -> str | None:
    return (cell_data.get("userEnteredFormat") or {}).get("numberFormat", {}).get("pattern")


def test_money_is_formatted_by_the_rows_currency(fake: FakeGoogle) -> None:
    jpy = invoice(1, currency="JPY", total=Decimal("370950"), lines_total=Decimal("370950"))
    usd, kwd = invoice(2), invoice(3, currency="KWD", total=Decimal("12.345"))
    sink = make_sink(fake)
    sink.write(LedgerBatch(invoices=(jpy, usd, kwd),
                           lines=(*lines(jpy, 2), *lines(usd, 2)), removed=()))  # fmt: skip

    def total(row: int) -> str | None:
        return pattern(cell(fake, "Invoices", "Total", row))

    assert [total(1), total(2), total(3)] == ["#,##0", "#,##0.00", "#,##0.000"]
    assert pattern(cell(fake, "Line Items", "Amount", 1)) == "#,##0"
    assert pattern(cell(fake, "Line Items", "Amount", 3)) == "#,##0.00"

    sink.write(LedgerBatch(invoices=(replace(jpy, total=Decimal("371000")),), lines=(),
                           removed=()))  # an update in place keeps the row's format  # fmt: skip
    assert cell(fake, "Invoices", "Total", 1)["userEnteredValue"] == {"numberValue": 371000}
    assert total(1) == "#,##0"


def test_headers_align_like_their_columns_and_times_say_utc(fake: FakeGoogle) -> None:
    sink = make_sink(fake)
    sink.write(LedgerBatch(invoices=(invoice(1),), lines=lines(invoice(1), 1), removed=()))
    sink.append_run(run(1))

    def align(title: str, name: str) -> str | None:
        entered = cell(fake, title, name, 0).get("userEnteredFormat") or {}
        return entered.get("horizontalAlignment")  # type: ignore[no-any-return]

    assert [align("Invoices", n) for n in ("Total", "Invoice Date", "Line Items")] == ["RIGHT"] * 3
    assert [align("Invoices", n) for n in ("Provider", "Invoice Key")] == [None, None]
    assert align("Line Items", "Amount") == align("Runs", "Started") == "RIGHT"
    assert pattern(cell(fake, "Runs", "Started", 1)) == 'yyyy-mm-dd hh:mm:ss "UTC"'
    assert pattern(cell(fake, "Invoices", "Synced At", 1)) == 'yyyy-mm-dd hh:mm:ss "UTC"'
