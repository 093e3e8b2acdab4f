"""Allocation rules and the cent-exact split of shared lines (pure core)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from api.core.allocation import (
    SHARED,
    UNALLOCATED,
    allocate,
    allocate_all,
    parse_rules,
    split_cents,
)
from api.core.passthrough import invoice_shares, pass_through


def line(key: str, n: int, amount: str, **fields: str) -> dict[str, object]:
    return {"Invoice Key": key, "Line Key": f"{key}#{n}", "Period": fields.pop("period", "2026-01"),
            "Currency": fields.pop("currency", "USD"), "Amount": Decimal(amount),
            "Category": fields.pop("category", "Compute"), **fields}  # fmt: skip


RULES = [
    {"Match": "project: web-*", "Client": "Acme", "Billable": "yes", "Markup %": "10"},
    {"Match": "project: web-internal", "Client": "Us", "Billable": "no", "Markup %": ""},
    {"Match": "description: backup", "Client": "Globex", "Billable": "Yes", "Markup %": 15},
    {"Match": "6f1c-uuid", "Client": "Initech", "Billable": "no", "Markup %": None},
    {"Match": "product: *Support*", "Client": "Shared", "Billable": "", "Markup %": ""},
]


def test_first_rule_wins_across_fields_of_a_bare_pattern() -> None:
    rules, _ = parse_rules([
        {"Match": "abc", "Client": "First", "Billable": "", "Markup %": ""},
        {"Match": "xyz", "Client": "Second", "Billable": "", "Markup %": ""},
        {"Match": "group: abc", "Client": "Third", "Billable": "", "Markup %": ""},
    ])  # fmt: skip
    lines = [{"Project": "xyz", "Group": "abc"}, {"Project": "XYZ"}, {"Group": "ABC"}]
    assert [a.client for a in allocate_all(lines, rules)] == ["First", "Second", "First"]
    assert [allocate(x, rules).client for x in lines] == ["First", "Second", "First"]


def test_first_matching_rule_wins_and_bare_patterns_try_ids() -> None:
    rules, problems = parse_rules(RULES)
    assert problems == ()
    # web-internal matches both the first and the second rule: the first wins.
    got = allocate({"Project": "web-internal"}, rules)
    assert (got.client, got.billable, got.markup) == ("Acme", True, Decimal(10))
    assert allocate({"Description": "Droplet BACKUPS weekly"}, rules).client == "Globex"
    assert allocate({"Resource UUID": "6f1c-uuid"}, rules).client == "Initech"
    assert allocate({"Project": "api"}, rules).client == UNALLOCATED
    assert allocate({"Category": "Tax", "Product": "Taxes"}, rules).client == SHARED
    assert allocate({"Category": "Platform", "Product": "Premium Support"}, rules).client == SHARED


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"Match": "projct: web", "Client": "Acme"}, "unknown field 'projct'"),
        ({"Match": "project: web", "Client": ""}, "Client is empty"),
        ({"Match": "project: web", "Client": "Acme", "Billable": "maybe"}, "yes or no"),
        ({"Match": "project: web", "Client": "Acme", "Markup %": "ten"}, "must be a number"),
    ],
)
def test_a_bad_rule_is_reported_and_the_others_still_apply(
    row: dict[str, str], fragment: str
) -> None:
    good = {"Match": "group: g1", "Client": "Acme", "Billable": "no", "Markup %": ""}
    rules, problems = parse_rules([{"Billable": "", "Markup %": "", **row}, good])
    assert len(problems) == 1 and fragment in problems[0] and "rule 1" in problems[0]
    assert problems[0].endswith("; the rule was skipped.")
    assert [r.client for r in rules] == ["Acme"] and rules[0].number == 2


def test_every_fault_of_a_rule_is_named_in_its_one_message() -> None:
    row = {"Match": "project: web", "Client": "", "Billable": "maybe", "Markup %": "x"}

    rules, (problem,) = parse_rules([row])

    assert rules == () and problem == (
        "Clients rule 1 (Match 'project: web'): Client is empty; Billable must be yes or no, "
        "not 'maybe'; Markup % must be a number, not 'x'; the rule was skipped."
    )


def test_a_tab_without_match_column_reports_it() -> None:
    rules, problems = parse_rules([{"Pattern": "x", "Client": "Acme"}])
    assert rules == () and "no Match column" in problems[0]


@pytest.mark.parametrize("amount", ["10.00", "-10.00", "0.01", "100.005", "7"])
def test_split_adds_up_exactly_and_whole_cents(amount: str) -> None:
    weights = [("a", Decimal("1")), ("b", Decimal("1")), ("c", Decimal("1"))]
    parts = split_cents(Decimal(amount), weights, "USD")
    assert sum(parts.values()) == Decimal(amount)
    cents = [p for k, p in parts.items() if k != "a"]
    assert all(p == p.quantize(Decimal("0.01")) for p in cents)


def test_split_remainder_goes_to_largest_fraction_then_first_key() -> None:
    # 10.00 in thirds: 3.33 each and one cent left; equal fractions -> the first key gets it.
    assert split_cents(Decimal("10.00"), [("a", Decimal(1)), ("b", Decimal(1)),
                                          ("c", Decimal(1))], "USD") == {
        "a": Decimal("3.34"), "b": Decimal("3.33"), "c": Decimal("3.33")}  # fmt: skip
    # 1.00 at 2:1 -> 0.666.. / 0.333..: the larger fraction (b's .666) takes the cent.
    got = split_cents(Decimal("1.00"), [("a", Decimal(1)), ("b", Decimal(2))], "USD")
    assert got == {"a": Decimal("0.33"), "b": Decimal("0.67")}
    # Yen has no minor unit.
    assert split_cents(Decimal(100), [("a", Decimal(1)), ("b", Decimal(2))], "JPY") == {
        "a": Decimal(33), "b": Decimal(67)}  # fmt: skip


def test_split_is_deterministic_and_exact_on_random_input() -> None:
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(1, 6)
        weights = [(f"k{i}", Decimal(rng.randint(-500, 5000)) / 100) for i in range(n)]
        amount = Decimal(rng.randint(-100000, 100000)) / 100
        parts = split_cents(amount, weights, "EUR")
        assert sum(parts.values()) == amount
        assert parts == split_cents(amount, list(weights), "EUR")
        for key, weight in weights:
            if weight <= 0 and key != weights[0][0]:
                assert parts[key] == 0


def test_shared_tax_and_credit_split_per_invoice_to_the_cent() -> None:
    rules, _ = parse_rules(RULES)
    lines = [
        line("inv1", 1, "100.00", Project="web-shop"),  # Acme, billable 10 %
        line("inv1", 2, "50.00", Project="api"),  # Unallocated
        line("inv1", 3, "33.33", Description="Backup of db"),  # Globex, billable 15 %
        line("inv1", 4, "18.34", category="Tax", Product="Taxes"),  # shared
        line("inv1", 5, "-10.01", category="Credit", Product="Credits"),  # shared
        line("inv2", 1, "9.99", category="Tax", Product="Taxes"),  # only shared -> Unallocated
    ]
    allocations = [allocate(item, rules) for item in lines]
    shares = invoice_shares(lines, allocations)
    for key in ("inv1", "inv2"):
        expected = sum(item["Amount"] for item in lines if item["Invoice Key"] == key)
        assert sum(s.cost for s in shares if s.invoice_key == key) == expected
    by_client = {s.client: s for s in shares if s.invoice_key == "inv1"}
    # Net shared 8.33 split 100 : 50 : 33.33 -> 454.37 / 227.19 / 151.44 cents: floors
    # 4.54 / 2.27 / 1.51 = 8.32, the last cent to the largest fraction (Globex .44).
    assert by_client["Acme"].shared == Decimal("4.54")
    assert by_client[UNALLOCATED].shared == Decimal("2.27")
    assert by_client["Globex"].shared == Decimal("1.52")
    inv2 = [s for s in shares if s.invoice_key == "inv2"]
    assert [(s.client, s.cost) for s in inv2] == [(UNALLOCATED, Decimal("9.99"))]

    table = {(r.client): r for r in pass_through(shares)}
    acme = table["Acme"]
    assert acme.cost == Decimal("104.54") and acme.billable_cost == Decimal("104.54")
    assert acme.markup == Decimal("10.45") and acme.rebill == Decimal("114.99")
    assert table["Globex"].markup == Decimal("5.23")  # 34.85 x 15 % = 5.2275 -> 5.23
    assert table[UNALLOCATED].billable_cost == 0 and table[UNALLOCATED].rebill == 0
    assert sum(r.cost for r in table.values()) == sum(item["Amount"] for item in lines)


def test_accounts_tab_overrides_defaults_and_reports_unknown_categories() -> None:
    from api.core.bills import DEFAULT_ACCOUNTS, parse_accounts

    rows = [{"Category": "Compute", "Xero Account Code": "463", "QBO Account": "Hosting"},
            {"Category": "Compoot", "Xero Account Code": "1"}]  # fmt: skip
    accounts, problems = parse_accounts(rows)
    assert accounts.of("Compute").xero_account == "463"
    assert accounts.of("Compute").qbo_account == "Hosting"
    assert accounts.of("Compute").xero_tax_type == DEFAULT_ACCOUNTS.default.xero_tax_type
    assert accounts.of("Storage") == DEFAULT_ACCOUNTS.default
    assert len(problems) == 1 and "unknown category 'Compoot'" in problems[0]


def test_xero_files_hold_at_most_500_bills_and_tax_rides_on_the_lines() -> None:
    import datetime as dt

    from api.core.bill_formats import xero_files
    from api.core.bills import DEFAULT_ACCOUNTS, Bill, BillLine

    day = dt.date(2026, 1, 31)
    lines = tuple(BillLine(text, Decimal(amount), category) for text, amount, category in [
        ("a", "10.00", "Compute"), ("b", "20.00", "Storage"), ("credit", "-5.00", "Credit"),
        ("tax", "1.00", "Tax")])  # fmt: skip
    bills = [Bill(f"N{n}", "DigitalOcean", f"k{n}", "2026-01", day, day, "USD", Decimal("26.00"),
                  lines) for n in range(1001)]  # fmt: skip
    files = xero_files(bills, DEFAULT_ACCOUNTS)
    assert [len({r["*InvoiceNumber"] for r in rows}) for rows in files] == [500, 500, 1]
    first = [r for r in files[0] if r["*InvoiceNumber"] == "N0"]
    assert [r["Description"] for r in first] == ["a", "b", "credit"]  # no tax line
    assert [r["TaxAmount"] for r in first] == ["0.33", "0.67", ""]  # 1.00 split 10 : 20
    assert [r["*TaxType"] for r in first] == ["Tax on Purchases"] * 2 + ["Tax Exempt"]


def test_a_pdf_invoices_bill_names_its_supplier_and_carries_its_tax() -> None:
    """The inbox's invoices keep their tax on the invoice row (no Tax line): the bill must
    still add up to the invoice total, and its supplier is the Account, not "PDF"."""
    from api.core.bill_formats import qbo_rows, xero_files
    from api.core.bills import DEFAULT_ACCOUNTS, month_bills
    from tests.export_rules import validate_qbo, validate_xero

    invoice = {"Provider": "PDF", "Account": "Linode LLC", "Invoice ID": "LN-2026-0042",
               "Invoice Key": "pdf:abc", "Period": "2026-09", "Status": "",
               "Currency": "USD", "Taxes": Decimal("2.32"), "Total": Decimal("31.32")}  # fmt: skip
    lines = [{"Invoice Key": "pdf:abc", "Period": "2026-09", "Line Key": f"pdf:abc#{n}",
              "Product": "", "Description": text, "Category": "Compute", "Amount": Decimal(amount)}
             for n, (text, amount) in enumerate([("Linode 4GB", "24.00"),
                                                 ("Object Storage", "5.00")], 1)]  # fmt: skip
    (bill,) = month_bills([invoice], lines, "2026-09")
    assert bill.supplier == "Linode LLC"
    xero = "\n".join(_csv(rows) for rows in xero_files([bill], DEFAULT_ACCOUNTS))
    assert validate_xero(xero) == {"LN-2026-0042": ("USD", Decimal("31.32"))}
    assert "Linode LLC" in xero and ",PDF," not in xero
    qbo, skipped = qbo_rows([bill], DEFAULT_ACCOUNTS)
    assert skipped == []
    assert validate_qbo(_csv(qbo)) == {"LN-2026-0042": ("USD", Decimal("31.32"))}


def _csv(rows: list[dict[str, str]]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize(("row", "fragment"), [
    ({"Match": "project:", "Client": "Acme"}, "nothing to match after 'project:'"),
    ({"Match": "web", "Client": "Acme", "Markup %": "1e9"}, "between -100 and 1000"),
    ({"Match": "web", "Client": "Acme", "Markup %": "-150"}, "between -100 and 1000"),
])  # fmt: skip
def test_rules_that_would_take_or_bill_nonsense_are_skipped(
    row: dict[str, str], fragment: str
) -> None:
    rules, (problem,) = parse_rules([{"Billable": "", "Markup %": "", **row}])

    assert rules == () and fragment in problem and problem.endswith("the rule was skipped.")


@pytest.mark.parametrize(("cell", "points"), [
    (Decimal("0.15"), Decimal(15)),  # a cell formatted as percent: 15% is kept as 0.15
    (0.15, Decimal(15)),
    (15, Decimal(15)),
    ("15%", Decimal(15)),
    ("0.5", Decimal("0.5")),  # typed as text: what it says
    (Decimal(0), Decimal(0)),
])  # fmt: skip
def test_markup_from_a_percent_formatted_cell_is_percent_points(
    cell: object, points: Decimal
) -> None:
    (rule,), problems = parse_rules([{"Match": "web", "Client": "Acme", "Billable": 1.0,
                                      "Markup %": cell}])  # fmt: skip

    assert problems == () and rule.markup == points and rule.billable is True


def test_a_misspelt_column_is_reported_and_a_column_of_ones_own_is_not() -> None:
    row = {"Match": "web", "Client": "Acme", "Billable?": "yes", "Markup": "10", "Notes": "hi"}

    (rule,), problems = parse_rules([row])

    assert problems == (
        "The Clients tab's column 'Billable?' was ignored: name it 'Billable' to use it.",
        "The Clients tab's column 'Markup' was ignored: name it 'Markup %' to use it.",
    )
    assert rule.billable is False and rule.markup == 0
