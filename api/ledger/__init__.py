"""LedgerSink adapters (workbook, Google Sheet); shared: how a ledger cell shows a link."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def link_text(url: str) -> str:
    """What a link cell shows: the archived file's name for a file URL, else the URL itself.

    Sinks read link cells back as this text (what a person sees), so two ledgers built in
    different places compare equal; the URL itself lives in the cell's hyperlink.
    """
    if not url:
        return ""
    parts = urlsplit(url)
    name = unquote(parts.path.rsplit("/", 1)[-1])
    return name if parts.scheme == "file" and name else url
