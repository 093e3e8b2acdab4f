"""The functional core: categories, money, reconciliation, diffing, text rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.core.categories import CATEGORIES, categorize
from api.core.diff import plan_sync
from api.core.model import Invoice, InvoiceRef, LineItem
from api.core.money import parse_amount, quantize
from api.core.reconcile import reconcile
from api.core.text import counted, fingerprint, looks_like_formula, safe_file_name


@pytest.mark.parametrize(
    ("product", "description", "expected"),
    [
        ("Droplets", "web-01 (s-2vcpu-4gb)", "Compute"),
        ("Kubernetes Clusters", "my-doks-cluster", "Kubernetes"),
        ("Managed Databases", "db-postgresql-nyc1", "Databases"),
        ("Spaces Subscription", "Spaces ($5/mo 250GB storage & 1TB bandwidth)", "Storage"),
        ("Volumes", "vol-01 (100 GiB)", "Storage"),
        ("Load Balancers", "lb-01", "Networking"),
        ("Bandwidth", "Outbound transfer overage", "Networking"),
        ("Floating IPs", "Unused Floating IP - 1.1.1.1", "Networking"),
        ("Taxes", "STATE SALES TAX (6.25%)", "Tax"),
        ("Credits", "Promo credit", "Credit"),
        ("App Platform", "my-app", "Compute"),
        ("Monitoring", "Uptime checks", "Platform"),
        ("Quantum Flux Capacitor", "brand new product", "Other"),
        ("", "", "Other"),
    ],
)
def test_category_from_free_text(product: str, description: str, expected: str) -> None:
    assert categorize(product, description) == expected
    assert expected in CATEGORIES


def test_unknown_negative_amount_is_a_credit_not_dropped() -> None:
    assert categorize("Something new", "", amount_negative=True) == "Credit"


def test_short_tokens_match_whole_words_only() -> None:
    # "vm" must not match inside "svmlight", nor "vat" inside "private"
    assert categorize("svmlight cache", "") == "Other"
    assert categorize("Private thing", "") == "Other"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12.34", "12.34"), ("$1,234.50", "1234.50"), ("-10.00", "-10.00"), ("-$10.00", "-10.00"),
     ("(3.10)", "-3.10"), (0.1, "0.1"), (7, "7"), (" 0.30 ", "0.30")],
)  # fmt: skip
def test_parse_amount_is_exact(raw: object, expected: str) -> None:
    assert parse_amount(raw) == Decimal(expected)
    assert str(parse_amount(raw)) == expected


@pytest.mark.parametrize("raw", ["", "abc", None, True, "NaN", "Infinity"])
def test_parse_amount_rejects_non_amounts(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_amount(raw)


def test_quantize_follows_the_currency_minor_unit() -> None:
    assert quantize(Decimal("1234.5"), "JPY") == Decimal("1234")
    assert quantize(Decimal("1.005"), "USD") == Decimal("1.00")  # banker's rounding
    assert quantize(Decimal("1.0005"), "KWD") == Decimal("1.000")


def _invoice(total: str, currency: str = "USD") -> Invoice:
    return Invoice(
        "DigitalOcean",
        "Acme",
        "1",
        "digitalocean:u1",
        "2026-01",
        "Issued",
        currency,
        Decimal(total),
    )


def _line(amount: str, position: int, currency: str = "USD") -> LineItem:
    return LineItem(
        "DigitalOcean",
        "Acme",
        "1",
        "digitalocean:u1",
        "2026-01",
        position,
        "Droplets",
        "Compute",
        "web",
        Decimal(amount),
        currency,
    )


def test_reconcile_within_one_cent() -> None:
    lines = [_line("10.00", 1), _line("2.34", 2), _line("-1.00", 3)]
    assert reconcile(_invoice("11.34"), lines).reconciled is True
    assert reconcile(_invoice("11.35"), lines).reconciled is True
    off = reconcile(_invoice("11.36"), lines)
    assert off.reconciled is False and off.lines_total == Decimal("11.34") and off.line_count == 3


def test_reconcile_never_sums_across_currencies() -> None:
    lines = [_line("10.00", 1), _line("5.00", 2, currency="EUR")]
    result = reconcile(_invoice("15.00"), lines)
    assert result.lines_total == Decimal("10.00") and result.reconciled is False


def _ref(key: str, version: str = "final", preview: bool = False) -> InvoiceRef:
    return InvoiceRef(key, "digitalocean", key, "2026-01", version, is_preview=preview)


def test_plan_adds_updates_skips_and_removes_superseded_previews() -> None:
    listed = [_ref("a"), _ref("b", "v2"), _ref("c"), _ref("x:preview:2026-02", "t2", True)]
    index = {"a": "final", "b": "v1", "x:preview:2026-01": "t1"}
    plan = plan_sync(listed, index)
    assert [r.key for r in plan.add] == ["c", "x:preview:2026-02"]
    assert [r.key for r in plan.update] == ["b"]
    assert [r.key for r in plan.unchanged] == ["a"]
    assert plan.remove == ("x:preview:2026-01",)


def test_plan_full_refetches_known_invoices_as_updates() -> None:
    plan = plan_sync([_ref("a"), _ref("b")], {"a": "final"}, full=True)
    assert [r.key for r in plan.update] == ["a"] and [r.key for r in plan.add] == ["b"]


def test_plan_without_preview_drops_and_removes_previews() -> None:
    plan = plan_sync(
        [_ref("x:preview:2026-02", "t", True)], {"x:preview:2026-02": "t"}, include_preview=False
    )
    assert plan.fetch == () and plan.remove == ("x:preview:2026-02",)


def test_plan_ignores_a_key_listed_twice() -> None:
    plan = plan_sync([_ref("a"), _ref("a")], {})
    assert [r.key for r in plan.add] == ["a"]


def test_fingerprint_shows_prefix_and_last_four_only() -> None:
    token = "dop_v1_" + "0123456789abcdef" * 4
    assert fingerprint(token) == "dop_v1_…cdef"
    assert fingerprint("short") == "…rt"
    assert "0123456789" not in fingerprint(token)


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx"])
def test_formula_leads_are_detected(text: str) -> None:
    assert looks_like_formula(text)
    assert not looks_like_formula("web " + text)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("../../etc/passwd", "_etc_passwd"), ("a/b:c*?", "a_b_c_"), ("  ..  ", "_"),
     ("Zürich café", "Zürich café"), ("2026-01 123456789", "2026-01 123456789")],
)  # fmt: skip
def test_safe_file_names(name: str, expected: str) -> None:
    assert safe_file_name(name) == expected


@pytest.mark.parametrize(
    ("n", "words", "expected"),
    [(0, ("invoice",), "0 invoices"), (1, ("invoice",), "1 invoice"),
     (2, ("line item",), "2 line items"), (1, ("entry", "entries"), "1 entry"),
     (3, ("entry", "entries"), "3 entries")],
)  # fmt: skip
def test_counted_puts_the_noun_in_the_right_number(
    n: int, words: tuple[str, ...], expected: str
) -> None:
    assert counted(n, *words) == expected
    assert counted(12345, "row", grouped=True) == "12,345 rows"
