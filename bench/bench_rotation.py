"""Moving old years of Line Items out of a Sheet near its cell limit (the fake Google, loopback).

    python bench/bench_rotation.py [--invoices 30] [--lines 100] [--repeat 3]

Four years of DoiT-like invoices (--invoices a year, --lines each) are written to a SheetsLedger
whose cell limit is set so that the fourth year passes 90 %. We time the write that rotates (two
archive spreadsheets created, rows copied, then deleted from the ledger), then a --full rerun of
everything (archived years routed to their archives: reads only), then the Summary refresh (which
reads each archive's Line Items once), and count Google calls by kind.
Medians of --repeat fresh runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.core.model import Invoice, LedgerBatch, LineItem  # noqa: E402
from api.ledger.sheets.ledger import SheetsLedger  # noqa: E402
from api.reports import refresh  # noqa: E402
from tests.fakes.fixtures import started_fake_google  # noqa: E402
from tests.test_sheets_sink import credentials  # noqa: E402

NOW = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def year_batch(year: int, invoices: int, lines: int) -> LedgerBatch:
    heads, items = [], []
    for n in range(1, invoices + 1):
        key, period = f"doit:acme:{year}-{n}", f"{year}-{(n - 1) % 12 + 1:02d}"
        items += [
            LineItem(
                "doit",
                "acme",
                f"{year}-{n}",
                key,
                period,
                i + 1,
                "Compute Engine",
                "Compute",
                f"vm-{i}",
                Decimal("1.25"),
                "USD",
                quantity=Decimal(2),
                start=dt.datetime(year, 1, 1, tzinfo=dt.UTC),
            )
            for i in range(lines)
        ]
        heads.append(
            Invoice(
                "doit",
                "acme",
                f"{year}-{n}",
                key,
                period,
                "Paid",
                "USD",
                Decimal("1.25") * lines,
                line_count=lines,
                synced_at=NOW,
            )
        )
    return LedgerBatch(tuple(heads), tuple(items))  # fmt: skip


def once(invoices: int, lines: int) -> dict[str, float]:
    fake = started_fake_google()
    try:
        book = fake.sheets.create("ledger", title="Bench")  # type: ignore[attr-defined]
        book.tabs[0].row_count = book.tabs[0].column_count = 1
        per_year = invoices * (22 + 21 * lines)
        limit = int(3.2 * per_year / 0.85)  # three years ~85 %; the fourth passes the limit
        fake.sheets.cell_limit = limit  # type: ignore[attr-defined]
        creds = credentials(fake)
        sink = SheetsLedger("ledger", creds, api_url=fake.url, drive_api_url=fake.url,
                            cell_limit=limit, clock=lambda: NOW, sleep=lambda s: None)  # fmt: skip
        years = [year_batch(y, invoices, lines) for y in (2023, 2024, 2025, 2026)]
        sink.write(LedgerBatch(*(sum((getattr(b, f) for b in years[:3]), ()) for f in
                                 ("invoices", "lines", "removed"))))  # fmt: skip
        start, started = len(fake.calls), time.perf_counter()
        sink.write(years[3])
        rotate = time.perf_counter() - started
        calls = Counter(c.method_id for c in fake.calls[start:])
        start, started = len(fake.calls), time.perf_counter()
        every = LedgerBatch(*(sum((getattr(b, f) for b in years), ()) for f in
                              ("invoices", "lines", "removed")))  # fmt: skip
        SheetsLedger("ledger", creds, api_url=fake.url, drive_api_url=fake.url, cell_limit=limit,
                     clock=lambda: NOW).write(every)  # fmt: skip
        rerun = time.perf_counter() - started
        again = Counter(c.method_id for c in fake.calls[start:])
        moved = sum(1 for r in sink.rows("Runs") if r["Status"] == "rotated")
        fake.sheets.cell_limit = 2 * limit  # type: ignore[attr-defined] # room for the Summary
        start, started = len(fake.calls), time.perf_counter()
        refresh(sink)  # the Summary over the ledger and both archives
        summary = time.perf_counter() - started
        reports = Counter(c.method_id for c in fake.calls[start:])
        archive_reads = sum(1 for c in fake.calls[start:] if c.method_id.startswith("sheets.")
                            and "/spreadsheets/ledger" not in c.path)  # fmt: skip
        return {"limit": limit, "rotate_s": rotate, "rerun_s": rerun, "rotations": moved,
                "rotate_reads": sum(n for m, n in calls.items() if "get" in m.lower()
                                    or m.endswith(".list")),
                "rotate_writes": calls["sheets.spreadsheets.batchUpdate"]
                + calls["drive.files.create"],
                "rerun_reads": sum(n for m, n in again.items() if m != "oauth2.token"
                                   and "batchUpdate" not in m),
                "rerun_writes": again["sheets.spreadsheets.batchUpdate"],
                "summary_s": summary,
                "summary_reads": sum(n for m, n in reports.items() if m != "oauth2.token"
                                     and "batchUpdate" not in m),
                "summary_archive_reads": archive_reads}  # fmt: skip
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=30)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [once(args.invoices, args.lines) for _ in range(args.repeat)]
    rows = args.invoices * args.lines
    print(f"{rows:,} line rows a year x 4 years; limit {runs[0]['limit']:,} cells")
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(f"  {name:21} median {statistics.median(values):10.3f}  all {values}")


if __name__ == "__main__":
    main()
