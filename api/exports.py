"""`billsync export xero|qbo`: one month's bills as import files, archived under Exports/.

Reads the ledger (Invoices, Line Items, the Clients rules and an optional Accounts tab), builds
the bills in the pure core (core.bills, core.bill_formats), writes each file with the csv
module, archives it under a name that says what it holds (export_name) and appends a Runs row
that links it.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from api.atomic import file_sha256
from api.core.bill_formats import (
    QBO_COLUMNS,
    XERO_COLUMNS,
    XERO_MAX_BILLS,
    qbo_accepts,
    qbo_rows,
    xero_files,
)
from api.core.bills import AccountMap, Bill, month_bills, parse_accounts, totals_by_currency
from api.core.model import Connection, DocumentLink, RunCounts, RunRecord
from api.core.rows import not_numbers
from api.core.text import counted
from api.errors import ConfigError
from api.ports import ExportStore, FileStore, LedgerSink
from api.reports import CLIENTS_TAB, allocations_by_key, require_numbers

FORMATS = ("xero", "qbo")
ACCOUNTS_TAB = "Accounts"
DEFAULT_DATES = {"xero": "dmy", "qbo": "mdy"}
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class ExportFile:
    """One archived import file: its name, link, how many bills and lines (CSV rows) it holds,
    the sum of its lines (tax included) per currency (what the product will import), and the
    local copy `--out` asked for (None without one)."""

    name: str
    link: DocumentLink
    bills: int
    lines: int
    totals: Mapping[str, Decimal]
    copy: Path | None = None

    @property
    def where(self) -> str:
        """A local archive file as its path, a Drive file as its link."""
        parts = urlsplit(self.link.url)
        return url2pathname(parts.path) if parts.scheme == "file" else self.link.url


@dataclass(frozen=True)
class Export:
    """What one export made: the archived files, the bills they hold, and the notes (what was
    left out, bad Clients or Accounts rows), each said once."""

    format: str
    period: str
    date_format: str
    files: tuple[ExportFile, ...]
    notes: tuple[str, ...]
    invoices: int = 0  # the month's final invoices the export read

    @property
    def bills(self) -> int:
        """The bills the files hold (QuickBooks leaves credits out: fewer than the invoices)."""
        return sum(file.bills for file in self.files)

    def summary(self, links: bool = False) -> str:
        """What was exported and where (local files as paths, Drive files as links; `links`:
        every file as its link, as the Runs row keeps it), without the notes."""
        product = {"xero": "Xero", "qbo": "QuickBooks Online"}[self.format]
        if not self.files and not self.invoices:
            text = f"No {product} bills for {self.period}: the ledger has no invoice of that month"
            return text + "; nothing was exported."
        if not self.files:
            text = f"No {product} bills for {self.period}: none of its "
            return text + f"{counted(self.invoices, 'invoice')} is a bill; nothing was exported."
        places = ", ".join(file.link.url if links else file.where for file in self.files)
        text = f"{product} bills for {self.period}: {counted(self.bills, 'bill')} in {places}"
        copies = [str(file.copy) for file in self.files if file.copy is not None]
        return text + (f"; copied to {', '.join(copies)}." if copies else ".")

    def message(self, links: bool = False) -> str:
        """The summary followed by each note once: the CLI's output and the Runs row."""
        return " ".join([self.summary(links), *self.notes])


def export_month(
    sink: LedgerSink,
    store: FileStore,
    fmt: str,
    period: str,
    *,
    connection: Connection | None = None,
    date_format: str | None = None,
    out: Path | None = None,
    workdir: Path,
    whole_ledger: bool = False,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> Export:
    """Export the bills of `period` (YYYY-MM) in `fmt` ("xero" | "qbo"); `connection` keeps its
    provider and account's invoices only, unless `whole_ledger` (every invoice of the ledger,
    PDF inbox included, as with no connection). `out` gets a copy of each file (its folder is
    created). Raises ConfigError for a bad format or period, or an archive without export
    support."""
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format '{fmt}'.", action="Use xero or qbo.")
    if not _PERIOD.fullmatch(period):
        raise ConfigError(f"'{period}' is not a month.", action="Give --period as YYYY-MM.")
    if not isinstance(store, ExportStore):
        raise ConfigError("This archive cannot keep export files.")
    only = None if whole_ledger else connection
    bills, notes = _bills(sink, period, only)
    dates = date_format or DEFAULT_DATES[fmt]
    accounts = _accounts(sink, notes)
    tables = _tables(fmt, bills, accounts, dates, notes)
    scope = only.name if only else ""  # the whole ledger's files carry no connection
    archived = []
    for number, (header, rows, kept) in enumerate(tables, 1):
        name = export_name(period, fmt, scope, number, len(tables))
        copy = _out(out, number, len(tables))
        link = _archive(store, name, header, rows, workdir, copy)
        archived.append(
            ExportFile(name, link, len(kept), len(rows), totals_by_currency(kept), copy)
        )
    result = Export(fmt, period, dates, tuple(archived), tuple(dict.fromkeys(notes)), len(bills))
    if archived:
        family = export_name(period, fmt, scope, 1, 1)
        for stale in superseded(store.export_names(), family, [f.name for f in archived]):
            store.remove_export(stale)  # the same export's other set (more or fewer parts)
        _record(sink, result, connection.name if connection else "", clock)
    return result


def export_name(period: str, fmt: str, connection: str, number: int, parts: int) -> str:
    """The archive name of an export file, saying what it holds so that no later export can
    pass for part of it: the month, the connection when one was chosen (none: the whole
    ledger), the format and, when split (Xero takes 500 bills a file), `<n> of <parts>`:
    '2026-09 demo-doit xero.csv', '2026-10 xero 1 of 2.csv'."""
    words = [period, connection, fmt, f"{number} of {parts}" if parts > 1 else ""]
    return " ".join(word for word in words if word) + ".csv"


def superseded(names: Iterable[str], single: str, written: Collection[str]) -> list[str]:
    """The archived export names of the same month, scope and format as `single` (its one-file
    name, e.g. '2026-10 xero.csv') in another split than the files just `written`: a set of
    '1 of 2' and '2 of 2' once the month fits one file, or the one file once it no longer does.
    Other scopes' names ('2026-10 acme xero.csv') never match."""
    stem = re.escape(single.removesuffix(".csv"))
    family = re.compile(rf"{stem}( [0-9]+ of [0-9]+)?\.csv")
    return sorted(n for n in names if family.fullmatch(n) and n not in written)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """UTF-8 CSV, comma separated, quoted where needed, CRLF line ends (RFC 4180)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header))
        writer.writeheader()
        writer.writerows(rows)


def _bills(
    sink: LedgerSink, period: str, connection: Connection | None
) -> tuple[list[Bill], list[str]]:
    invoices = sink.rows("Invoices")
    lines = sink.rows("Line Items")
    wanted = _exported(period, connection)
    # checked before any filter, so the row numbers are the sheet's
    require_numbers(
        [*not_numbers(invoices, "Total", "Invoices", only=wanted),
         *not_numbers(lines, "Amount", "Line Items", only=wanted)],
        "Correct or clear those cells, then export again.",
    )  # fmt: skip
    invoices = [row for row in invoices if _ours(row, connection)]
    month = [line for line in lines if wanted(line)]
    allocations, problems = allocations_by_key(month, sink.rows(CLIENTS_TAB))
    return month_bills(invoices, month, period, allocations), list(problems)


def _exported(period: str, connection: Connection | None) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a row is one an export of `period` (and `connection`, if any) reads."""
    return lambda row: row.get("Period") == period and _ours(row, connection)


def _ours(row: Mapping[str, Any], connection: Connection | None) -> bool:
    """A row of the connection (its provider, which the ledger shows as "DigitalOcean" for the
    connection's "digitalocean", and its account); every row when there is no connection."""
    if connection is None:
        return True
    wanted = (connection.provider.lower(), connection.account)
    return (str(row.get("Provider") or "").lower(), row.get("Account")) == wanted


def _accounts(sink: LedgerSink, notes: list[str]) -> AccountMap:
    accounts, problems = parse_accounts(sink.rows(ACCOUNTS_TAB))
    notes += problems
    return accounts


_Table = tuple[Sequence[str], list[dict[str, str]], Sequence[Bill]]


def _tables(
    fmt: str, bills: Sequence[Bill], accounts: AccountMap, dates: str, notes: list[str]
) -> list[_Table]:
    """Each file's header, rows and the bills in it: Xero 500 bills a file; QuickBooks one
    file without the credits it cannot take as bills (reported in `notes`)."""
    if fmt == "xero":
        chunks = [bills[i : i + XERO_MAX_BILLS] for i in range(0, len(bills), XERO_MAX_BILLS)]
        return [(XERO_COLUMNS, xero_files(chunk, accounts, dates)[0], chunk) for chunk in chunks]
    rows, skipped = qbo_rows(bills, accounts, dates)
    notes += skipped
    return [(QBO_COLUMNS, rows, [b for b in bills if qbo_accepts(b)])] if rows else []


def _archive(
    store: ExportStore,
    name: str,
    header: Sequence[str],
    rows: Sequence[Mapping[str, str]],
    workdir: Path,
    out: Path | None,
) -> DocumentLink:
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        path = Path(folder) / "export.csv"
        write_csv(path, header, rows)
        link = store.put_export(name, path, file_sha256(path))
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
    return link


def _out(out: Path | None, number: int, parts: int) -> Path | None:
    if out is None or parts == 1:
        return out
    return out.with_name(f"{out.stem} {number} of {parts}{out.suffix}")


def _record(
    sink: LedgerSink, export: Export, connection: str, clock: Callable[[], dt.datetime]
) -> None:
    now = clock()
    run = RunRecord(
        id=f"export-{uuid.uuid4().hex[:12]}", connection=connection or "(all connections)",
        trigger="export", status="succeeded", started=now, finished=now,
        counts=RunCounts(), message=export.message(links=True),
    )  # fmt: skip
    sink.append_run(run)
