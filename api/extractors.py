"""Which Extractor this machine uses, chosen once from Settings, and the archived-PDF check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from api.core.document import read_invoice
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
    """`PdfChecker` over the archive folder: reads the archived PDF of an API invoice whose
    connection opts in (`extract_pdf`), then reconciles three ways. The extractor is built on
    first use. A PDF archived in Drive is read only if its content was extracted before (the
    budget's cache), since the engine keeps no local copy. A PDF a person attached from the
    inbox is always read again (it was read once already: free locally, cached for Document AI)."""

    def __init__(
        self, extractor: Callable[[], Extractor], state: StateStore, *, threshold: float
    ) -> None:
        self._make = extractor
        self._extractor: Extractor | None = None
        self._state = state
        self.threshold = threshold

    def check(self, connection: Connection, invoice: Invoice, link: DocumentLink) -> Invoice:
        attached = ATTACHED_KIND in self._state.documents(connection.name, invoice.key)
        if not (connection.options.get("extract_pdf") or attached):
            return invoice
        if self._extractor is None:
            self._extractor = self._make()
        path = _local_path(link.url)
        try:
            document = self._extractor.extract(path, sha256=link.sha256, connection=connection.name)
        except (BillsyncError, OSError) as exc:
            reason = exc.message if isinstance(exc, BillsyncError) else "not on this machine"
            note = f"PDF not read: {reason}"
            return replace(invoice, review="; ".join(filter(None, (invoice.review, note))))
        pdf = read_invoice(document, threshold=self.threshold)
        return reconcile_pdf(replace(invoice, review=""), pdf.total, pdf.currency)


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else Path("/nonexistent") / "drive"
