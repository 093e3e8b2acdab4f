"""A Document (Document AI's shape, also produced by the local extractor) read as invoice fields.

Entity types are the Invoice Parser's (reference: invoice_parser_schema_entity_types.json):
`invoice_id`, `invoice_date`, `due_date`, `supplier_name`, `currency`, `net_amount`,
`total_tax_amount`, `total_amount`, `line_item` (properties `line_item/description`,
`line_item/quantity`, `line_item/unit_price`, `line_item/amount`), `vat` (`vat/tax_amount`,
`vat/amount`). A value is read from `normalizedValue` first, `mentionText` as the fallback.
Nothing is guessed: a field that is absent, unreadable or below the confidence threshold is
named in `review`, and an absent or unreadable one stays empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from api.core import printed
from api.core.money import minor_unit, total

LABELS = {
    "invoice_id": "invoice number", "invoice_date": "invoice date", "due_date": "due date",
    "supplier_name": "supplier", "currency": "currency", "net_amount": "net",
    "total_tax_amount": "tax", "total_amount": "total",
}  # fmt: skip
MONEY_FIELDS = ("net_amount", "total_tax_amount", "total_amount")
DATE_FIELDS = ("invoice_date", "due_date")
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Entity:
    """One extracted field. `amount`/`currency_code` come from `normalizedValue.moneyValue`,
    `date_value` from `normalizedValue.dateValue`, `normalized_text` from `normalizedValue.text`."""

    type: str
    mention_text: str = ""
    confidence: float = 1.0
    normalized_text: str = ""
    amount: Decimal | None = None
    currency_code: str = ""
    date_value: dt.date | None = None
    properties: tuple[Entity, ...] = ()


@dataclass(frozen=True)
class ExtractedDocument:
    """What an Extractor returns for one PDF: entities, page count, which extractor, notes
    (e.g. "no text layer") that go to the Review column as they are."""

    entities: tuple[Entity, ...]
    pages: int
    extractor: str  # "local" | "documentai"
    notes: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class PdfLine:
    description: str
    amount: Decimal
    quantity: Decimal | None = None
    unit_price: Decimal | None = None


@dataclass(frozen=True)
class PdfInvoice:
    """Invoice fields read from a PDF; None/'' where not found. `review` lists what a person
    should check (one short phrase each)."""

    invoice_id: str = ""
    invoice_date: dt.date | None = None
    due_date: dt.date | None = None
    supplier: str = ""
    currency: str = ""
    net: Decimal | None = None
    tax: Decimal | None = None
    total: Decimal | None = None
    lines: tuple[PdfLine, ...] = ()
    credit_note: bool = False
    pages: int = 0
    review: tuple[str, ...] = field(default_factory=tuple)


def read_invoice(
    document: ExtractedDocument,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    supplier_currency: str = "",
) -> PdfInvoice:
    """Map a Document to invoice fields (pure). A money value without a currency code takes
    the `currency` entity, then `supplier_currency`; fields below `threshold` are kept and
    flagged. Raises nothing: every problem becomes a `review` phrase."""
    review: list[str] = list(document.notes)
    best = _best_entities(document.entities)
    texts = [e.mention_text for e in document.entities] + [
        p.mention_text for e in document.entities for p in e.properties
    ]
    comma = printed.decimal_comma(texts)
    currency = _currency(best)
    day_first = comma or currency not in ("USD", "")
    values = _fields(best, threshold, review, comma=comma, day_first=day_first)
    if not currency:
        currency = _money_currency(best) or supplier_currency
        if currency:
            review.remove("currency not found")
        if currency and currency == supplier_currency and not _money_currency(best):
            review.append(f"currency taken from the supplier's other invoices ({currency})")
    credit = _is_credit_note(document)
    lines = _lines(document.entities, comma, credit)
    sign = Decimal(-1) if credit else Decimal(1)
    amounts = {name: _signed(values.get(name), sign) for name in MONEY_FIELDS}
    review += _disagreements(amounts, lines, currency)
    return PdfInvoice(
        invoice_id=str(values.get("invoice_id", "")),
        invoice_date=values.get("invoice_date"),  # type: ignore[arg-type]
        due_date=values.get("due_date"),  # type: ignore[arg-type]
        supplier=str(values.get("supplier_name", "")),
        currency=currency,
        net=amounts["net_amount"],
        tax=amounts["total_tax_amount"],
        total=amounts["total_amount"],
        lines=tuple(lines),
        credit_note=credit,
        pages=document.pages,
        review=tuple(dict.fromkeys(review)),
    )


def _fields(
    best: dict[str, Entity], threshold: float, review: list[str], *, comma: bool, day_first: bool
) -> dict[str, object]:
    """Each header field's value; what is absent, unreadable or unsure is added to `review`."""
    values: dict[str, object] = {}
    for name, label in LABELS.items():
        entity = best.get(name)
        if entity is None:
            review.append(f"{label} not found")
            continue
        value = _value(name, entity, comma=comma, day_first=day_first)
        if value is None:
            review.append(f"{label} unreadable ({entity.mention_text!r})")
            continue
        if entity.confidence < threshold:
            review.append(f"{label} low confidence ({entity.confidence:.2f})")
        values[name] = value
    return values


def _best_entities(entities: Sequence[Entity]) -> dict[str, Entity]:
    """The most confident entity of each type (Document AI may return several candidates)."""
    best: dict[str, Entity] = {}
    for entity in entities:
        current = best.get(entity.type)
        if current is None or entity.confidence > current.confidence:
            best[entity.type] = entity
    return best


def _currency(best: dict[str, Entity]) -> str:
    entity = best.get("currency")
    if entity is None:
        return ""
    code = entity.normalized_text.strip().upper()
    if len(code) == 3 and code.isalpha():
        return code
    return printed.currency(entity.mention_text)


def _money_currency(best: dict[str, Entity]) -> str:
    for name in ("total_amount", "net_amount", "total_tax_amount"):
        entity = best.get(name)
        if entity is not None:
            code = entity.currency_code or printed.currency(entity.mention_text)
            if code:
                return code
    return ""


def _value(name: str, entity: Entity, *, comma: bool, day_first: bool) -> object | None:
    if name in MONEY_FIELDS:
        return _money(entity, comma)
    if name in DATE_FIELDS:
        if entity.date_value is not None:
            return entity.date_value
        return printed.date(entity.normalized_text or entity.mention_text, day_first=day_first)
    text = " ".join((entity.mention_text or entity.normalized_text).split())
    return text or None


def _money(entity: Entity, comma: bool) -> Decimal | None:
    if entity.amount is not None:
        return entity.amount
    separator = "," if comma else "."
    if entity.normalized_text:  # Document AI writes normalized text with a decimal point
        found = printed.amount(entity.normalized_text, decimal_separator=".")
        if found is not None:
            return found
    return printed.amount(entity.mention_text, decimal_separator=separator)


def _lines(entities: Sequence[Entity], comma: bool, credit: bool) -> list[PdfLine]:
    lines: list[PdfLine] = []
    sign = Decimal(-1) if credit else Decimal(1)
    for entity in entities:
        if entity.type != "line_item":
            continue
        props = {p.type.removeprefix("line_item/"): p for p in entity.properties}
        amount = _money(props["amount"], comma) if "amount" in props else None
        if amount is None:
            continue
        description = props["description"].mention_text if "description" in props else ""
        quantity = _plain(props.get("quantity"), comma)
        unit_price = _money(props["unit_price"], comma) if "unit_price" in props else None
        signed = _signed(amount, sign)
        assert signed is not None
        lines.append(PdfLine(" ".join(description.split()), signed, quantity, unit_price))
    return lines


def _plain(entity: Entity | None, comma: bool) -> Decimal | None:
    if entity is None:
        return None
    return _money(entity, comma)


def _signed(value: object, sign: Decimal) -> Decimal | None:
    if not isinstance(value, Decimal):
        return None
    return value * sign if value > 0 else value


def _is_credit_note(document: ExtractedDocument) -> bool:
    for entity in document.entities:
        if entity.type == "invoice_type":
            return "credit" in (entity.normalized_text + entity.mention_text).lower()
    return False


def line_targets(
    net: Decimal | None, tax: Decimal | None, grand: Decimal | None
) -> list[tuple[Decimal, str]]:
    """What the lines of an invoice may sum to, most telling first, each with its label: the
    net amount; without one, the total less the tax (lines are before tax); the total itself
    (no tax printed, or the tax billed as a line)."""
    targets: list[tuple[Decimal, str]] = []
    if net is not None:
        targets.append((net, "net"))
    elif grand is not None and tax is not None:
        targets.append((grand - tax, f"total {grand} − tax {tax} ="))
    if grand is not None:
        targets.append((grand, "total"))
    return targets


def lines_agree(summed: Decimal, targets: Sequence[tuple[Decimal, str]], currency: str) -> bool:
    """True when the lines' sum is within one minor unit of any target."""
    tolerance = minor_unit(currency or "USD")
    return any(abs(summed - value) <= tolerance for value, _ in targets)


def _disagreements(
    amounts: dict[str, Decimal | None], lines: Sequence[PdfLine], currency: str
) -> list[str]:
    """Totals that do not add up, within one minor unit: net + tax vs total, lines vs net (or
    total less tax, or total; see `line_targets`)."""
    tolerance = minor_unit(currency or "USD")
    net, tax, grand = (amounts[n] for n in MONEY_FIELDS)
    found: list[str] = []
    if net is not None and tax is not None and grand is not None:
        if abs(net + tax - grand) > tolerance:
            found.append(f"net {net} + tax {tax} ≠ total {grand}")
    if lines:
        summed = total(line.amount for line in lines)
        targets = line_targets(net, tax, grand)
        if targets and not lines_agree(summed, targets, currency):
            value, label = targets[0]
            found.append(f"lines sum {summed} ≠ {label} {value}")
    return found


def document_to_dict(document: ExtractedDocument) -> dict[str, object]:
    """A JSON-ready form of an extraction (kept by content hash so a PDF is read once)."""

    def entity(e: Entity) -> dict[str, object]:
        return {
            "type": e.type, "mention": e.mention_text, "confidence": e.confidence,
            "text": e.normalized_text, "amount": None if e.amount is None else str(e.amount),
            "currency": e.currency_code,
            "date": e.date_value.isoformat() if e.date_value else None,
            "properties": [entity(p) for p in e.properties],
        }  # fmt: skip

    return {"entities": [entity(e) for e in document.entities], "pages": document.pages,
            "extractor": document.extractor, "notes": list(document.notes)}  # fmt: skip


def document_from_dict(data: dict[str, object]) -> ExtractedDocument:
    """The inverse of `document_to_dict` (text is not kept)."""

    def entity(d: dict[str, object]) -> Entity:
        amount, date = d.get("amount"), d.get("date")
        return Entity(
            type=str(d["type"]), mention_text=str(d.get("mention", "")),
            confidence=float(d.get("confidence", 1.0)),  # type: ignore[arg-type]
            normalized_text=str(d.get("text", "")),
            amount=None if amount is None else Decimal(str(amount)),
            currency_code=str(d.get("currency", "")),
            date_value=None if date is None else dt.date.fromisoformat(str(date)),
            properties=tuple(entity(p) for p in d.get("properties", [])),  # type: ignore[attr-defined]
        )  # fmt: skip

    entities = tuple(entity(e) for e in data.get("entities", []))  # type: ignore[attr-defined]
    notes = tuple(str(n) for n in data.get("notes", []))  # type: ignore[attr-defined]
    pages = int(str(data.get("pages", 0)))
    return ExtractedDocument(entities, pages, str(data.get("extractor", "")), notes=notes)
