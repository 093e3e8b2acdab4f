"""Benchmark: what the Summary refresh after a sync costs on a large workbook. Prints figures.

    PYTHONPATH=. python bench/bench_summary.py [--months 120] [--items 400] [--rules 50]
        [--repeat 3] [--sheet]

The ledger is a 10-year DigitalOcean account from the simulator's book (as bench_workbook),
all but its newest month written, with Clients rules typed in by openpyxl (a file another
program saved, as after a bookkeeper's edit). Each repetition times, on a copy of it: the
first refresh (every line gets its Client and Billable cells, the Summary and its chart are
written), a refresh with nothing changed, a refresh after a sync wrote the newest month, a
refresh after the rules were edited (only the affected rows are rewritten), the pure core
alone (allocation, shares, tables) on the rows already read, and a Xero export of the last
month. Medians over the repetitions.

With --sheet the same refreshes run on a SheetsLedger against the fake Google of tests/fakes
(HTTP on loopback, the real client), the rules typed into its Clients tab; each figure also
counts the Sheets calls (reads, batchUpdate writes).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_workbook import account_invoices, as_batch  # noqa: E402

from api.archive.folder import FolderStore  # noqa: E402
from api.core.allocation import allocate_all, parse_rules  # noqa: E402
from api.core.model import LedgerBatch  # noqa: E402
from api.core.passthrough import invoice_shares, pass_through  # noqa: E402
from api.core.summary import summary_tables  # noqa: E402
from api.exports import export_month  # noqa: E402
from api.ledger.sheets.ledger import SheetsLedger  # noqa: E402
from api.ledger.workbook.ledger import WorkbookLedger  # noqa: E402
from api.reports import refresh  # noqa: E402
from tests.fakes.fixtures import started_fake_google  # noqa: E402
from tests.fakes.google import FakeGoogle  # noqa: E402
from tests.test_sheets_sink import SHEET, make_sink  # noqa: E402


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def add_rules(path: Path, count: int, client: str = "Client") -> None:
    book = openpyxl.load_workbook(path)
    sheet = book["Clients"]
    sheet.delete_rows(2, sheet.max_row)
    for n in range(count):
        sheet.append([f"description: *droplet-{n:02d}*", f"{client} {n % 7}", "yes", "10"])
    book.save(path)


def repetition(
    folder: Path, base: WorkbookLedger, n: int, rules: int, newest: LedgerBatch
) -> dict[str, float]:
    sink = WorkbookLedger(folder / f"run{n}.xlsx")
    shutil.copyfile(base.path, sink.path)
    figures = {"first refresh (every row allocated)": timed(lambda: refresh(sink))}
    figures["refresh with nothing changed"] = timed(lambda: refresh(sink))
    sink.write(newest)
    figures["refresh after a sync wrote one month"] = timed(lambda: refresh(sink))
    add_rules(sink.path, rules, client="Renamed")
    figures["refresh after the rules were edited"] = timed(lambda: refresh(sink))
    lines = sink.rows("Line Items")
    parsed, _ = parse_rules(sink.rows("Clients"))

    def core() -> object:
        allocations = allocate_all(lines, parsed)
        return summary_tables(lines, pass_through(invoice_shares(lines, allocations)))

    figures["pure core (allocate, split, tables)"] = timed(core)
    store = FolderStore(folder / f"archive{n}")
    period = newest.invoices[0].period
    figures[f"xero export of {period}"] = timed(
        lambda: export_month(sink, store, "xero", period, workdir=folder / "tmp"))  # fmt: skip
    return figures


def type_rules(fake: FakeGoogle, sheet_id: str, count: int, client: str) -> None:
    clients = fake.sheets.tab(sheet_id, "Clients")  # type: ignore[attr-defined]
    for n in range(count):
        values = [f"description: *droplet-{n:02d}*", f"{client} {n % 7}", "yes", "10"]
        clients.set_row(n + 1, {c: {"userEnteredValue": {"stringValue": v}}
                                for c, v in enumerate(values)})  # fmt: skip


def sheet_repetition(
    batch: LedgerBatch, newest: LedgerBatch, rules: int
) -> dict[str, tuple[float, str]]:
    """One Sheet from scratch (the fake's state is per spreadsheet): (seconds, Sheets calls)."""
    fake = started_fake_google()
    try:
        fake.sheets.create(SHEET)  # type: ignore[attr-defined]
        sink: SheetsLedger = make_sink(fake)
        sink.write(batch)
        refresh(sink)
        type_rules(fake, SHEET, rules, "Client")
        figures: dict[str, tuple[float, str]] = {}

        def counted(name: str, action: Callable[[], object]) -> None:
            since = len(fake.calls)
            seconds = timed(action)
            ids = [c.method_id for c in fake.calls[since:] if c.method_id != "oauth2.token"]
            writes = sum(m.endswith("batchUpdate") for m in ids)
            figures[name] = (seconds, f"{len(ids) - writes} reads, {writes} writes")

        counted("first refresh (every row allocated)", lambda: refresh(sink))
        counted("refresh with nothing changed", lambda: refresh(sink))
        sink.write(newest)
        counted("refresh after a sync wrote one month", lambda: refresh(sink))
        type_rules(fake, SHEET, rules, "Renamed")
        counted("refresh after the rules were edited", lambda: refresh(sink))
        return figures
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sheet", action="store_true", help="a Google Sheet (the fake)")
    args = parser.parse_args()
    fetched = account_invoices(args.months, args.items)
    batch, newest = as_batch(fetched[:-1]), as_batch(fetched[-1:])
    figures: dict[str, list[float]] = {}
    calls: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        base = WorkbookLedger(Path(folder) / "base.xlsx")
        if not args.sheet:
            base.write(batch)
            refresh(base)  # the Clients tab appears
            add_rules(base.path, args.rules)
        for n in range(args.repeat):
            if args.sheet:
                for name, (seconds, count) in sheet_repetition(batch, newest, args.rules).items():
                    figures.setdefault(name, []).append(seconds)
                    calls[name] = count
                continue
            for name, seconds in repetition(Path(folder), base, n, args.rules, newest).items():
                figures.setdefault(name, []).append(seconds)
    print(f"{'Sheet (fake Google)' if args.sheet else 'workbook'}: {len(batch.invoices)} "
          f"invoices, {len(batch.lines)} line items (then one month of {len(newest.lines)}), "
          f"{args.rules} Clients rules; medians of {args.repeat}")  # fmt: skip
    for name, values in figures.items():
        print(f"  {name:42s} {statistics.median(values):7.2f} s  {calls.get(name, '')}")


if __name__ == "__main__":
    main()
