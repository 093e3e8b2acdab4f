"""Numbers, dates and currencies as invoices print them: '1.234,56', '1 234,56 €', '11/12/2022'.

Pure functions over text. Amounts go through price-parser (which decides the decimal
separator from the digits: "34,24" and "1.234,56" are 34.24 and 1234.56); dates through
dateparser (month names in many languages). Neither guesses silently: a text they cannot
read gives None, and the caller flags the field.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import dateparser
from price_parser import Price

# Symbols printed on invoices -> ISO 4217. "$" alone is USD: Document AI reads it the same way
# (reference response: currency "$" normalized to "USD"); a supplier in another dollar
# country prints its code (CAD, AUD, SGD), which wins over the symbol.
SYMBOLS = {"€": "EUR", "$": "USD", "US$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR",
           "CHF": "CHF", "Fr.": "CHF", "zł": "PLN", "kr": "SEK", "R$": "BRL", "A$": "AUD",
           "C$": "CAD", "S$": "SGD", "HK$": "HKD"}  # fmt: skip
_ISO = re.compile(r"\b([A-Z]{3})\b")
KNOWN_CODES = frozenset(
    "USD EUR GBP JPY CHF CAD AUD NZD SGD HKD SEK NOK DKK PLN CZK HUF INR BRL MXN ZAR ILS TRY "
    "CNY KRW TWD THB IDR MYR PHP AED SAR RON BGN ISK".split()
)
_POINT = re.compile(r"\d\.\d{2}(?!\d)")
_COMMA = re.compile(r"\d,\d{2}(?!\d)")
_NEGATIVE = re.compile(r"^\s*(?:-|\u2212|\()|(?:-|\u2212|\))\s*$|\bCR\b")


def amount(text: str, *, decimal_separator: str | None = None) -> Decimal | None:
    """'1.234,56' -> 1234.56, '-12.50' / '(12.50)' / '12.50-' -> -12.50; None if no number.

    `decimal_separator` ("," or ".") settles texts the digits leave open ("1,000").
    """
    if not text or not any(ch.isdigit() for ch in text):
        return None
    price = Price.fromstring(text, decimal_separator=decimal_separator)
    if price.amount is None:
        return None
    value = Decimal(price.amount)
    stripped = text.strip()
    return -value if _NEGATIVE.search(stripped) else value


def currency(text: str) -> str:
    """The ISO code a text names or implies ('€' -> 'EUR', 'USD 12' -> 'USD'); '' if none."""
    for code in _ISO.findall(text or ""):
        if code in KNOWN_CODES:
            return code
    found = Price.fromstring(text or "").currency
    if found:
        return SYMBOLS.get(found.strip(), found.strip().upper() if len(found) == 3 else "")
    return ""


def date(text: str, *, day_first: bool) -> dt.date | None:
    """'2020/01/01', '11/12/2022', '11 décembre 2022', 'Jan 5, 2024' -> a date; None if unreadable.

    `day_first` decides '11/12/2022' (11 December when True); the caller derives it from the
    document's locale (its currency and decimal separator).
    """
    if not text or not any(ch.isdigit() for ch in text):
        return None
    parsed = dateparser.parse(
        text.strip(),
        settings={
            "DATE_ORDER": "DMY" if day_first else "MDY",
            "PREFER_DAY_OF_MONTH": "first",
            "REQUIRE_PARTS": ["day", "month", "year"],
            "STRICT_PARSING": True,
        },
    )
    return parsed.date() if parsed else None


def decimal_comma(texts: list[str]) -> bool:
    """True if the amounts of a document are written with a decimal comma ('34,24')."""
    point = [bool(_POINT.search(t)) for t in texts]
    comma = sum(1 for t, p in zip(texts, point, strict=True) if _COMMA.search(t) and not p)
    return comma > sum(point)
