"""Benchmark: the workbook ledger of a 10-year DigitalOcean account. Prints figures.

    python bench/bench_workbook.py [--months 120] [--items 400] [--repeat 3]

Data comes from the DigitalOcean simulator's book, mapped by the real provider mapping (what a
sync writes). Each repetition starts from no file and times: the first write of every invoice,
a rewrite that replaces one invoice's lines in the middle of the ledger (its status and line
count change), append_run, rows() of Line Items and Invoices, invoice_keys() (read at the start
of every sync), and the write of an oldest invoice that arrives last (placed first, issue 9).
Medians over the repetitions; peak RSS
is the whole process (data included), after the writes and after the reads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.core.model import FetchedInvoice, LedgerBatch, RunCounts, RunRecord  # noqa: E402
from api.ledger.workbook.ledger import WorkbookLedger  # noqa: E402
from api.providers.digitalocean_mapping import fetched_invoice, final_ref  # noqa: E402
from api.simulators.do_book import DOBook  # noqa: E402

SYNCED = dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.UTC)


def account_invoices(months: int, items: int) -> list[FetchedInvoice]:
    book = DOBook(seed=7, months=months, items_per_invoice=items, today=SYNCED.date(),
                  preview=False, team=True)  # fmt: skip
    found = []
    for record in reversed(book.finals):  # oldest first, as a first sync writes them
        raw = [line.item() for line in book.lines(record)]
        got = fetched_invoice(final_ref(book.entry(record)), book.account.team_name,
                              book.summary(record), raw)  # fmt: skip
        folder = f"file:///home/me/billsync/archive/DigitalOcean/{record.period[:4]}"
        name = f"{record.period} {record.invoice_id}"
        invoice = replace(got.invoice, pdf=f"{folder}/{name}.pdf", csv=f"{folder}/{name}.csv",
                          synced_at=SYNCED)  # fmt: skip
        found.append(replace(got, invoice=invoice))
    return found


def as_batch(fetched: list[FetchedInvoice]) -> LedgerBatch:
    return LedgerBatch(
        invoices=tuple(f.invoice for f in fetched),
        lines=tuple(line for f in fetched for line in f.lines),
    )


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def one_round(
    fetched: list[FetchedInvoice], changed: LedgerBatch, folder: Path
) -> dict[str, float]:
    sink = WorkbookLedger(folder / "ledger.xlsx")
    record = RunRecord(id="run-1", connection="bench", trigger="cli", status="succeeded",
                       started=SYNCED, finished=SYNCED + dt.timedelta(seconds=30),
                       counts=RunCounts(new=len(fetched)), message="bench")  # fmt: skip
    figures = {
        "first write": timed(lambda: sink.write(as_batch(fetched))),
        "rewrite one invoice": timed(lambda: sink.write(changed)),
        "append_run": timed(lambda: sink.append_run(record)),
    }
    figures["peak RSS MB, writes"] = rss_mb()
    figures["rows(Line Items)"] = timed(lambda: sink.rows("Line Items"))
    figures["rows(Invoices)"] = timed(lambda: sink.rows("Invoices"))
    figures["invoice_keys (every sync)"] = timed(sink.invoice_keys)
    late = WorkbookLedger(folder / "late.xlsx")
    late.write(as_batch(fetched[1:]))  # the oldest invoice was held back...
    figures["late oldest placed first"] = timed(lambda: late.write(as_batch(fetched[:1])))
    figures["peak RSS MB, reads"] = rss_mb()
    figures["file MB"] = sink.path.stat().st_size / 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    fetched = account_invoices(args.months, args.items)
    middle = fetched[len(fetched) // 2]
    more = (*middle.lines, replace(middle.lines[-1], position=len(middle.lines) + 1))
    changed = LedgerBatch(
        invoices=(replace(middle.invoice, status="Refunded", line_count=len(more)),), lines=more
    )
    data_rss = rss_mb()
    count = sum(len(f.lines) for f in fetched)
    print(f"ledger: {len(fetched)} invoices, {count} line items; data alone {data_rss:.0f} MB RSS")

    rounds = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="billsync-bench-") as folder:
            rounds.append(one_round(fetched, changed, Path(folder)))
    for name in rounds[0]:
        if "RSS" in name:  # a peak: what the first round reached (later ones start there)
            print(f"  {name:<26} {rounds[0][name]:.0f} MB (the data alone: {data_rss:.0f} MB)")
            continue
        values = [r[name] for r in rounds]
        unit = "" if "MB" in name else " s"
        spread = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:<26} median {statistics.median(values):6.2f}{unit}   ({spread})")


if __name__ == "__main__":
    main()
