"""DigitalOcean wire format -> billsync model: listing refs, invoices and line items."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from api.core.categories import categorize
from api.core.model import PREVIEW_STATUS, FetchedInvoice, Invoice, InvoiceRef, LineItem
from api.core.money import parse_amount
from api.core.reconcile import reconcile
from api.errors import MalformedResponse
from api.providers import wire

PROVIDER = "digitalocean"
DISPLAY_NAME = "DigitalOcean"
CURRENCY = "USD"  # DigitalOcean bills in USD only (every amount in the spec says "in USD")
ISSUED_STATUS = "Issued"
# No per-invoice console URL is documented; the billing page lists every invoice.
SOURCE_URL = "https://cloud.digitalocean.com/account/billing"
PREVIEW_UUID = "preview"  # the spec's {invoice_uuid} may be literally "preview"
FINAL_VERSION = "final"  # a final DigitalOcean invoice never changes
DOCUMENTS = ("pdf", "csv")

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_CACHED = 4096  # distinct values remembered: a fleet's products and a month's hour marks repeat

# Both are pure and see the same few hundred values over and over (48,000 lines of a 10-year
# account hold ~600 product/description pairs and ~1,500 timestamps): parse each once.
_category = functools.lru_cache(maxsize=_CACHED)(categorize)


def _amount(value: object) -> Decimal:
    """parse_amount, with a fast path for DigitalOcean's plain decimal strings ("12.34")."""
    if type(value) is str:
        try:
            number = Decimal(value)
        except InvalidOperation:
            return parse_amount(value)  # "$1,234.50", "(3.10)"... or a ValueError
        if number.is_finite():
            return number
    return parse_amount(value)


@functools.lru_cache(maxsize=_CACHED)
def _utc(value: str) -> dt.datetime:
    """An ISO 8601 timestamp in UTC (DigitalOcean writes UTC; an offset-less time is UTC too)."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


class Wire(wire.Wire):
    """DigitalOcean's objects: amounts as decimal strings, periods, RFC 3339 timestamps."""

    @staticmethod
    def fail(detail: str) -> MalformedResponse:
        return malformed(detail)

    def amount(self, name: str, *, required: bool = False) -> Decimal | None:
        return self.decimal(name, required=required, parse=_amount)

    def period(self, name: str) -> str:
        value = self.text(name, required=True)
        if not _PERIOD.match(value):
            raise malformed(f"{self.where} has a '{name}' that is not YYYY-MM")
        return value

    def moment(self, name: str) -> dt.datetime | None:
        value = self.text(name)
        if not value:
            return None
        try:
            return _utc(value)
        except ValueError:
            raise malformed(f"{self.where} has a '{name}' that is not a timestamp") from None

    def charge(self, name: str) -> Decimal | None:
        """The `amount` of a nested charge object (`taxes: {name, amount}`), None if absent."""
        value = self.data.get(name)
        if value is None:
            return None
        return Wire(value, f"{self.where} '{name}'").amount("amount")


def malformed(detail: str) -> MalformedResponse:
    return MalformedResponse(
        f"DigitalOcean sent an unexpected response: {detail}.",
        provider=PROVIDER,
        action="This is usually temporary; run the sync again. If it persists, report it.",
    )


def final_ref(raw: object) -> InvoiceRef:
    wire = Wire(raw, "an invoice in the invoice list")
    uuid = wire.text("invoice_uuid", required=True)
    wire.where = f"invoice {uuid} in the invoice list"
    period = wire.period("invoice_period")
    return InvoiceRef(
        key=f"{PROVIDER}:{uuid}",
        provider=PROVIDER,
        invoice_id=wire.text("invoice_id", required=True, ids=True),
        period=period,
        version=FINAL_VERSION,
        handle={
            "uuid": uuid,
            "period": period,
            "amount": str(wire.amount("amount", required=True)),
        },
    )


def preview_ref(raw: object) -> InvoiceRef:
    wire = Wire(raw, "the invoice preview")
    period = wire.period("invoice_period")
    amount = str(wire.amount("amount", required=True))
    # The preview changes all month; updated_at and amount together say when it did.
    version = f"{wire.text('updated_at')}|{amount}"
    return InvoiceRef(
        key=f"{PROVIDER}:preview:{period}",
        provider=PROVIDER,
        invoice_id=wire.text("invoice_id", ids=True),
        period=period,
        version=version,
        is_preview=True,
        handle={"uuid": PREVIEW_UUID, "period": period, "amount": amount},
    )


def invoice_date(period: str) -> dt.date:
    """DigitalOcean issues an invoice on the 1st of the month after its billing period."""
    year, month = (int(part) for part in period.split("-"))
    return dt.date(year + month // 12, month % 12 + 1, 1)


def fetched_invoice(
    ref: InvoiceRef, account: str, summary_raw: object, items_raw: Sequence[object]
) -> FetchedInvoice:
    label = "the invoice preview" if ref.is_preview else f"invoice {ref.handle.get('uuid')}"
    summary = Wire(summary_raw, f"the summary of {label}")
    period = summary.period("billing_period") if "billing_period" in summary.data else ref.period
    invoice = Invoice(
        provider=DISPLAY_NAME,
        account=account,
        invoice_id=summary.text("invoice_id", ids=True) or ref.invoice_id,
        key=ref.key,
        period=period,
        status=PREVIEW_STATUS if ref.is_preview else ISSUED_STATUS,
        currency=CURRENCY,
        total=summary.amount("amount", required=True) or Decimal(0),
        invoice_date=invoice_date(period),
        due_date=None,  # DigitalOcean charges the card on file; it states no due date
        product_charges=summary.charge("product_charges"),
        overages=summary.charge("overages"),
        taxes=summary.charge("taxes"),
        credits=summary.charge("credits_and_adjustments"),
        balance_due=None,
        source_url=SOURCE_URL,
    )
    lines = tuple(
        line_item(invoice, position, raw, label) for position, raw in enumerate(items_raw, start=1)
    )
    return FetchedInvoice(
        invoice=reconcile(invoice, lines),
        lines=lines,
        documents=() if ref.is_preview else DOCUMENTS,
    )


def line_item(invoice: Invoice, position: int, raw: object, label: str) -> LineItem:
    wire = Wire(raw, f"item {position} of {label}")
    product = wire.text("product", required=True)
    description = wire.text("description")
    amount = wire.amount("amount", required=True) or Decimal(0)
    return LineItem(
        provider=invoice.provider,
        account=invoice.account,
        invoice_id=invoice.invoice_id,
        invoice_key=invoice.key,
        period=invoice.period,
        position=position,
        product=product,
        category=_category(product, description, amount_negative=amount < 0),
        description=description,
        amount=amount,
        currency=CURRENCY,
        group=wire.text("group_description"),
        project=wire.text("project_name"),
        resource_id=wire.text("resource_id", ids=True),
        resource_uuid=wire.text("resource_uuid"),
        start=wire.moment("start_time"),
        end=wire.moment("end_time"),
        duration=wire.amount("duration"),
        unit=wire.text("duration_unit"),
    )
