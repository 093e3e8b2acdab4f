"""Decimal money: parsing provider strings without float noise, minor units, formatting."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from iso4217 import Currency

CENT = Decimal("0.01")


def parse_amount(value: object) -> Decimal:
    """'12.34', '$1,234.50', '-3.10', 12.3 (JSON number) -> Decimal; ValueError otherwise."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, int | float):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    text = str(value).strip().replace(",", "").replace("$", "").replace("\u2212", "-")
    if text.startswith("(") and text.endswith(")"):
        text = "-" + text[1:-1]
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return result


@functools.lru_cache(maxsize=256)
def minor_digits(currency: str) -> int:
    """Decimal places of a currency's minor unit, from ISO 4217 (the iso4217 package's copy of
    the published list): JPY 0, USD 2, KWD 3, CLF 4; 2 for a code the list does not hold or
    holds without a minor unit (XAU)."""
    try:
        exponent = Currency(currency.strip().upper()).exponent
    except ValueError:
        return 2
    return 2 if exponent is None else exponent


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of `currency`: Decimal('1') for JPY, Decimal('0.01') for USD."""
    return Decimal(1).scaleb(-minor_digits(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)


def total(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, Decimal(0))
