"""The LedgerSink contract: every ledger (workbook, Google Sheet) passes these same tests.

Subclass `LedgerSinkContract` with a fixture `sink` (a fresh, empty ledger) and the hook
`reorder_columns(sink, tab, new_order)` (rearrange a tab's columns as a user would).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

from api.core.model import INVOICE_COLUMNS, LINE_COLUMNS, RUN_COLUMNS, LedgerBatch
from api.ports import LedgerSink
from tests.contract.samples import batch, expected, invoice, lines, project, run

PREVIEW_KEY = "digitalocean:preview:2026-11"


class LedgerSinkContract:
    def reorder_columns(self, sink: Any, tab: str, new_order: list[str]) -> None:
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------------

    def invoice_rows(self, sink: LedgerSink) -> list[dict[str, Any]]:
        return project(sink.rows("Invoices"), INVOICE_COLUMNS)

    def line_rows(self, sink: LedgerSink) -> list[dict[str, Any]]:
        return project(sink.rows("Line Items"), LINE_COLUMNS)

    # -- tests ------------------------------------------------------------------------------

    def test_an_empty_ledger_has_no_rows(self, sink: LedgerSink) -> None:
        assert sink.rows("Invoices") == [] and sink.rows("Line Items") == []
        assert sink.location()

    def test_first_write_lands_every_row_typed(self, sink: LedgerSink) -> None:
        one, two = invoice(1), invoice(2)
        sink.write(batch(one, two))

        assert self.invoice_rows(sink) == [expected(one), expected(two)]
        assert self.line_rows(sink) == [expected(line) for inv in (one, two) for line in lines(inv)]
        row = self.invoice_rows(sink)[0]
        assert isinstance(row["Total"], Decimal) and isinstance(row["Invoice Date"], dt.date)
        assert row["Synced At"].tzinfo is not None and row["Reconciled"] is True
        assert row["Line Items"] == 3 and row["Period"] == "2026-01"

    def test_rerunning_the_same_batch_changes_nothing(self, sink: LedgerSink) -> None:
        same = batch(invoice(1), invoice(2))
        sink.write(same)
        first = (sink.rows("Invoices"), sink.rows("Line Items"))
        sink.write(same)

        assert (sink.rows("Invoices"), sink.rows("Line Items")) == first
        assert len(first[0]) == 2 and len(first[1]) == 6

    def test_an_updated_invoice_changes_in_place(self, sink: LedgerSink) -> None:
        one, two, three = invoice(1), invoice(2), invoice(3)
        sink.write(batch(one, two, three))
        paid = replace(two, status="Unpaid", total=Decimal("99.99"), balance_due=Decimal("99.99"))
        sink.write(batch(paid))

        assert self.invoice_rows(sink) == [expected(one), expected(paid), expected(three)]
        assert len(self.line_rows(sink)) == 9

    def test_the_preview_is_replaced_then_removed_by_the_final_invoice(
        self, sink: LedgerSink
    ) -> None:
        older = invoice(10)
        preview = invoice(11, key=PREVIEW_KEY, invoice_id="preview", status="Preview",
                          period="2026-11", pdf="", total=Decimal("10.00"))  # fmt: skip
        sink.write(batch(older, preview, line_count=5))
        grown = replace(preview, total=Decimal("17.50"), line_count=2)
        sink.write(batch(grown, line_count=2))

        assert self.invoice_rows(sink) == [expected(older), expected(grown)]
        assert [r["Line Key"] for r in self.line_rows(sink) if r["Invoice Key"] == PREVIEW_KEY] == [
            f"{PREVIEW_KEY}#1", f"{PREVIEW_KEY}#2",
        ]  # fmt: skip

        final = invoice(11, period="2026-11")
        sink.write(LedgerBatch(invoices=(final,), lines=lines(final), removed=(PREVIEW_KEY,)))
        assert self.invoice_rows(sink) == [expected(older), expected(final)]
        assert {r["Invoice Key"] for r in self.line_rows(sink)} == {older.key, final.key}
        assert len(self.line_rows(sink)) == 5 + 3

    def test_a_line_set_is_replaced_whole(self, sink: LedgerSink) -> None:
        one, two = invoice(1), invoice(2)
        sink.write(batch(one, two, line_count=4))
        fewer = lines(one, 2, amount=Decimal("7.00"))
        sink.write(LedgerBatch(invoices=(one,), lines=fewer))

        assert self.line_rows(sink) == [expected(line) for line in fewer + lines(two, 4)]

    def test_formula_like_text_stays_text(self, sink: LedgerSink) -> None:
        hostile = ["=1+2", '=HYPERLINK("https://evil.example","x")', "+SUM(A1:A9)", "-5", "@cmd",
                   "=cmd|' /C calc'!A0"]  # fmt: skip
        inv = invoice(1, invoice_id="=2+3", account="@team")
        items = tuple(
            replace(line, description=text, product=text)
            for line, text in zip(lines(inv, len(hostile)), hostile, strict=True)
        )
        sink.write(LedgerBatch(invoices=(inv,), lines=items))

        assert self.invoice_rows(sink) == [expected(inv)]
        assert [r["Description"] for r in self.line_rows(sink)] == hostile
        assert [r["Product"] for r in self.line_rows(sink)] == hostile

    def test_non_ascii_text_round_trips(self, sink: LedgerSink) -> None:
        inv = invoice(1, account="Société Générale — 東京", invoice_id="№ 42")
        items = lines(inv, 2, description="Ünïcödé ✓ 😀 Zürich", project="проект")
        sink.write(LedgerBatch(invoices=(inv,), lines=items))

        assert self.invoice_rows(sink) == [expected(inv)]
        assert self.line_rows(sink) == [expected(line) for line in items]

    def test_negative_credits_stay_negative(self, sink: LedgerSink) -> None:
        inv = invoice(1, credits=Decimal("-25.50"), total=Decimal("-1.23"),
                      balance_due=Decimal("-1.23"))  # fmt: skip
        items = lines(inv, 1, product="Credit", category="Credit", amount=Decimal("-25.50"))
        sink.write(LedgerBatch(invoices=(inv,), lines=items))

        row = self.invoice_rows(sink)[0]
        assert (row["Credits & Adjustments"], row["Total"]) == (Decimal("-25.50"), Decimal("-1.23"))
        assert self.line_rows(sink)[0]["Amount"] == Decimal("-25.50")

    def test_decimal_amounts_are_exact(self, sink: LedgerSink) -> None:
        amounts = [Decimal("0.01"), Decimal("0.1") + Decimal("0.2"), Decimal("1234567.89"),
                   Decimal("99999999.99"), Decimal("0.07")]  # fmt: skip
        inv = invoice(1, total=sum(amounts, Decimal(0)))
        items = tuple(
            replace(line, amount=amount, unit_price=Decimal("0.000123"))
            for line, amount in zip(lines(inv, len(amounts)), amounts, strict=True)
        )
        sink.write(LedgerBatch(invoices=(inv,), lines=items))

        assert self.invoice_rows(sink)[0]["Total"] == Decimal("101234568.26")
        read = self.line_rows(sink)
        assert [r["Amount"] for r in read] == amounts
        assert all(type(r["Amount"]) is Decimal for r in read)
        assert {r["Unit Price"] for r in read} == {Decimal("0.000123")}
        assert sum((r["Amount"] for r in read), Decimal(0)) == Decimal("101234568.26")

    def test_each_currency_keeps_its_own_rows(self, sink: LedgerSink) -> None:
        usd = invoice(1)
        eur = invoice(2, key="doit:acme:2", provider="doit", currency="EUR",
                      total=Decimal("88.10"))  # fmt: skip
        yen = {"total": Decimal("1234"), "product_charges": Decimal("1234"),
               "lines_total": Decimal("1234"), "taxes": Decimal("0"), "credits": Decimal("0"),
               "overages": Decimal("0"), "balance_due": Decimal("0")}  # fmt: skip
        jpy = invoice(3, key="doit:acme:3", provider="doit", currency="JPY", **yen)
        sink.write(batch(usd, eur, jpy))

        rows = self.invoice_rows(sink)
        assert [(r["Currency"], r["Total"]) for r in rows] == [
            ("USD", Decimal("123.45")), ("EUR", Decimal("88.10")), ("JPY", Decimal("1234")),
        ]  # fmt: skip
        assert rows == [expected(usd), expected(eur), expected(jpy)]
        assert {r["Currency"] for r in self.line_rows(sink) if r["Invoice Key"] == jpy.key} == {
            "JPY"
        }

    def test_runs_are_appended_in_order(self, sink: LedgerSink) -> None:
        first, second = run(1), run(2, status="failed", message="=not a formula",
                                    counts=replace(run(1).counts, new=0))  # fmt: skip
        sink.append_run(first)
        sink.write(batch(invoice(1)))
        sink.append_run(second)

        assert project(sink.rows("Runs"), RUN_COLUMNS) == [expected(first), expected(second)]
        assert len(self.invoice_rows(sink)) == 1

    def test_user_reordered_columns_are_kept(self, sink: LedgerSink) -> None:
        one, two = invoice(1), invoice(2)
        sink.write(batch(one, two))
        order = list(reversed(INVOICE_COLUMNS))
        self.reorder_columns(sink, "Invoices", order)
        line_order = [
            "Line Key",
            "Amount",
            *[c for c in LINE_COLUMNS if c not in ("Line Key", "Amount")],
        ]
        self.reorder_columns(sink, "Line Items", line_order)

        updated = replace(two, status="Refunded", total=Decimal("0.00"))
        sink.write(
            LedgerBatch(invoices=(updated, invoice(3)), lines=lines(updated, 2) + lines(invoice(3)))
        )

        rows = sink.rows("Invoices")
        assert list(rows[0])[: len(order)] == order  # the user's order, read by header
        assert project(rows, INVOICE_COLUMNS) == [
            expected(one),
            expected(updated),
            expected(invoice(3)),
        ]
        line_rows = sink.rows("Line Items")
        assert list(line_rows[0])[: len(line_order)] == line_order
        assert project(line_rows, LINE_COLUMNS) == [
            expected(line) for line in lines(one) + lines(updated, 2) + lines(invoice(3))
        ]
