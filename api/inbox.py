"""The PDF inbox: every dropped PDF becomes an invoice row, or is attached to an API invoice.

Only ports are used (Inbox, Extractor, LedgerSink, FileStore, StateStore), so the same code
serves the workbook + folder and the Sheet + Drive. Order, for crash safety: archive each PDF,
write every row in one LedgerSink.write, and only then take the files out of the inbox. A
crash before the write leaves the files to be read again; after it, the next run finds their
key `pdf:<sha256>` in the ledger and only takes them out. Nothing is lost or doubled.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from api import logs
from api.atomic import file_sha256
from api.core.document import DEFAULT_THRESHOLD, PdfInvoice, read_invoice
from api.core.model import (
    DONE,
    DocumentLink,
    Invoice,
    LedgerBatch,
    LineItem,
    RunCounts,
    RunRecord,
)
from api.core.outcome import FAILED, PARTIAL, SUCCEEDED
from api.core.pdf_ledger import PROVIDER, pdf_key, pdf_rows
from api.core.reconcile import reconcile_pdf
from api.core.rows import invoice_from_row, line_from_row
from api.engine import after_change_notes
from api.errors import BillsyncError, ExtractionError, RejectedDocument
from api.ports import Extractor, FileStore, Inbox, InboxItem, LedgerSink, utcnow

log = logs.get("inbox")


@dataclass
class _Pass:
    """What one inbox run decided, before anything is written."""

    invoices: dict[str, Invoice] = field(default_factory=dict)
    lines: dict[str, tuple[LineItem, ...]] = field(default_factory=dict)
    taken: list[InboxItem] = field(default_factory=list)  # leave the inbox after the write
    new: int = 0
    attached: int = 0
    duplicates: int = 0
    refused: int = 0  # files rejected, or left in the inbox to try again: the run is partial
    notes: list[str] = field(default_factory=list)
    # the ledger's Line Items by Invoice Key, read when the first PDF attaches to an invoice
    ledger_lines: dict[str, list[dict[str, Any]]] | None = None


class PdfInbox:
    """Process one ledger's inbox. `name` is the run's connection label ("inbox",
    "inbox:<connection>"); it is also whose extraction budget pays."""

    def __init__(
        self,
        *,
        name: str,
        inbox: Inbox,
        sink: LedgerSink,
        files: FileStore,
        extractor: Extractor,
        workdir: Path,
        threshold: float = DEFAULT_THRESHOLD,
        clock: Callable[[], dt.datetime] = utcnow,
        documents: Callable[[str], Mapping[str, DocumentLink]] = lambda key: {},
        remember: Callable[[str, DocumentLink], None] = lambda key, link: None,
        after_change: Callable[[LedgerSink], Sequence[str]] | None = None,
    ) -> None:
        self.name = name
        # The Summary and Clients rebuild after rows were written (as after an API sync); its
        # messages end the run's message.
        self.after_change = after_change
        self.inbox = inbox
        self.sink = sink
        self.files = files
        self.extractor = extractor
        self.workdir = workdir
        self.threshold = threshold
        self.clock = clock
        # The archived documents of an API invoice (StateStore.documents of its connection):
        # the ledger reads link cells back as their text, and a rewrite needs their URLs.
        self.documents = documents
        # Records a PDF attached to an API invoice under its connection, so the engine keeps
        # the link (and re-reads the PDF) when the provider updates that invoice.
        self.remember = remember

    def run(self, trigger: str = "cli") -> RunRecord | None:
        """Process every pending file; returns the run, also appended to the ledger's Runs
        tab (inbox runs are not connections, so the StateStore does not hold them), or None
        when the inbox is empty. Raises only the inbox's own listing errors."""
        items = self.inbox.pending()
        if not items:
            return None
        started = self.clock()
        work = _Pass()
        error = ""
        try:
            self._process(items, work)
            self._write(work)
        except BillsyncError as exc:
            error = str(exc)
        except Exception as exc:  # a bug: keep the inbox as it is, never leak internals
            log.exception("inbox %s crashed", self.name)
            error = f"Internal error ({type(exc).__name__}); the inbox was left as it was."
        counts = RunCounts(new=work.new, updated=work.attached, unchanged=work.duplicates,
                           line_items=sum(len(v) for v in work.lines.values()))  # fmt: skip
        if not error and (work.new or work.attached):  # the PDFs' rows stand, whatever it says
            work.notes.extend(after_change_notes(self.after_change, self.sink))
        # Each piece is a sentence (the notes end with a period of their own).
        pieces = [error] * bool(error) + [_summary(work)] + work.notes
        message = " ".join(p if p.endswith(".") else f"{p}." for p in pieces)
        record = RunRecord(
            id=uuid.uuid4().hex, connection=self.name, trigger=trigger,
            status=_status(error, work), started=started, finished=self.clock(),
            counts=counts, message=message, phase=DONE,
        )  # fmt: skip
        try:
            self.sink.append_run(record)
        except BillsyncError as exc:
            log.warning("could not append inbox run %s: %s", record.id, exc)
        return record

    # -- steps -------------------------------------------------------------------------------

    def _process(self, items: Sequence[InboxItem], work: _Pass) -> None:
        rows = self.sink.rows("Invoices")
        known = {str(row.get("Invoice Key") or "") for row in rows}
        by_number = _numbers(rows)
        self.workdir.mkdir(parents=True, exist_ok=True)
        for item in items:
            with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
                path = Path(tmp) / "document.pdf"
                self.inbox.fetch(item, path)
                sha256 = file_sha256(path)
                if pdf_key(sha256) in known or pdf_key(sha256) in work.invoices:
                    work.duplicates += 1
                    work.taken.append(item)
                    continue
                try:
                    document = self.extractor.extract(path, sha256=sha256, connection=self.name)
                except RejectedDocument as exc:
                    self.inbox.reject(item, exc.message)
                    work.refused += 1
                    work.notes.append(f"rejected {item.name}: {exc.message}")
                    continue
                except ExtractionError as exc:
                    work.refused += 1
                    work.notes.append(f"{item.name} left in the inbox: {exc}")
                    continue
                pdf = read_invoice(document, threshold=self.threshold)
                if not pdf.currency and pdf.supplier:
                    usual = _usual_currency(rows, pdf.supplier)
                    pdf = read_invoice(document, threshold=self.threshold, supplier_currency=usual)
                self._place(item, path, sha256, pdf, by_number, work)

    def _place(
        self,
        item: InboxItem,
        path: Path,
        sha256: str,
        pdf: PdfInvoice,
        by_number: dict[str, list[dict[str, Any]]],
        work: _Pass,
    ) -> None:
        matches = by_number.get(_number(pdf.invoice_id), []) if pdf.invoice_id else []
        api_rows = [row for row in matches if row.get("Provider") != PROVIDER]
        pdf_rows_ = [row for row in matches if _same_supplier(row, pdf)]
        if len(api_rows) == 1:
            self._attach(api_rows[0], path, sha256, pdf, work)
        elif pdf_rows_:
            work.duplicates += 1
            work.notes.append(
                f"{item.name} is invoice {pdf.invoice_id} of {pdf.supplier} again: not added"
            )
        else:
            invoice, lines = pdf_rows(pdf, sha256=sha256, synced_at=self.clock())
            named = replace(invoice, invoice_id=invoice.invoice_id or sha256[:12])
            link = self.files.put(named, "pdf", path, sha256)
            work.invoices[invoice.key] = replace(invoice, pdf=link.url)
            work.lines[invoice.key] = lines
            by_number.setdefault(_number(pdf.invoice_id), []).append(invoice.row())
            work.new += 1
        work.taken.append(item)

    def _attach(
        self, row: dict[str, Any], path: Path, sha256: str, pdf: PdfInvoice, work: _Pass
    ) -> None:
        """The PDF of an API invoice: archived beside it, its total reconciled three ways."""
        invoice = invoice_from_row(row)
        if invoice.key not in work.lines:
            if work.ledger_lines is None:  # read once a pass, however many PDFs attach
                work.ledger_lines = defaultdict(list)
                for line in self.sink.rows("Line Items"):
                    work.ledger_lines[str(line.get("Invoice Key"))].append(line)
            work.lines[invoice.key] = tuple(
                line_from_row(line) for line in work.ledger_lines.get(invoice.key, [])
            )
        recorded = self.documents(invoice.key)
        link = self.files.put(invoice, "pdf", path, sha256)
        self.remember(invoice.key, link)
        checked = reconcile_pdf(replace(invoice, review=""), pdf.total, pdf.currency)
        csv = recorded["csv"].url if "csv" in recorded else ""
        work.invoices[invoice.key] = replace(
            checked, pdf=link.url, csv=csv or _url(invoice.csv), synced_at=self.clock()
        )
        work.attached += 1

    def _write(self, work: _Pass) -> None:
        if work.invoices:
            batch = LedgerBatch(
                invoices=tuple(work.invoices.values()),
                lines=tuple(line for lines in work.lines.values() for line in lines),
            )
            self.sink.write(batch)
        for item in work.taken:
            self.inbox.done(item)


def _usual_currency(rows: Sequence[dict[str, Any]], supplier: str) -> str:
    """The currency of the supplier's earlier PDF invoices, when they all agree."""
    found = {str(row.get("Currency") or "") for row in rows
             if row.get("Provider") == PROVIDER and _same_name(row, supplier)}  # fmt: skip
    found.discard("")
    return found.pop() if len(found) == 1 else ""


def _same_name(row: dict[str, Any], supplier: str) -> bool:
    return str(row.get("Account") or "").casefold() == supplier.casefold()


def _url(text: str) -> str:
    return text if text.startswith(("https://", "http://", "file://")) else ""


def _numbers(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        number = _number(str(row.get("Invoice ID") or ""))
        if number:
            found.setdefault(number, []).append(row)
    return found


def _number(text: str) -> str:
    """Invoice numbers compared without case, spaces or leading '#'."""
    return "".join(text.split()).lstrip("#").upper()


def _same_supplier(row: dict[str, Any], pdf: PdfInvoice) -> bool:
    # Two PDFs without a supplier are not the same supplier's: each needs a person's review.
    return row.get("Provider") == PROVIDER and bool(pdf.supplier) and _same_name(row, pdf.supplier)


def _status(error: str, work: _Pass) -> str:
    """failed: the run stopped; partial: a file was rejected or left in the inbox (its reason
    is in the message), everything else was written; succeeded otherwise."""
    if error:
        return FAILED
    return PARTIAL if work.refused else SUCCEEDED


def _summary(work: _Pass) -> str:
    # No "Inbox:" prefix: the run's connection ("inbox", "inbox:<connection>") already says it.
    return (
        f"{work.new} new, {work.attached} attached to API invoices, "
        f"{work.duplicates} already in the ledger"
    )
