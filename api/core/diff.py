"""Decide, per listed invoice, whether a sync skips, adds or updates it, and what to remove."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from api.core.model import InvoiceRef, is_preview_key

# The version an index entry records for an invoice written without all of its documents: no
# provider version is empty, so the next sync sees a change and fetches the invoice again.
INCOMPLETE = ""


@dataclass(frozen=True)
class SyncPlan:
    add: tuple[InvoiceRef, ...]
    update: tuple[InvoiceRef, ...]
    unchanged: tuple[InvoiceRef, ...]
    remove: tuple[str, ...]  # invoice keys to delete from the ledger (superseded previews)

    @property
    def fetch(self) -> tuple[InvoiceRef, ...]:
        return self.add + self.update


def plan_sync(
    listed: Iterable[InvoiceRef],
    index: Mapping[str, str],
    *,
    full: bool = False,
    include_preview: bool = True,
) -> SyncPlan:
    """Compare a provider listing with the ledger index (invoice key -> version).

    - a key not in the index is added; a key whose version changed is updated, and so is one
      whose entry is INCOMPLETE (written without a document that failed to download);
    - `full` re-fetches every listed invoice (known ones count as updates, never duplicates);
    - a preview in the index that is no longer listed (its month was finalised, or previews
      were switched off) is removed; a preview is never added when `include_preview` is off.
    """
    add: list[InvoiceRef] = []
    update: list[InvoiceRef] = []
    unchanged: list[InvoiceRef] = []
    seen: set[str] = set()
    for ref in listed:
        if ref.is_preview and not include_preview:
            continue
        if ref.key in seen:
            continue  # a provider listing the same invoice twice must not write it twice
        seen.add(ref.key)
        known = index.get(ref.key)
        if known is None:
            add.append(ref)
        elif full or known != ref.version:
            update.append(ref)
        else:
            unchanged.append(ref)
    remove = tuple(sorted(k for k in index if is_preview_key(k) and k not in seen))
    return SyncPlan(tuple(add), tuple(update), tuple(unchanged), remove)
