"""Text rules of the local extractor: labelled fields in an invoice's text, as Document entities.

A field is reported only when a label names it ("Invoice no:", "Due date", "Total TTC",
"From:"); there is no positional guessing (the first line is not assumed to be the supplier).
Labels cover English, French and German invoices.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from api.core import printed
from api.core.document import Entity

AMOUNT = re.compile(
    r"[-−(]?\s?(?:[$€£]\s?|(?:USD|EUR|GBP|CHF)\s)?"
    r"\d{1,3}(?:[ \u00a0\u202f.,']?\d{3})*[.,]\d{2}(?!\d)\)?"
    r"(?:\s?(?:€|EUR|USD|GBP|CHF)(?!\w))?"
)
DATE = re.compile(
    r"\b\d{4}[./-]\d{1,2}[./-]\d{1,2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b"
    r"|\b\d{1,2}\.?\s+[^\W\d_]{3,}\.?\s+\d{4}\b|\b[^\W\d_]{3,}\.?\s+\d{1,2},?\s+\d{4}\b"
)
_I = re.IGNORECASE
INVOICE_ID = re.compile(
    r"(?:invoice|credit\s+note|facture|avoir|rechnung|gutschrift)\s*"
    r"(?:no\.?|number|num[ée]ro|nr\.?|n[°º]|#)\s*[:.]?\s*(?P<v>[A-Z0-9][A-Z0-9\-/._]*)",
    _I,
)
SUPPLIER = re.compile(
    r"^\s*(?:from|supplier|seller|vendor|bill(?:ed)?\s+from|issued\s+by|fournisseur|"
    r"lieferant|verk[äa]ufer)\s*:\s*(?P<v>\S.*?)\s*$",
    _I,
)
DUE_LABEL = re.compile(
    r"\b(?:due\s+date|payment\s+due|due|[ée]ch[ée]ance|f[äa]llig(?:keitsdatum)?|zahlbar\s+bis)\b",
    _I,
)
DATE_LABEL = re.compile(
    r"\b(?:invoice\s+date|date\s+of\s+issue|issue\s+date|issued|date|datum|rechnungsdatum|"
    r"facture\s+du)\b",
    _I,
)
NET_LABEL = re.compile(
    r"\b(?:sub-?total|net\s+amount|net\s+total|total\s+net|total\s+excl\.?|total\s+ht|"
    r"montant\s+ht|nettobetrag|zwischensumme|summe\s+netto)\b"
    # a bare "Net:" / "Netto:" heading its line; never "Terms: Net 30" (payment terms)
    r"|^\s*net(?:to)?(?:\s+(?:price|value|sum))?\s*:",
    _I,
)
TAX_LABEL = re.compile(
    r"\b(?:total\s+tax|tax|vat|tva|mwst|ust|gst|sales\s+tax)\b(?!\s*(?:id|no|number|n°|reg))",
    _I,
)
TOTAL_LABEL = re.compile(
    r"\b(?:total\s+due|amount\s+due|balance\s+due|grand\s+total|total\s+ttc|total\s+amount|"
    r"invoice\s+total|montant\s+total|gesamtbetrag|rechnungsbetrag|total)\b",
    _I,
)
CREDIT = re.compile(r"\b(?:credit\s+note|avoir|gutschrift)\b", _I)


def field_entities(lines: Sequence[str]) -> list[Entity]:
    """Header fields found by their labels; each at most once (the first labelled match)."""
    found: dict[str, Entity] = {}

    def add(kind: str, text: str, **extra: object) -> None:
        if kind not in found and text:
            found[kind] = Entity(type=kind, mention_text=text, **extra)  # type: ignore[arg-type]

    for line in lines:
        if match := INVOICE_ID.search(line):
            if any(ch.isdigit() for ch in match["v"]):
                add("invoice_id", match["v"].rstrip("."))
        if match := SUPPLIER.match(line):
            add("supplier_name", match["v"])
        _dates(line, add)
        _amounts(line, add)
    text = "\n".join(lines)
    code = _currency_code(text, found)
    if code:
        add("currency", code, normalized_text=code)
    if CREDIT.search("\n".join(lines[:8])):
        add("invoice_type", "credit note", normalized_text="credit_note")
    return list(found.values())


def _dates(line: str, add: object) -> None:
    dates = DATE.findall(line)
    if not dates:
        return
    due = DUE_LABEL.search(line)
    issued = DATE_LABEL.search(DUE_LABEL.sub(" ", line))
    if issued and (not due or len(dates) > 1):
        add("invoice_date", dates[0])  # type: ignore[operator]
    if due:
        add("due_date", dates[-1])  # type: ignore[operator]


def _amounts(line: str, add: object) -> None:
    amounts = AMOUNT.findall(line)
    if not amounts:
        return
    value = amounts[-1].strip()
    if NET_LABEL.search(line):
        add("net_amount", value)  # type: ignore[operator]
    elif TAX_LABEL.search(line) and not TOTAL_LABEL.search(_without(line, TAX_LABEL)):
        add("total_tax_amount", value)  # type: ignore[operator]
    elif TOTAL_LABEL.search(line):
        add("total_amount", value)  # type: ignore[operator]


def _without(line: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(" ", line).replace("total tax", " ")


def _currency_code(text: str, found: dict[str, Entity]) -> str:
    """An ISO code printed anywhere, else the symbol printed with the total."""
    codes = [c for c in re.findall(r"\b[A-Z]{3}\b", text) if c in printed.KNOWN_CODES]
    if codes:
        return max(set(codes), key=codes.count)
    for kind in ("total_amount", "net_amount"):
        if kind in found:
            code = printed.currency(found[kind].mention_text)
            if code:
                return code
    return ""
