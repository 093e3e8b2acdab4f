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
    lines: Mapping[str, int],
) -> RunCounts:
    """Counts of a run from the (invoice key, version) pairs it wrote, and `lines`, the number
    of line items written per invoice key.

    - new: a key the ledger did not hold when the run started (`held`, None when the ledger
      itself was missing), so reconnecting an account already in the ledger adds nothing new;
    - updated: a key whose version differs from the one the index recorded (`previous`), or
      that was INCOMPLETE (its missing document retried, filled in or not);
    - unchanged: the rest, including invoices `--full` fetched again with the same version, and
      the invoices the plan skipped;
    - line_items: the lines of the new and updated invoices only, so a run that changed nothing
      (a `--full` rerun, a reconnect) reports 0 next to "Nothing new", not the lines it rewrote.
    """
    added = {ref.key for ref in plan.add}
    tally = {"new": 0, "updated": 0, "unchanged": 0}
    changed_lines = 0
    for key, version in written:
        if key in added:
            kind = "unchanged" if held is not None and key in held else "new"
        elif previous.get(key) == version and version != INCOMPLETE:
            kind = "unchanged"
        else:
            kind = "updated"
        tally[kind] += 1
        if kind != "unchanged":
            changed_lines += lines.get(key, 0)
    return RunCounts(
        new=tally["new"],
        updated=tally["updated"],
        unchanged=tally["unchanged"] + len(plan.unchanged),
        removed=len(plan.remove),
        line_items=changed_lines,
    )
