"""DoiT wire format -> billsync model: listing refs, invoices, line items, the filter expression.

Decisions the spec leaves open, written down once:
- Dates are milliseconds since the epoch; the ledger keeps their UTC calendar date. Local
  time never enters: 00:00 UTC on the 1st is still the 1st, whatever TZ the host has.
- Amounts are JSON numbers read as Decimal (`parse_float=Decimal`), then rounded to the
  currency's minor unit (0 decimals for JPY). A line's amount is qty x price.
- Line `type` is free text. Lines whose category is Tax count as Taxes, Credit (discounts,
  credits, negative amounts) as Credits & Adjustments, everything else as Product Charges;
  only lines in the invoice's currency are summed into those columns.
- Product is the invoice's platform (what was bought through DoiT; unknown values kept),
  Group is the line's `details`, Category comes from the line type and description.
- DoiT has no documents in its API; Source URL links the console page where the PDF lives.
  PDF and CSV stay empty so a PDF found later (the PDF inbox) can be linked to the same row,
  matched by (DoiT, Invoice ID).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from urllib.parse import quote

from api.core.categories import categorize
from api.core.model import FetchedInvoice, Invoice, InvoiceRef, LineItem
from api.core.money import quantize, total
from api.core.reconcile import reconcile
from api.errors import ConfigError, MalformedResponse
from api.providers import wire

PROVIDER = "doit"
DISPLAY_NAME = "DoiT"
CONSOLE_URL = "https://console.doit.com/billing/invoices/{id}"
FILTER_KEYS = ("platform", "status", "dueDate")


class Wire(wire.Wire):
    """DoiT's objects: JSON numbers for money, epoch milliseconds for dates."""

    numbers_as_text = True  # an id or code sent as a bare number is the same text

    @staticmethod
    def fail(detail: str) -> MalformedResponse:
        return malformed(detail)

    def number(self, name: str, *, required: bool = False) -> Decimal | None:
        return self.decimal(name, required=required, what="a number")

    def date(self, name: str, *, required: bool = False) -> dt.date | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise malformed(f"{self.where} has no '{name}'")
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise malformed(f"{self.where} has a '{name}' that is not milliseconds")
        try:
            return utc_date(int(value))
        except (OverflowError, OSError, ValueError):
            raise malformed(f"{self.where} has a '{name}' out of range") from None


def malformed(detail: str) -> MalformedResponse:
    return MalformedResponse(
        f"DoiT sent an unexpected response: {detail}.",
        provider=DISPLAY_NAME,
        action="This is usually temporary; run the sync again. If it persists, report it.",
    )


def utc_date(millis: int) -> dt.date:
    """The UTC calendar date of an epoch-milliseconds instant (never local time)."""
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).date()


def epoch_ms(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return int(moment.timestamp() * 1000)


def filter_expression(filters: Mapping[str, Sequence[str]] | None) -> str | None:
    """`{"platform": ["a", "b"], "status": ["OPEN"]}` -> 'platform:a|platform:b|status:OPEN'.

    DoiT ORs repeated keys and ANDs different keys, but rejects a filter where more than
    one key is repeated; we refuse it here with a sentence instead of a 400 later.
    """
    if not filters:
        return None
    parts: list[str] = []
    repeated = [key for key, values in filters.items() if len(values) > 1]
    if len(repeated) > 1:
        raise ConfigError(
            f"DoiT accepts several values for only one filter key; {' and '.join(repeated)} "
            "both have several. Keep several values for one key only."
        )
    for key, values in filters.items():
        if key not in FILTER_KEYS:
            raise ConfigError(
                f"DoiT invoices cannot be filtered by '{key}'; use {', '.join(FILTER_KEYS)}."
            )
        for value in values:
            text = str(value)
            if not text or "|" in text:
                raise ConfigError(f"The DoiT filter value {text!r} for '{key}' is not usable.")
            parts.append(f"{key}:{text}")
    return "|".join(parts) or None


def invoice_ref(raw: object, account_key: str) -> InvoiceRef:
    wire = Wire(raw, "an invoice in the invoice list")
    invoice_id = wire.text("id", required=True)
    wire.where = f"invoice {invoice_id} in the invoice list"
    issued = wire.date("invoiceDate", required=True)
    assert issued is not None
    return InvoiceRef(
        key=f"{PROVIDER}:{account_key}:{invoice_id}",
        provider=PROVIDER,
        invoice_id=invoice_id,
        period=issued.strftime("%Y-%m"),
        version=version(wire),
        handle={"id": invoice_id},
    )


def version(wire: Wire) -> str:
    """Changes whenever the invoice does: status, balance, total (DoiT has no updated time)."""
    currency = wire.text("currency") or "USD"
    parts = [wire.text("status")]
    for name in ("balanceAmount", "totalAmount"):
        value = wire.number(name)
        parts.append("" if value is None else str(quantize(value, currency)))
    marker = wire.text("updateTime") if "updateTime" in wire.data else ""
    return "|".join(parts + ([marker] if marker else []))


def console_url(wire: Wire, invoice_id: str) -> str:
    url = wire.text("url")
    if url.startswith("https://"):
        return url
    return CONSOLE_URL.format(id=quote(invoice_id, safe=""))


def fetched_invoice(ref: InvoiceRef, account: str, raw: object) -> FetchedInvoice:
    wire = Wire(raw, f"invoice {ref.invoice_id}")
    invoice_id = wire.text("id") or ref.invoice_id
    currency = wire.text("currency", required=True).upper()
    issued = wire.date("invoiceDate", required=True)
    assert issued is not None
    stated_total = wire.number("totalAmount", required=True)
    assert stated_total is not None
    balance = wire.number("balanceAmount")
    invoice = Invoice(
        provider=DISPLAY_NAME,
        account=account,
        invoice_id=invoice_id,
        key=ref.key,
        period=issued.strftime("%Y-%m"),
        status=wire.text("status"),
        currency=currency,
        total=quantize(stated_total, currency),
        invoice_date=issued,
        due_date=wire.date("dueDate"),
        balance_due=None if balance is None else quantize(balance, currency),
        source_url=console_url(wire, invoice_id),
    )
    raw_lines = wire.data.get("lineItems") or []
    if not isinstance(raw_lines, list):
        raise malformed(f"invoice {invoice_id} has a 'lineItems' that is not a list")
    platform = wire.text("platform")
    lines = tuple(
        line_item(invoice, platform, position, item)
        for position, item in enumerate(raw_lines, start=1)
    )
    return FetchedInvoice(invoice=reconcile(with_split(invoice, lines), lines), lines=lines)


def line_item(invoice: Invoice, platform: str, position: int, raw: object) -> LineItem:
    wire = Wire(raw, f"line {position} of invoice {invoice.invoice_id}")
    currency = (wire.text("currency") or invoice.currency).upper()
    qty = wire.number("qty")
    price = wire.number("price")
    stated = wire.number("amount")  # not in the spec; trusted if a future API sends it
    if qty is None and price is None and stated is None:
        raise malformed(f"{wire.where} has neither qty, price nor amount")
    computed = (Decimal(1) if qty is None else qty) * (price or Decimal(0))
    amount = quantize(stated if stated is not None else computed, currency)
    kind = wire.text("type")
    description = wire.text("description")
    details = wire.text("details")
    return LineItem(
        provider=invoice.provider,
        account=invoice.account,
        invoice_id=invoice.invoice_id,
        invoice_key=invoice.key,
        period=invoice.period,
        position=position,
        product=platform or kind,
        category=categorize(f"{kind} {description}", details, amount_negative=amount < 0),
        description=description,
        amount=amount,
        currency=currency,
        group=details,
        quantity=qty,
        unit_price=price,
    )


def with_split(invoice: Invoice, lines: Sequence[LineItem]) -> Invoice:
    """Product charges, taxes and credits from the lines in the invoice's own currency."""
    own = [line for line in lines if line.currency == invoice.currency]
    if not own:
        return invoice
    taxes = [line.amount for line in own if line.category == "Tax"]
    credit_lines = [line.amount for line in own if line.category == "Credit"]
    charges = [line.amount for line in own if line.category not in ("Tax", "Credit")]
    currency = invoice.currency
    return replace(invoice, product_charges=quantize(total(charges), currency),
                   taxes=quantize(total(taxes), currency),
                   credits=quantize(total(credit_lines), currency))  # fmt: skip
