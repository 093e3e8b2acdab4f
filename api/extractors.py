"""Which Extractor this machine uses, chosen once from Settings, and the archived-PDF check."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from api.core.document import ExtractedDocument, read_invoice
from api.core.model import Connection, DocumentLink, Invoice
from api.core.reconcile import reconcile_pdf
from api.errors import BillsyncError, ConfigError
from api.ports import Extractor, StateStore
from api.settings import Settings

ATTACHED_KIND = "inbox-pdf"  # a document kind: the PDF was attached from the inbox


def build_extractor(settings: Settings) -> Extractor:
    """The local extractor by default; Document AI (budgeted, cached by content) on request."""
    if settings.extractor == "local":
        from api.extract.local import LocalExtractor

        return LocalExtractor()
    if settings.extractor == "documentai":
        from api.extract.budget import BudgetedExtractor
        from api.extract.documentai import DocumentAiExtractor
        from api.state.extraction import SqlExtractionBook

        remote = DocumentAiExtractor(
            settings.documentai_processor, api_url=settings.documentai_api_url or None
        )
        return BudgetedExtractor(
            remote, SqlExtractionBook(settings.database_url),
            page_cap=settings.extract_page_cap, cost_per_page=settings.extract_cost_per_page,
        )  # fmt: skip
    raise ConfigError(
        f"BILLSYNC_EXTRACTOR must be 'local' or 'documentai', not {settings.extractor!r}."
    )


class ArchivedPdfChecker:
    """`PdfChecker`: reads the PDF of an API invoice whose connection opts in (`extract_pdf`),
    or that a person attached from the inbox, then reconciles three ways.

    A PDF is read when the engine has just downloaded it (`read`; the answer is kept for this
    process, by content hash) or, later, from the archive folder; a PDF archived in Drive and
    not read in this process is found only in the Document AI cache. The extractor is built on
    first use.
    """

    KEEP = 4096  # answers kept in memory, by content hash

    def __init__(
        self, extractor: Callable[[], Extractor], state: StateStore, *, threshold: float
    ) -> None:
        self._make = extractor
        self._extractor: Extractor | None = None
        self._state = state
        self._lock = threading.Lock()
        self._read: dict[str, ExtractedDocument | str] = {}  # sha256 -> answer or reason
        self.threshold = threshold

    def read(self, connection: Connection, pdf: Path, sha256: str) -> None:
        if connection.options.get("extract_pdf"):
            answer = self._extract(connection, pdf, sha256)
            with self._lock:
                if len(self._read) >= self.KEEP:
                    self._read.pop(next(iter(self._read)))
                self._read[sha256] = answer

    def check(self, connection: Connection, invoice: Invoice, link: DocumentLink) -> Invoice:
        attached = ATTACHED_KIND in self._state.documents(connection.id, invoice.key)
        if not (connection.options.get("extract_pdf") or attached):
            return invoice
        with self._lock:
            answer = self._read.get(link.sha256)
        if answer is None:
            answer = self._extract(connection, _local_path(link.url), link.sha256)
        if isinstance(answer, str):
            note = f"PDF not read: {answer}"
            return replace(invoice, review="; ".join(filter(None, (invoice.review, note))))
        pdf = read_invoice(answer, threshold=self.threshold)
        return reconcile_pdf(replace(invoice, review=""), pdf.total, pdf.currency)

    def _extract(self, connection: Connection, pdf: Path, sha256: str) -> ExtractedDocument | str:
        with self._lock:
            if self._extractor is None:
                self._extractor = self._make()
            extractor = self._extractor
        try:
            return extractor.extract(pdf, sha256=sha256, connection=connection.name)
        except BillsyncError as exc:
            return exc.message
        except OSError:
            return "not on this machine"


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else Path("/nonexistent") / "drive"
