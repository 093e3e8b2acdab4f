"""Line items of the local extractor: a ruled table (pdfplumber), else a text block under a
header line that names a description and an amount column. Rows stop at the first total."""

from __future__ import annotations

import re
from collections.abc import Sequence

from api.core.document import Entity
from api.extract.rules import AMOUNT

_I = re.IGNORECASE
COLUMNS = {
    "description": re.compile(
        r"description|item|service|product|article|d[ée]signation|libell[ée]|beschreibung|"
        r"leistung|bezeichnung",
        _I,
    ),
    "quantity": re.compile(
        r"\bqty\b|quantity|quantit[ée]|menge|^\s*(?:units?|hours)\s*$|anzahl", _I
    ),
    "unit_price": re.compile(r"unit\s*price|price|rate|prix|einzelpreis|preis", _I),
    "amount": re.compile(r"amount|line\s*total|total|montant|betrag|summe", _I),
}
STOP = re.compile(r"^\s*(?:sub-?total|total|tax|vat|tva|mwst|net|balance|amount\s+due)\b", _I)
QUANTITY = r"\d+(?:[.,]\d+)?"


def table_lines(tables: Sequence[Sequence[Sequence[str | None]]]) -> list[Entity]:
    """Line items from ruled tables: the first table whose header row names a description and
    an amount column (header repeated on later pages is skipped)."""
    found: list[Entity] = []
    for table in tables:
        if not table:
            continue
        roles = _roles([cell or "" for cell in table[0]])
        if "description" not in roles or "amount" not in roles:
            continue
        for row in table[1:]:
            cells = [(cell or "").strip() for cell in row]
            if STOP.match(" ".join(cells)) or _roles(cells) == roles:
                continue
            entity = _line({role: cells[i] for role, i in roles.items() if i < len(cells)})
            if entity is not None:
                found.append(entity)
    return found


def text_lines(lines: Sequence[str]) -> list[Entity]:
    """Line items from plain text under a header line ('Description  Qty  Price  Amount')."""
    found: list[Entity] = []
    inside = False
    for line in lines:
        roles = _roles(re.split(r"\s{2,}|\t", line.strip()) if "  " in line else line.split())
        if "description" in roles and "amount" in roles:
            inside = True
            continue
        if not inside:
            continue
        if STOP.match(line):
            inside = False
            continue
        entity = _text_line(line)
        if entity is not None:
            found.append(entity)
    return found


def _roles(cells: Sequence[str]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for index, cell in enumerate(cells):
        for role, pattern in COLUMNS.items():
            if role not in roles and pattern.search(cell) and len(cell) < 40:
                roles[role] = index
                break
    return roles


def _text_line(line: str) -> Entity | None:
    amounts = list(AMOUNT.finditer(line))
    if not amounts:
        return None
    last = amounts[-1]
    head = line[: amounts[0].start()].strip()
    parts: dict[str, str] = {"amount": last.group().strip()}
    if len(amounts) >= 2:
        parts["unit_price"] = amounts[-2].group().strip()
    match = re.match(rf"^(?P<d>.*?\S)\s+(?P<q>{QUANTITY})$", head)
    if match and len(amounts) >= 2:
        parts["description"], parts["quantity"] = match["d"], match["q"]
    else:
        parts["description"] = head
    return _line(parts) if parts["description"] else None


def _line(cells: dict[str, str]) -> Entity | None:
    if not cells.get("amount") or not AMOUNT.search(cells["amount"]):
        return None
    properties = tuple(
        Entity(type=f"line_item/{role}", mention_text=" ".join(text.split()))
        for role, text in cells.items()
        if text
    )
    mention = " ".join(p.mention_text for p in properties)
    return Entity(type="line_item", mention_text=mention, properties=properties)
