"""Normalized ledger values: invoices, line items, runs; the keys and columns of the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from api.core.schedule import Schedule

PREVIEW_STATUS = "Preview"
PROVIDER_NAMES = {"digitalocean": "DigitalOcean", "doit": "DoiT"}  # connection provider -> shown


def is_preview_key(key: str) -> bool:
    """Whether an invoice key is a month-to-date preview's ("digitalocean:preview:2026-11"):
    not an invoice yet, replaced while the month runs and removed once the invoice is issued."""
    return ":preview:" in key


INVOICE_COLUMNS: tuple[str, ...] = (
    "Provider", "Account", "Invoice ID", "Invoice Key", "Period", "Invoice Date", "Due Date",
    "Status", "Currency", "Product Charges", "Overages", "Taxes", "Credits & Adjustments",
    "Total", "Balance Due", "Line Items", "Line Items Total", "Reconciled", "PDF", "CSV",
    "Source URL", "Synced At", "PDF Total", "Review",
)  # fmt: skip

LINE_COLUMNS: tuple[str, ...] = (
    "Provider", "Account", "Invoice ID", "Invoice Key", "Period", "Product", "Category",
    "Description", "Group", "Project", "Resource ID", "Resource UUID", "Start", "End",
    "Duration", "Unit", "Quantity", "Unit Price", "Amount", "Currency", "Line Key",
)  # fmt: skip

# Written by the allocation rules (Clients tab) after a sync, at the end of Line Items. Not in
# LINE_COLUMNS: a sink keeps them per Line Key like a user's own column when a sync rewrites an
# invoice's lines, so a re-sync never blanks an allocation (nor a user's own "Client" column).
ALLOCATION_COLUMNS: tuple[str, ...] = ("Client", "Billable")

RUN_COLUMNS: tuple[str, ...] = (
    "Started", "Finished", "Connection", "Trigger", "Status", "New", "Updated", "Unchanged",
    "Line Items", "Message",
)  # fmt: skip

INVOICE_KEY_COLUMN = "Invoice Key"
LINE_KEY_COLUMN = "Line Key"

# How a sink should type each column. Anything not listed is provider text (always a string).
MONEY_COLUMNS = frozenset(
    {"Product Charges", "Overages", "Taxes", "Credits & Adjustments", "Total", "Balance Due",
     "Line Items Total", "Quantity", "Unit Price", "Amount", "Duration", "PDF Total"}
)  # fmt: skip
DATE_COLUMNS = frozenset({"Invoice Date", "Due Date"})
DATETIME_COLUMNS = frozenset({"Start", "End", "Synced At", "Started", "Finished"})
INTEGER_COLUMNS = frozenset({"Line Items", "New", "Updated", "Unchanged"})
BOOLEAN_COLUMNS = frozenset({"Reconciled"})
LINK_COLUMNS = frozenset({"PDF", "CSV", "Source URL"})
# Money columns that are really plain quantities: a number, but no currency format.
PLAIN_NUMBER_COLUMNS = frozenset({"Quantity", "Duration"})


def invoice_line_key(invoice_key: str, position: int) -> str:
    """`Line Key` = Invoice Key + '#' + 1-based position of the line in the invoice."""
    return f"{invoice_key}#{position}"


@dataclass(frozen=True)
class DocumentLink:
    """An archived document: where a person opens it, and what was archived."""

    kind: str  # "pdf" | "csv"
    url: str
    sha256: str


@dataclass(frozen=True, slots=True)
class LineItem:
    provider: str
    account: str
    invoice_id: str
    invoice_key: str
    period: str
    position: int
    product: str
    category: str
    description: str
    amount: Decimal
    currency: str
    group: str = ""
    project: str = ""
    resource_id: str = ""
    resource_uuid: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    duration: Decimal | None = None
    unit: str = ""
    quantity: Decimal | None = None
    unit_price: Decimal | None = None

    @property
    def key(self) -> str:
        return invoice_line_key(self.invoice_key, self.position)

    def row(self) -> dict[str, Any]:
        return {
            "Provider": self.provider, "Account": self.account, "Invoice ID": self.invoice_id,
            "Invoice Key": self.invoice_key, "Period": self.period, "Product": self.product,
            "Category": self.category, "Description": self.description, "Group": self.group,
            "Project": self.project, "Resource ID": self.resource_id,
            "Resource UUID": self.resource_uuid, "Start": self.start, "End": self.end,
            "Duration": self.duration, "Unit": self.unit, "Quantity": self.quantity,
            "Unit Price": self.unit_price, "Amount": self.amount, "Currency": self.currency,
            "Line Key": self.key,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Invoice:
    provider: str
    account: str
    invoice_id: str
    key: str
    period: str  # YYYY-MM
    status: str
    currency: str
    total: Decimal
    invoice_date: dt.date | None = None
    due_date: dt.date | None = None
    product_charges: Decimal | None = None
    overages: Decimal | None = None
    taxes: Decimal | None = None
    credits: Decimal | None = None
    balance_due: Decimal | None = None
    line_count: int = 0
    lines_total: Decimal | None = None
    reconciled: bool | None = None
    pdf: str = ""
    csv: str = ""
    source_url: str = ""
    synced_at: dt.datetime | None = None
    pdf_total: Decimal | None = None  # the total printed on the PDF, when it was extracted
    review: str = ""  # what a person should check: unsure fields, sources that disagree
    # Columns the source document did not state (a PDF without a readable total): left empty.
    missing: frozenset[str] = frozenset()

    @property
    def is_preview(self) -> bool:
        return self.status == PREVIEW_STATUS

    def row(self) -> dict[str, Any]:
        row = {
            "Provider": self.provider, "Account": self.account, "Invoice ID": self.invoice_id,
            "Invoice Key": self.key, "Period": self.period, "Invoice Date": self.invoice_date,
            "Due Date": self.due_date, "Status": self.status, "Currency": self.currency,
            "Product Charges": self.product_charges, "Overages": self.overages,
            "Taxes": self.taxes, "Credits & Adjustments": self.credits, "Total": self.total,
            "Balance Due": self.balance_due, "Line Items": self.line_count,
            "Line Items Total": self.lines_total, "Reconciled": self.reconciled,
            "PDF": self.pdf, "CSV": self.csv, "Source URL": self.source_url,
            "Synced At": self.synced_at, "PDF Total": self.pdf_total, "Review": self.review,
        }  # fmt: skip
        for name in self.missing:
            row[name] = None
        return row


@dataclass(frozen=True)
class InvoiceRef:
    """One entry of a provider's invoice listing: enough to decide skip / add / update.

    `version` changes whenever the provider's invoice changes (a preview's `updated_at` and
    amount, a DoiT invoice's status and balance); final DigitalOcean invoices never change.
    `handle` is provider-private data the provider needs to fetch the invoice again.
    """

    key: str
    provider: str
    invoice_id: str
    period: str
    version: str
    is_preview: bool = False
    handle: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FetchedInvoice:
    """An invoice with its lines, and the documents the provider offers for it."""

    invoice: Invoice
    lines: tuple[LineItem, ...]
    documents: tuple[str, ...] = ()  # kinds the provider can download: "pdf", "csv"


@dataclass(frozen=True)
class RunCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    line_items: int = 0


DEMO_OPTION = "demo"  # a connection option: the simulated account `billsync demo` made
DONE = "done"  # the phase of every finished run, whatever its status


@dataclass(frozen=True)
class RunRecord:
    """One sync of one connection. `connection` is the connection's id; `started` is when it
    started running, or, while `status` is "queued", when it was queued (= `queued_at`)."""

    id: str
    connection: str
    trigger: str  # "sidebar" | "schedule" | "cli"
    # "queued" | "running" | "succeeded" | "partial" (some invoice or document is missing,
    # everything else was written; the message names each) | "failed"
    status: str
    started: dt.datetime
    finished: dt.datetime | None = None
    counts: RunCounts = RunCounts()
    message: str = ""
    phase: str = ""  # while active: listing, fetching, writing, ...; once finished: DONE
    done: int = 0
    total: int = 0
    queued_at: dt.datetime | None = None
    connection_name: str = ""  # the connection's name when the run was made (history keeps it)

    def row(self) -> dict[str, Any]:
        return {
            "Started": self.started, "Finished": self.finished,
            "Connection": self.connection_name or self.connection,
            "Trigger": self.trigger, "Status": self.status, "New": self.counts.new,
            "Updated": self.counts.updated, "Unchanged": self.counts.unchanged,
            "Line Items": self.counts.line_items, "Message": self.message,
        }  # fmt: skip


@dataclass(frozen=True)
class LedgerBatch:
    """Everything one sync writes: upserted invoices, their complete line sets, removals.

    `lines` holds, for every invoice in `invoices`, the full replacement set of its lines.
    `removed` lists invoice keys whose invoice row and lines must disappear (a preview
    superseded by its final invoice).
    """

    invoices: tuple[Invoice, ...] = ()
    lines: tuple[LineItem, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.invoices or self.removed)


@dataclass(frozen=True)
class Connection:
    """One provider account feeding one ledger. `id` is stable and url-safe (names can change);
    `spreadsheet_id` is the Google Sheet it belongs to, or "local" for the embedded workbook +
    folder. Names are unique per spreadsheet. `options` holds provider and ledger options
    (tenant, include_preview, drive_folder)."""

    name: str
    provider: str  # "digitalocean" | "doit"
    account: str  # human label: team name, tenant
    secret_ref: str
    fingerprint: str  # e.g. dop_v1_…a1b2, the only trace of the token anyone sees
    options: Mapping[str, Any] = field(default_factory=dict)
    created: dt.datetime | None = None
    id: str = ""  # given by the StateStore when empty
    spreadsheet_id: str = "local"
    schedule: Schedule = Schedule()
    schedule_since: dt.datetime | None = None  # when the schedule was last set (UTC)
    schedule_failures: int = 0  # failed scheduled runs in a row
    schedule_paused: bool = False  # set after PAUSE_AFTER_FAILURES; setting a schedule clears it

    @property
    def is_demo(self) -> bool:
        """Made by `billsync demo`: its account exists only in a simulator on this machine."""
        return DEMO_OPTION in self.options

    @property
    def include_preview(self) -> bool:
        return bool(self.options.get("include_preview", True))
