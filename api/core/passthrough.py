"""Each invoice's cost per client (shared lines split to the cent) and the re-billing table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from api.core.allocation import UNALLOCATED, Allocation, split_cents
from api.core.money import quantize

PASS_THROUGH_COLUMNS = (
    "Period", "Client", "Currency", "Cost", "Billable Cost", "Markup", "Re-bill",
)  # fmt: skip

Bucket = tuple[str, bool, Decimal]  # (client, billable, markup %)


@dataclass(frozen=True)
class Share:
    """One client's part of one invoice: its own lines plus its part of the shared lines."""

    invoice_key: str
    period: str
    currency: str
    client: str
    billable: bool
    markup: Decimal  # percent points
    direct: Decimal
    shared: Decimal

    @property
    def cost(self) -> Decimal:
        return self.direct + self.shared


@dataclass(frozen=True)
class PassThrough:
    """What to re-bill one client for one month in one currency (Decimal money)."""

    period: str
    client: str
    currency: str
    cost: Decimal
    billable_cost: Decimal
    markup: Decimal
    rebill: Decimal

    def row(self) -> tuple[Any, ...]:
        return (self.period, self.client, self.currency, self.cost, self.billable_cost,
                self.markup, self.rebill)  # fmt: skip


def invoice_shares(
    lines: Sequence[Mapping[str, Any]], allocations: Sequence[Allocation]
) -> list[Share]:
    """Per invoice (by `Invoice Key`), one Share per (client, billable, markup) bucket.

    Shared lines of an invoice are netted and split across its buckets in proportion to each
    bucket's positive direct spend (split_cents): the Shares of an invoice add up exactly to
    the sum of its line amounts. An invoice with no positive direct spend puts its shared
    amount on Unallocated.
    """
    direct: dict[str, dict[Bucket, Decimal]] = defaultdict(dict)
    shared: dict[str, Decimal] = defaultdict(Decimal)
    meta: dict[str, tuple[str, str]] = {}
    for line, allocation in zip(lines, allocations, strict=True):
        key = str(line.get("Invoice Key") or "")
        meta.setdefault(key, (str(line.get("Period") or ""), str(line.get("Currency") or "")))
        amount = line.get("Amount") or Decimal(0)
        if allocation.shared:
            shared[key] += amount
            continue
        bucket = (allocation.client, allocation.billable, allocation.markup)
        direct[key][bucket] = direct[key].get(bucket, Decimal(0)) + amount
    result: list[Share] = []
    for key, (period, currency) in meta.items():
        buckets = direct.get(key, {})
        parts: Mapping[Bucket, Decimal] = {}
        if key in shared:
            weights = sorted(buckets.items(), key=_bucket_order)
            if not any(weight > 0 for _, weight in weights):
                weights = [((UNALLOCATED, False, Decimal(0)), Decimal(1))]
            parts = split_cents(shared[key], weights, currency or "USD")
        for bucket in dict.fromkeys([*buckets, *parts]):
            own, part = buckets.get(bucket, Decimal(0)), parts.get(bucket, Decimal(0))
            result.append(Share(key, period, currency, *bucket, own, part))
    return result


def pass_through(shares: Sequence[Share]) -> list[PassThrough]:
    """Per (month, client, currency): cost, the billable part, the markup on it (rounded to the
    currency's minor unit per invoice and rule), and the amount to re-bill. Sorted by month,
    currency, client; Unallocated last in its month."""
    sums: dict[tuple[str, str, str], list[Decimal]] = {}
    for share in shares:
        key = (share.period, share.currency, share.client)
        acc = sums.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])
        acc[0] += share.cost
        if share.billable:
            acc[1] += share.cost
            acc[2] += quantize(share.cost * share.markup / 100, share.currency or "USD")
    rows = [
        PassThrough(period, client, currency, cost, billable, markup, billable + markup)
        for (period, currency, client), (cost, billable, markup) in sums.items()
    ]
    rows.sort(key=lambda r: (r.period, r.currency, r.client == UNALLOCATED, r.client))
    return rows


def _bucket_order(item: tuple[Bucket, Decimal]) -> tuple[str, bool, Decimal]:
    return item[0]
