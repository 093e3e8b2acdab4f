"""DoiT simulator data and pure API rules: invoices, payments, filters, problems, wire numbers."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from api.core.money import quantize

DAY_MS = 86_400_000
PAID, OPEN, PAST_DUE = "PAID", "OPEN", "PAST DUE"
FILTER_KEYS = ("platform", "status", "dueDate")

# (platform, currency, VAT rate or None). The last platform is not in the spec's enum: the
# API grows new platforms and a client must keep the value rather than drop the invoice.
PROFILES: tuple[tuple[str, str, Decimal | None], ...] = (
    ("google-cloud", "USD", None),
    ("amazon-web-services", "USD", None),
    ("microsoft-azure", "EUR", Decimal("0.19")),
    ("g-suite", "GBP", Decimal("0.20")),
    ("office-365", "ILS", Decimal("0.17")),
    ("looker", "JPY", Decimal("0.10")),
    ("perfectscale", "EUR", None),
)

# Usage lines per platform: (description, details, unit price). Prices carry more decimals
# than the currency so qty x price needs rounding, like real per-GB or per-hour prices.
CATALOG: dict[str, tuple[tuple[str, str, str], ...]] = {
    "google-cloud": (
        ("Compute Engine", "N2 Instance Core running in Americas", "0.031611"),
        ("BigQuery", "Analysis (on-demand) — US multi-region", "6.25"),
        ("Cloud Storage", "Standard Storage US Multi-region", "0.026"),
        ("Kubernetes Engine", "GKE cluster management fee", "0.1"),
        ("Networking", "Network Internet Egress from Americas to EMEA", "0.12"),
    ),
    "amazon-web-services": (
        ("Amazon EC2", "m6i.large On Demand Linux, us-east-1", "0.096"),
        ("Amazon RDS", "db.r6g.xlarge PostgreSQL Multi-AZ", "0.962"),
        ("Amazon S3", "TimedStorage-ByteHrs, eu-west-1", "0.023"),
        ("AWS Data Transfer", "DataTransfer-Out-Bytes, us-east-1", "0.09"),
    ),
    "microsoft-azure": (
        ("Virtual Machines", "D4s v5 — West Europe", "0.192"),
        ("Azure Cosmos DB", "Provisioned throughput 100 RU/s", "0.008"),
        ("Storage", "Hot LRS data stored — Deutschland Süd", "0.0196"),
    ),
    "g-suite": (
        ("Google Workspace Business Standard", "Flexible plan, per user", "11.04"),
        ("Google Workspace Enterprise Plus", "Annual plan, per user", "25.2"),
    ),
    "office-365": (
        ("Microsoft 365 Business Premium", "מנוי חודשי, per user", "79.9"),
        ("Exchange Online (Plan 1)", "Monthly, per user", "14.9"),
    ),
    "looker": (
        ("Looker Platform", "Standard edition — 東京リージョン", "180000"),
        ("Looker Viewer Users", "Per viewer user", "3650"),
    ),
    "perfectscale": (
        ("PerfectScale", "Kubernetes optimisation, per vCPU", "1.35"),
        ('=HYPERLINK("http://evil.example","Support")', "Formula-like text stays text", "0.1"),
    ),
}

# Credits and odd descriptions that must survive into the ledger as plain text.
CREDIT_LINES = (
    ("discount", "Committed use discount", "Resource-based CUD"),
    ("credit", "-5% promotional credit", "@promo 2026"),
    ("credit", "Crédit commercial — Überweisung", "+ goodwill"),
)


@dataclass(frozen=True)
class SimLine:
    type: str
    description: str
    details: str
    qty: Decimal
    price: Decimal
    currency: str | None  # None: the line omits currency (the invoice's applies)


@dataclass(frozen=True)
class SimInvoice:
    tenant: str
    id: str
    platform: str
    currency: str
    invoice_ms: int
    due_ms: int
    created_ms: int  # when the invoice appears in the API (posted days after month end)
    lines: tuple[SimLine, ...]
    payments: tuple[tuple[int, Decimal], ...] = field(default=())  # (when, amount)

    @property
    def total(self) -> Decimal:
        return sum(
            (quantize(line.qty * line.price, self.currency) for line in self.lines), Decimal(0)
        )

    def balance(self, now_ms: int) -> Decimal:
        paid = sum((amount for when, amount in self.payments if when <= now_ms), Decimal(0))
        return max(self.total - paid, Decimal(0))

    def status(self, now_ms: int) -> str:
        if self.balance(now_ms) == 0:
            return PAID
        return PAST_DUE if now_ms > self.due_ms else OPEN


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def month_starts(today: dt.date, months: int) -> list[dt.date]:
    """First days of the `months` months up to today's, plus next month (not yet posted)."""
    first = today.replace(day=1)
    starts = []
    for back in range(months - 1, -2, -1):
        index = first.year * 12 + first.month - 1 - back
        starts.append(dt.date(index // 12, index % 12 + 1, 1))
    return starts


def generate(tenants: Sequence[str], today: dt.date, months: int, seed: int) -> list[SimInvoice]:
    rng = random.Random(seed)
    invoices: list[SimInvoice] = []
    for tenant_index, tenant in enumerate(tenants):
        number = 204_000_000 + tenant_index * 100_000
        for start in month_starts(today, months):
            for platform, currency, vat in PROFILES:
                if platform in ("perfectscale", "looker") and start.month % 2:
                    continue  # smaller platforms bill every other month
                number += rng.randint(1, 40)
                invoices.append(
                    _invoice(rng, tenant, f"IN{number}", platform, currency, vat, start)
                )
    return invoices


def _invoice(
    rng: random.Random, tenant: str, number: str, platform: str, currency: str,
    vat: Decimal | None, start: dt.date,
) -> SimInvoice:  # fmt: skip
    midnight = dt.datetime.combine(start, dt.time(), dt.UTC)
    # The time-zone traps: 00:00 UTC on the 1st is the previous day in the Americas; the
    # JPY invoices are issued at 20:00 UTC on the last day, already the 1st in Tokyo.
    issued = midnight - dt.timedelta(hours=4) if currency == "JPY" else midnight
    due = issued + dt.timedelta(days=30 if currency != "ILS" else 45)
    if currency == "GBP":
        due = due.replace(hour=23, minute=30)  # late in the UTC day: next day east of UTC
    created = midnight + dt.timedelta(days=rng.randint(2, 6), hours=rng.randint(0, 20))
    lines = _lines(rng, platform, currency, vat)
    invoice = SimInvoice(tenant, number, platform, currency, ms(issued), ms(due), ms(created),
                         lines)  # fmt: skip
    return _with_payments(rng, invoice)


def _lines(
    rng: random.Random, platform: str, currency: str, vat: Decimal | None
) -> tuple[SimLine, ...]:
    lines: list[SimLine] = []
    for description, details, price in CATALOG[platform]:
        qty = Decimal(rng.randint(1, 400)) if currency != "JPY" else Decimal(rng.randint(1, 3))
        if description == "Kubernetes Engine":
            qty = Decimal(3)  # 3 x 0.1: the classic 0.30000000000000004 trap for floats
        omit = rng.random() < 0.3
        lines.append(SimLine("usage", description, details, qty, Decimal(price),
                             None if omit else currency))  # fmt: skip
    if rng.random() < 0.6:
        kind, description, details = rng.choice(CREDIT_LINES)
        usage = sum((quantize(line.qty * line.price, currency) for line in lines), Decimal(0))
        credit = quantize(-usage * Decimal(rng.randint(3, 12)) / 100, currency)
        lines.append(SimLine(kind, description, details, Decimal(1), credit, currency))
    if vat is not None:
        net = sum((quantize(line.qty * line.price, currency) for line in lines), Decimal(0))
        lines.append(SimLine("tax", f"VAT {vat * 100:.0f}%", "Value added tax", Decimal(1),
                             quantize(net * vat, currency), currency))  # fmt: skip
    return tuple(lines)


def _with_payments(rng: random.Random, invoice: SimInvoice) -> SimInvoice:
    total = invoice.total
    plan = rng.choices(("on_time", "late", "partial", "never"), weights=(6, 2, 2, 0.4))[0]
    if total <= 0:
        return invoice
    payments: tuple[tuple[int, Decimal], ...]
    if plan == "on_time":
        payments = ((invoice.invoice_ms + rng.randint(10, 27) * DAY_MS, total),)
    elif plan == "late":
        payments = ((invoice.due_ms + rng.randint(4, 20) * DAY_MS, total),)
    elif plan == "partial":
        half = quantize(total / 2, invoice.currency)
        payments = ((invoice.invoice_ms + 15 * DAY_MS, half),
                    (invoice.due_ms + 10 * DAY_MS, total - half))  # fmt: skip
    else:
        payments = ()
    return SimInvoice(invoice.tenant, invoice.id, invoice.platform, invoice.currency,
                      invoice.invoice_ms, invoice.due_ms, invoice.created_ms, invoice.lines,
                      payments)  # fmt: skip


class ApiProblem(Exception):
    """An error answer: HTTP status, problem `code`, a human detail."""

    TITLES = {400: "Validation failed", 401: "Unauthorized", 403: "Forbidden",
              404: "Resource not found", 429: "Too many requests",
              500: "Internal server error", 502: "Bad gateway",
              503: "Service unavailable"}  # fmt: skip
    TITLES_BY_CODE = {"tenant_id_required": "Tenant ID required",
                      "tenant_id_mismatch": "Tenant ID mismatch",
                      "pagination_token_invalid": "Invalid pagination token",
                      "pagination_token_expired": "Expired pagination token"}  # fmt: skip

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def parse_filter(raw: Sequence[str]) -> dict[str, list[str]]:
    """'platform:a|platform:b|status:OPEN' -> {platform: [a, b], status: [OPEN]}; ApiProblem."""
    filters: dict[str, list[str]] = {}
    for expression in raw:
        for part in expression.split("|"):
            key, sep, value = part.partition(":")
            value = value.strip()
            if value.startswith("[") and value.endswith("]"):
                value = value[1:-1]  # the documented `key:[<value>]` form
            if not sep or key not in FILTER_KEYS or not value:
                raise ApiProblem(400, "validation_failed", f"invalid filter {part!r}; "
                                 f"supported keys: {', '.join(FILTER_KEYS)}")  # fmt: skip
            filters.setdefault(key, []).append(value)
    if sum(len(values) > 1 for values in filters.values()) > 1:
        raise ApiProblem(
            400, "validation_failed", "Having multiple keys multiple times is not supported."
        )
    return filters


def matches(inv: SimInvoice, filters: Mapping[str, list[str]], now_ms: int) -> bool:
    fields = {"platform": inv.platform, "status": inv.status(now_ms), "dueDate": str(inv.due_ms)}
    return all(fields[key] in values for key, values in filters.items())


def dumps(value: object) -> str:
    """JSON with Decimals written digit for digit, the way DoiT's numbers reach a client."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
