"""How a run ends: its status, and the one line that says what happened and what to do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from api.core.model import RunCounts
from api.core.text import counted

SUCCEEDED, PARTIAL, FAILED = "succeeded", "partial", "failed"
SHOWN_SHORTFALLS = 3  # a Runs cell and a terminal line stay readable; the rest are counted


@dataclass(frozen=True)
class Shortfall:
    """One part of one invoice that a run could not fetch or archive.

    `part` is "line items" (the invoice and its lines were not written at all) or a document
    kind, "pdf" / "csv" (the invoice was written with that cell empty). `reason` is a
    secret-free sentence (a BillsyncError's message, without its action).
    """

    invoice_id: str
    period: str  # YYYY-MM
    part: str
    reason: str

    @property
    def is_document(self) -> bool:
        return self.part in ("pdf", "csv")

    def describe(self) -> str:
        what = self.part.upper() if self.is_document else self.part
        first = self.reason.split(". ", 1)[0].rstrip(". ")  # what happened; the rest is logged
        return f"invoice {self.invoice_id} ({self.period}) {what}: {first}"


def run_status(error: str | None, shortfalls: Sequence[Shortfall], written: int) -> str:
    """failed: the run stopped, or every invoice it had to fetch failed (`written` counts the
    invoice rows written or removed); partial: some invoice or document is missing and
    everything else was written; succeeded otherwise."""
    if error:
        return FAILED
    if not shortfalls:
        return SUCCEEDED
    return PARTIAL if written else FAILED


def summary(counts: RunCounts, *, restored: int = 0, rebuilt: str = "", moved_to: str = "") -> str:
    """What a run changed, e.g. '2 new, 0 updated, 5 unchanged; 40 line items written.'

    `restored` counts invoices whose ledger rows had gone missing and were written again (they
    are part of `counts.new`); `rebuilt` names a ledger that was missing as a whole, and
    `moved_to` the new ledger when it could not be rebuilt in the same place (a trashed Sheet).
    """
    c = counts
    if rebuilt:
        where = f" in {moved_to}" if moved_to and moved_to != rebuilt else ""
        head = f"The ledger {rebuilt} was missing: rebuilt from the provider{where}, "
        head += f"{counted(restored, 'invoice')} restored"
        parts = [head, *([f"{c.new - restored} new"] if c.new - restored else [])]
    elif restored:
        missing = counted(restored, "invoice")
        parts = [f"{missing} missing from the ledger restored from the provider"]
        parts += [f"{c.new - restored} new"] if c.new - restored else []
    elif not (c.new or c.updated or c.removed):
        return f"Nothing new ({counted(c.unchanged, 'invoice')} unchanged)."
    else:
        parts = [f"{c.new} new"]
    parts += [f"{c.updated} updated", f"{c.unchanged} unchanged"]
    if c.removed:
        parts.append(f"{c.removed} removed")
    return ", ".join(parts) + f"; {counted(c.line_items, 'line item')} written."


def shortfall_text(shortfalls: Sequence[Shortfall]) -> str:
    """One sentence naming each missing invoice part and what happens next."""
    shown = "; ".join(s.describe() for s in shortfalls[:SHOWN_SHORTFALLS])
    more = len(shortfalls) - SHOWN_SHORTFALLS
    if more > 0:
        shown += f"; and {more} more"
    documents_only = all(s.is_document for s in shortfalls)
    written = (
        "their invoice rows were written with those cells empty"
        if documents_only
        else "everything else was written"
    )
    return (
        f"Not complete: {shown} ({written}). The next sync retries only what is missing; if "
        "it keeps failing, check the provider's status page or open the invoice in its console."
    )


@dataclass
class RunOutcome:
    """What one run found and did, filled in step by step; `message()` is its Runs row's."""

    counts: RunCounts = RunCounts()
    error: str | None = None  # the run stopped: this sentence says why
    shortfalls: list[Shortfall] = field(default_factory=list)
    rebuilt: str = ""  # the location of a ledger that was missing and was rebuilt
    moved_to: str = ""  # where it was rebuilt, when not in the same place (a trashed Sheet)
    restored: int = 0  # invoices written again because their rows had gone missing
    forgotten: set[str] = field(default_factory=set)  # index keys neither in ledger nor listed
    ledger_unusable: bool = False  # the ledger could not be read: it takes no Runs row either
    written: int = 0  # invoice rows written or removed (an unchanged rewrite counts too)

    def fail(self, message: str) -> None:
        self.error = message

    @property
    def changed(self) -> bool:
        c = self.counts
        return bool(c.new or c.updated or c.removed)

    def status(self) -> str:
        return run_status(self.error, self.shortfalls, self.written)

    def message(self) -> str:
        if self.error:
            return self.error
        text = summary(
            self.counts, restored=self.restored, rebuilt=self.rebuilt, moved_to=self.moved_to
        )
        if self.shortfalls:
            text += " " + shortfall_text(self.shortfalls)
        return text
