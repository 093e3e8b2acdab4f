"""Where a new invoice's rows go in a tab: before the first later invoice of the same account.

A sync writes invoices oldest first, so new rows normally go to the end. An invoice that was
held back (its line items kept failing) arrives after later ones; placing it by period puts
the ledger back in the order a clean run gives it, without moving any row already there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from api.core.model import INVOICE_KEY_COLUMN, Invoice

Scope = tuple[str, str]  # (Provider, Account): order is kept within one account only
Rank = tuple[str, bool, str]  # (Period, is a preview, Invoice ID), as the engine fetches them
COLUMNS = ("Provider", "Account", "Period", "Invoice ID")


def invoice_rank(invoice: Invoice) -> tuple[Scope, Rank]:
    return (invoice.provider, invoice.account), (
        invoice.period,
        invoice.is_preview,
        invoice.invoice_id,
    )


class Placement:
    """The new invoice groups of one tab, handed out as the old rows stream past.

    `new` maps each invoice key that has no row yet to its (scope, rank). `due(row)` returns,
    in rank order, the new keys that belong before that old row; `rest()` the others.
    """

    def __init__(self, header: list[str], new: Mapping[str, tuple[Scope, Rank]]) -> None:
        usable = all(name in header for name in (*COLUMNS, INVOICE_KEY_COLUMN))
        self._at = [header.index(name) for name in COLUMNS] if usable else []
        self._key_at = header.index(INVOICE_KEY_COLUMN) if usable else -1
        self._waiting = sorted(new.items(), key=lambda item: item[1])

    def due(self, row: Any) -> list[str]:
        if not self._waiting or not self._at:
            return []
        provider, account, period, invoice_id = (_text(row[i]) for i in self._at)
        rank = (period, ":preview:" in _text(row[self._key_at]), invoice_id)
        scope = (provider, account)
        ready = [key for key, (s, r) in self._waiting if s == scope and r < rank]
        if ready:
            self._waiting = [item for item in self._waiting if item[0] not in ready]
        return ready

    def rest(self) -> Iterable[str]:
        waiting, self._waiting = self._waiting, []
        return [key for key, _ in waiting]


def _text(value: Any) -> str:
    return "" if value is None else str(value)
