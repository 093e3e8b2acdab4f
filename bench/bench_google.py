"""Sheets calls for the 10-year account (120 invoices x 400 lines): first sync, rerun, one update.

Run: PYTHONPATH=. /work/venv/bin/python bench/bench_google.py
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal

from google.oauth2.credentials import Credentials

from api.adapters.sheets import SheetsLedger
from api.core.model import Invoice, LedgerBatch, LineItem
from tests.fakes.fixtures import started_fake_google
from tests.fakes.google import FakeGoogle

INVOICES, LINES = 120, 400
SYNCED = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


def account(status_of_last: str = "Paid") -> LedgerBatch:
    invoices, lines = [], []
    for n in range(INVOICES):
        year, month = 2016 + n // 12, n % 12 + 1
        period, key = f"{year}-{month:02d}", f"doit:acme:{n}"
        status = status_of_last if n == INVOICES - 1 else "Paid"
        invoices.append(Invoice("doit", "acme", str(n), key, period, status, "USD",
                                Decimal("1234.56"), invoice_date=dt.date(year, month, 1),
                                line_count=LINES, synced_at=SYNCED,
                                pdf=f"https://drive.google.com/file/d/{n}/view"))  # fmt: skip
        lines.extend(
            LineItem(
                "doit",
                "acme",
                str(n),
                key,
                period,
                i + 1,
                "Compute Engine",
                "Compute",
                f"N2 instance core running in Americas {i}",
                Decimal("3.0864"),
                "USD",
                project=f"project-{i % 7}",
                quantity=Decimal("12.5"),
                unit_price=Decimal("0.031611"),
                start=dt.datetime(year, month, 1, tzinfo=dt.UTC),
            )  # fmt: skip
            for i in range(LINES)
        )
    return LedgerBatch(tuple(invoices), tuple(lines))


def measure(fake: FakeGoogle, label: str, action: object) -> None:
    before = len(fake.calls)
    started = time.perf_counter()
    action()  # type: ignore[operator]
    calls = [c for c in fake.calls[before:] if c.method_id != "oauth2.token"]
    writes = [c for c in calls if c.is_write]
    sizes = [len(json.dumps(c.body, separators=(",", ":"))) for c in writes]
    print(f"{label:<28} reads {len(calls) - len(writes):>2}  writes {len(writes):>2}  "
          f"payload/batch {[f'{s / 1e6:.2f} MB' for s in sizes]}  "
          f"({time.perf_counter() - started:.1f} s)")  # fmt: skip


def main() -> None:
    fake = started_fake_google()
    try:
        fake.sheets.create("bench")  # type: ignore[attr-defined]
        token_uri = fake.url + "/token"
        creds = Credentials(
            "fake-access", "fake-refresh", token_uri=token_uri, client_id="cid", client_secret="cs"
        )
        sink = SheetsLedger("bench", creds, api_url=fake.url)
        print(f"Sheets, {INVOICES} invoices x {LINES} lines:")
        measure(fake, "first sync (incl. tab setup)", lambda: sink.write(account()))
        measure(fake, "rerun, nothing new", lambda: sink.write(account()))
        measure(fake, "one invoice updated", lambda: sink.write(account("Refunded")))
        rows = len(fake.sheets.tab("bench", "Line Items").records())  # type: ignore[attr-defined]
        print(f"Line Items rows: {rows}")
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
