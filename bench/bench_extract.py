"""Field accuracy and speed of the local extractor, against ground truth and Document AI.

    PYTHONPATH=. python bench/bench_extract.py [--per-layout 20] [--seed 7]

1. Generated invoices (tests/fakes/invoice_pdfs, random numbers, dates and lines, in the
   layouts ruled / eu / multipage / credit / unlabelled / scan): each field the local extractor
   returns is compared with the ground truth. "right" = equal; "empty" = left empty (and
   flagged in Review); "wrong" = a value that is not the truth (the number that must stay 0).
2. The reference PDFs of ../shared/reference/documentai: the local extractor against the real
   Invoice Parser answers (replayed by the fake endpoint through google-cloud-documentai).
3. Pages per second of the local extractor (one process, this machine), and of the Document
   AI adapter against the loopback fake (client + JSON parsing cost only, not the service).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.auth.credentials import AnonymousCredentials  # noqa: E402

from api.core.document import PdfInvoice, read_invoice  # noqa: E402
from api.extract.documentai import DocumentAiExtractor  # noqa: E402
from api.extract.local import LocalExtractor  # noqa: E402
from tests.fakes import documentai as fake_docai  # noqa: E402
from tests.fakes import invoice_pdfs  # noqa: E402

FIELDS = ("invoice_id", "invoice_date", "due_date", "supplier", "currency", "net", "tax",
          "total", "lines")  # fmt: skip


def truth_fields(truth: invoice_pdfs.Truth) -> dict[str, Any]:
    return {
        "invoice_id": truth.invoice_id, "invoice_date": truth.invoice_date,
        "due_date": truth.due_date, "supplier": truth.supplier, "currency": truth.currency,
        "net": truth.signed(truth.net), "tax": truth.signed(truth.tax),
        "total": truth.signed(truth.total),
        "lines": [truth.signed(a) for a in truth.amounts()],
    }  # fmt: skip


def found_fields(invoice: PdfInvoice) -> dict[str, Any]:
    return {
        "invoice_id": invoice.invoice_id or None, "invoice_date": invoice.invoice_date,
        "due_date": invoice.due_date, "supplier": invoice.supplier or None,
        "currency": invoice.currency or None, "net": invoice.net, "tax": invoice.tax,
        "total": invoice.total, "lines": [line.amount for line in invoice.lines] or None,
    }  # fmt: skip


def score(found: dict[str, Any], expected: dict[str, Any], tally: Counter[tuple[str, str]]) -> None:
    for name in FIELDS:
        value = found[name]
        outcome = "empty" if value is None else "right" if value == expected[name] else "wrong"
        tally[(name, outcome)] += 1


def print_tally(title: str, tally: Counter[tuple[str, str]]) -> None:
    print(f"\n{title}")
    print(f"  {'field':<14}{'right':>7}{'empty':>7}{'wrong':>7}")
    for name in FIELDS:
        row = [tally[(name, outcome)] for outcome in ("right", "empty", "wrong")]
        print(f"  {name:<14}{row[0]:>7}{row[1]:>7}{row[2]:>7}")


def generated(per_layout: int, seed: int, folder: Path) -> tuple[int, float]:
    rng = random.Random(seed)
    extractor = LocalExtractor()
    pages = 0
    seconds = 0.0
    overall: Counter[tuple[str, str]] = Counter()
    for layout in invoice_pdfs.LAYOUTS:
        tally: Counter[tuple[str, str]] = Counter()
        for n in range(per_layout):
            truth = invoice_pdfs.random_truth(layout, rng)
            path = folder / f"{layout}-{n}.pdf"
            path.write_bytes(invoice_pdfs.render(layout, truth))
            started = time.perf_counter()
            document = extractor.extract(path)
            invoice = read_invoice(document)
            seconds += time.perf_counter() - started
            pages += document.pages
            score(found_fields(invoice), truth_fields(truth), tally)
        overall.update(tally)
        print_tally(f"Generated, layout '{layout}' ({per_layout} invoices):", tally)
    print_tally(f"Generated, all layouts ({per_layout * len(invoice_pdfs.LAYOUTS)}):", overall)
    return pages, seconds


def reference() -> None:
    if not fake_docai.have_reference():
        print("\n(../shared/reference is not beside this checkout: reference comparison skipped)")
        return
    print("\nReference PDFs: local extractor vs Document AI's recorded answers")
    print(f"  {'file':<30}{'field':<14}{'Document AI':<26}{'local':<20}")
    with fake_docai.FakeDocumentAi() as fake:
        remote = DocumentAiExtractor(fake_docai.PROCESSOR, api_url=fake.url,
                                     credentials=AnonymousCredentials())  # fmt: skip
        for name in ("google_invoice.pdf", "energy_invoice_stained.pdf"):
            path = fake_docai.reference_path(name)
            cloud = found_fields(read_invoice(remote.extract(path)))
            local = found_fields(read_invoice(LocalExtractor().extract(path)))
            for field in FIELDS:
                shown = [_short(cloud[field]), _short(local[field])]
                print(f"  {name:<30}{field:<14}{shown[0]:<26}{shown[1]:<20}")
        started = time.perf_counter()
        runs = 20
        for _ in range(runs):
            remote.extract(fake_docai.reference_path("google_invoice.pdf"))
        elapsed = time.perf_counter() - started
        print(f"\nDocument AI adapter vs the loopback fake: {runs / elapsed:.1f} pages/s "
              "(client and parsing only; the service's own latency is not in it)")  # fmt: skip


def _short(value: Any) -> str:
    if isinstance(value, list):
        return f"{len(value)} lines"
    return "-" if value is None else str(value)[:24]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-layout", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pages, seconds = generated(args.per_layout, args.seed, Path(tmp))
    print(f"\nLocal extractor: {pages} pages in {seconds:.2f} s = {pages / seconds:.1f} pages/s "
          "(read + map, one thread)")  # fmt: skip
    reference()


if __name__ == "__main__":
    main()
