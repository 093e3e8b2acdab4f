"""Benchmark: what the Summary rebuild after a changed sync costs on a large workbook. Prints
figures.

    python bench/bench_summary.py [--months 120] [--items 400] [--rules 50] [--repeat 3]

The ledger is a 10-year DigitalOcean account from the simulator's book (as bench_workbook).
Each repetition times, on a copy of the ledger: the first refresh (every line gets its Client
and Billable cells, the Summary and its chart are written), a refresh after one rule changed
(only the affected rows are rewritten), the pure core alone (allocation, shares, tables) on the
rows already read, and a Xero export of the last month. Medians over the repetitions.
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
from api.core.passthrough import invoice_shares, pass_through  # noqa: E402
from api.core.summary import summary_tables  # noqa: E402
from api.exports import export_month  # noqa: E402
from api.ledger.workbook.ledger import WorkbookLedger  # noqa: E402
from api.reports import refresh  # noqa: E402


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
    folder: Path, base: WorkbookLedger, n: int, rules: int, periods: list[str]
) -> dict[str, float]:
    sink = WorkbookLedger(folder / f"run{n}.xlsx")
    shutil.copyfile(base.path, sink.path)
    figures = {"first refresh (every row allocated)": timed(lambda: refresh(sink))}
    add_rules(sink.path, rules, client="Renamed")
    figures["refresh after the rules changed"] = timed(lambda: refresh(sink))
    figures["refresh with nothing to change"] = timed(lambda: refresh(sink))
    lines = sink.rows("Line Items")
    parsed, _ = parse_rules(sink.rows("Clients"))

    def core() -> object:
        allocations = allocate_all(lines, parsed)
        return summary_tables(lines, pass_through(invoice_shares(lines, allocations)))

    figures["pure core (allocate, split, tables)"] = timed(core)
    store = FolderStore(folder / f"archive{n}")
    figures[f"xero export of {periods[-1]}"] = timed(
        lambda: export_month(sink, store, "xero", periods[-1], workdir=folder / "tmp"))  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    batch = as_batch(account_invoices(args.months, args.items))
    periods = sorted({inv.period for inv in batch.invoices})
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        base = WorkbookLedger(Path(folder) / "base.xlsx")
        base.write(batch)
        refresh(base)  # the Clients tab appears
        add_rules(base.path, args.rules)
        for n in range(args.repeat):
            for name, seconds in repetition(Path(folder), base, n, args.rules, periods).items():
                figures.setdefault(name, []).append(seconds)
    print(f"ledger: {len(batch.invoices)} invoices, {len(batch.lines)} line items, "
          f"{args.rules} Clients rules; medians of {args.repeat}")  # fmt: skip
    for name, values in figures.items():
        print(f"  {name:42s} {statistics.median(values):7.2f} s")


if __name__ == "__main__":
    main()
