"""The Summary's month-over-month rule (pure): each series compares with its latest earlier
billed month, so a currency billed every other month still shows a change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.core.summary import compared_months, summary_tables
from tests.report_samples import SPARSE, ledger_batch, sums


def lines() -> list[dict[str, Any]]:
    return [line.row() for line in ledger_batch(SPARSE).lines]


def table(title: str) -> list[dict[str, Any]]:
    (found,) = [t for t in summary_tables(lines()) if t.title == title]
    return [dict(zip(found.header, row, strict=True)) for row in found.rows]


def test_compared_months_skips_the_gap_months() -> None:
    assert compared_months(["2026-06", "2026-02", "2026-04", "2026-04"]) == {
        "2026-02": "", "2026-04": "2026-02", "2026-06": "2026-04"}  # fmt: skip
    assert compared_months(["", "2026-13", "Q1", "2025-12", "2026-01"]) == {
        "2025-12": "", "2026-01": "2025-12"}  # fmt: skip


def test_every_other_month_currency_compares_with_its_previous_billed_month() -> None:
    totals = sums([x for x in lines() if x["Currency"] == "JPY"], "Period")
    rows = table("Monthly spend by category (JPY)")
    assert [(r["Period"], r["Compared with"]) for r in rows] == [
        ("2026-02", None), ("2026-04", "2026-02"), ("2026-06", "2026-04")]  # fmt: skip
    for row in rows[1:]:
        now, before = totals[(row["Period"],)], totals[(row["Compared with"],)]
        assert row["Change"] == now - before
        assert abs(row["Change %"] - (now - before) / before) < Decimal("0.000001")
    assert rows[0]["Change"] is None and rows[0]["Change %"] is None


def test_a_credit_month_then_spend_is_a_rise() -> None:
    jan, feb, mar = table("Monthly spend by category (USD)")
    assert jan["Total"] < 0 < feb["Change"] and feb["Change %"] > 0
    assert feb["Change %"] == feb["Change"] / -jan["Total"]
    assert mar["Compared with"] == "2026-02"


def test_project_and_account_tables_follow_the_same_rule() -> None:
    projects = {(r["Period"], r["Project"]): r for r in table("Monthly spend by project (JPY)")}
    bi = projects[("2026-04", "bi")]
    assert bi["Compared with"] == "2026-02"
    assert bi["Change"] == bi["Amount"] - projects[("2026-02", "bi")]["Amount"]
    # JCT has no project: a series of its own, billed in February and April only.
    assert projects[("2026-04", "(no project)")]["Compared with"] == "2026-02"
    accounts = {(r["Account"], r["Period"]): r
                for r in table("Monthly spend by provider and account")}  # fmt: skip
    tokyo = accounts[("tokyo.example.com", "2026-06")]
    assert tokyo["Compared with"] == "2026-04"
    assert tokyo["Change"] == tokyo["Amount"] - accounts[("tokyo.example.com", "2026-04")]["Amount"]
    kuwait = accounts[("kuwait.example.com", "2026-03")]
    assert kuwait["Compared with"] is None and kuwait["Change"] is None


def test_money_cells_name_their_currency() -> None:
    tables = summary_tables(lines())
    for found in tables:
        for row in found.rows:
            code = found.row_currency(row)
            assert code in {"USD", "JPY", "KWD"}, (found.title, row)
            assert found.currency_column or found.title.endswith(f"({code})")


def test_a_month_to_date_preview_is_a_row_of_its_own_and_never_compared() -> None:
    def line(key: str, period: str, amount: str) -> dict[str, Any]:
        return {"Invoice Key": key, "Period": period, "Amount": Decimal(amount),
                "Currency": "USD", "Category": "Compute", "Provider": "DigitalOcean",
                "Account": "team"}  # fmt: skip

    made = summary_tables([
        line("digitalocean:u-10", "2026-10", "100.00"),
        line("digitalocean:u-11", "2026-11", "90.00"),  # an invoice of November (another team)
        line("digitalocean:preview:2026-11", "2026-11", "30.00"),  # November so far
    ])  # fmt: skip

    (category,) = [t for t in made if t.title == "Monthly spend by category (USD)"]
    rows = {row[0]: dict(zip(category.header, row, strict=True)) for row in category.rows}
    assert list(rows) == ["2026-10", "2026-11", "2026-11 (preview)"]
    assert rows["2026-11"]["Total"] == Decimal("90.00") and rows["2026-11"]["Change"] == -10
    preview = rows["2026-11 (preview)"]
    assert preview["Total"] == Decimal("30.00") and preview["Compared with"] is None
    assert preview["Change"] is None and preview["Change %"] is None


def test_lines_without_a_month_or_with_a_date_for_one_still_make_a_summary() -> None:
    import datetime as dt

    def line(period: object, project: str) -> dict[str, Any]:
        return {"Invoice Key": f"pdf:{project}", "Period": period, "Amount": Decimal("10.00"),
                "Currency": "USD", "Category": "Other", "Project": project,
                "Provider": "PDF", "Account": "Hosting Co"}  # fmt: skip

    made = summary_tables([
        line("", "undated"),  # an undated PDF: its series has no month at all
        line(dt.datetime(2026, 9, 1), "retyped"),  # '2026-09' that a spreadsheet made a date
        line("2026-09", "typed"),
    ])  # fmt: skip

    (category,) = [t for t in made if t.title == "Monthly spend by category (USD)"]
    assert [(row[0], row[-4]) for row in category.rows] == [
        ("(no date)", Decimal("10.00")), ("2026-09", Decimal("20.00"))]  # fmt: skip
