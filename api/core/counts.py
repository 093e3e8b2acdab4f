"""What a run did to the ledger, counted as a person reads the counts (issue 9 §5)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from api.core.diff import INCOMPLETE, SyncPlan
from api.core.model import RunCounts


def run_counts(
    plan: SyncPlan,
    written: Iterable[tuple[str, str]],
    previous: Mapping[str, str],
    held: Collection[str] | None,
    *,
    line_items: int,
) -> RunCounts:
    """Counts of a run from the (invoice key, version) pairs it wrote.

    - new: a key the ledger did not hold when the run started (`held`, None when the ledger
      itself was missing), so reconnecting an account already in the ledger adds nothing new;
    - updated: a key whose version differs from the one the index recorded (`previous`), or
      that was INCOMPLETE (its missing document retried, filled in or not);
    - unchanged: the rest, including invoices `--full` fetched again with the same version, and
      the invoices the plan skipped.
    """
    added = {ref.key for ref in plan.add}
    new = updated = unchanged = 0
    for key, version in written:
        if key in added:
            if held is not None and key in held:
                unchanged += 1
            else:
                new += 1
        elif previous.get(key) == version and version != INCOMPLETE:
            unchanged += 1
        else:
            updated += 1
    return RunCounts(
        new=new,
        updated=updated,
        unchanged=unchanged + len(plan.unchanged),
        removed=len(plan.remove),
        line_items=line_items,
    )
