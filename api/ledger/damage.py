"""What both ledgers say when they cannot tell their own rows apart."""

from __future__ import annotations

from api.core.model import INVOICE_KEY_COLUMN
from api.errors import SinkError


def missing_key_column(location: str) -> SinkError:
    """The Invoices tab has rows but no Invoice Key column: writing would duplicate them all."""
    return SinkError(
        f"The Invoices tab of the ledger {location} has rows but no '{INVOICE_KEY_COLUMN}' "
        "column, so billsync cannot tell which invoices it holds; nothing was changed.",
        action="Put the column back (undo, or restore an earlier version), then sync again.",
    )
