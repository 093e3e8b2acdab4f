"""Whole syncs into Google: DigitalOcean simulator -> SyncEngine -> Sheets + Drive (the fake).

    PYTHONPATH=. python bench/bench_google.py [--months 120] [--items 400] [--batch-mb 2]

A 10-year DigitalOcean account (the simulator, in this process, rate-limit windows compressed)
is synced by the real engine into a SheetsLedger and a DriveStore that talk HTTP to the fake
Google of tests/fakes. For the first sync, a rerun with nothing new, and a changed month-to-date
preview we count what Google sees: Sheets reads and batchUpdate writes, the payload of each
body and how full it is, Drive calls by kind; then print them against the issue's targets:
ledger writes <= 1 read + ceil(payload / 2 MB) batch writes, 0 writes when nothing is new, and
Drive <= 1 create per new file, its folder look-ups cached per run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api import connections  # noqa: E402
from api.destinations import remember_login  # noqa: E402
from api.factory import Services, build  # noqa: E402
from api.google.credentials import SCOPES  # noqa: E402
from api.settings import HttpSettings, RateLimits, Settings  # noqa: E402
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator, DOSimConfig  # noqa: E402
from tests.fakes.fixtures import started_fake_google  # noqa: E402
from tests.fakes.google import Call, FakeGoogle  # noqa: E402

NAME = "bench"
SETUP_KINDS = {"addSheet", "createDeveloperMetadata", "setBasicFilter"}


@dataclass
class Figures:
    label: str
    wall: float
    sheets_reads: Counter[str]
    setup_writes: int
    data_bodies: list[int]  # bytes of each ledger batchUpdate body (tab setup excluded)
    run_rows: int  # batchUpdates that only append a Runs row
    drive: Counter[str]
    files_created: int  # non-folder files new in Drive
    folders_created: int
    status: str


def body_bytes(call: Call) -> int:
    return len(json.dumps(call.body, separators=(",", ":")))


def kinds(call: Call) -> set[str]:
    return {next(iter(request)) for request in (call.body or {}).get("requests", [])}


def drive_kind(call: Call) -> str:
    verb = call.method_id.rsplit(".", 1)[-1]
    if verb == "create":
        return "upload" if call.path.startswith("/upload/") else "create"
    return verb


def measure(label: str, fake: FakeGoogle, action: Callable[[], Any]) -> Figures:
    before = len(fake.calls)
    files = len(fake.drive.uploaded())  # type: ignore[attr-defined]
    folders = len(fake.drive.files) - files  # type: ignore[attr-defined]
    started = time.perf_counter()
    run = action()
    wall = time.perf_counter() - started
    calls = fake.calls[before:]
    sheets = [c for c in calls if c.method_id.startswith("sheets.")]
    writes = [c for c in sheets if c.method_id == "sheets.spreadsheets.batchUpdate"]
    setup = [c for c in writes if kinds(c) & SETUP_KINDS]
    run_rows = [c for c in writes if _only_a_runs_row(c)]
    data = [c for c in writes if c not in setup and c not in run_rows]
    files_now = len(fake.drive.uploaded())  # type: ignore[attr-defined]
    folders_now = len(fake.drive.files) - files_now  # type: ignore[attr-defined]
    return Figures(
        label=label,
        wall=wall,
        sheets_reads=Counter(
            c.method_id.split("spreadsheets.", 1)[-1] for c in sheets if c not in writes
        ),  # fmt: skip
        setup_writes=len(setup),
        data_bodies=[body_bytes(c) for c in data],
        run_rows=len(run_rows),
        drive=Counter(drive_kind(c) for c in calls if c.method_id.startswith("drive.")),
        files_created=files_now - files,
        folders_created=folders_now - folders,
        status=f"{run.status}: {run.message}",
    )


def _only_a_runs_row(call: Call) -> bool:
    requests = (call.body or {}).get("requests", [])
    return (
        len(requests) == 1
        and "appendCells" in requests[0]
        and (len(requests[0]["appendCells"]["rows"]) == 1 and body_bytes(call) < 4_000)
    )


def report(f: Figures, batch_bytes: int) -> None:
    payload = sum(f.data_bodies)
    ideal = math.ceil(payload / batch_bytes) if payload else 0
    reads = sum(f.sheets_reads.values())
    writes = len(f.data_bodies)
    fills = [b / batch_bytes for b in f.data_bodies[:-1]]  # the last body holds what is left
    print(f"{f.label}  ({f.wall:.1f} s; run {f.status})")
    print(f"  Sheets reads {reads} {dict(f.sheets_reads)}; tab setup writes {f.setup_writes}; "
          f"Runs-row writes {f.run_rows}")  # fmt: skip
    fill = (f"fill min {min(fills):.1%} median {sorted(fills)[len(fills) // 2]:.1%}"
            if fills else "one body or none")  # fmt: skip
    print(f"  ledger: {writes} batch writes, payload {payload / 1e6:.2f} MB, "
          f"ceil(payload / {batch_bytes / 1e6:g} MB) = {ideal}; {fill}; "
          f"largest body {max(f.data_bodies, default=0) / 1e6:.3f} MB")  # fmt: skip
    ledger_ok = writes <= ideal and (payload > 0 or writes == 0)
    print(
        f"  target 'ledger writes <= ceil(payload / 2 MB)': {'met' if ledger_ok else 'MISSED'}"
        f"; 'ledger reads <= 1': {'met' if reads <= 1 else f'{reads} (incl. tab lookup)'}"
    )
    uploads, creates = f.drive["upload"], f.drive["create"]
    print(f"  Drive {dict(f.drive)}; new files {f.files_created}, new folders "
          f"{f.folders_created}; creates per new file/folder "
          f"{(uploads + creates) / max(f.files_created + f.folders_created, 1):.2f} "
          f"(target <= 1)")  # fmt: skip


def build_services(settings: Settings, fake: FakeGoogle) -> Services:
    """A signed-in user whose connection writes to their own Sheet and Drive folder."""
    built = build(settings)
    grant = {"type": "authorized_user", "client_id": "cid", "client_secret": "cs",
             "refresh_token": "fake-refresh", "token_uri": settings.google_oauth_token_uri,
             "scopes": list(SCOPES)}  # fmt: skip
    ref = built.secrets.put("google-oauth", json.dumps(grant))
    remember_login(settings, ref)
    book = fake.sheets.create()  # type: ignore[attr-defined]
    root = fake.drive.add_folder("Bookkeeping")  # type: ignore[attr-defined]
    connections.connect(
        state=built.state, secrets=built.secrets, providers=built.provider,
        provider="digitalocean", name=NAME, token=DEMO_TOKEN,
        options={"sheet": book.id, "drive_folder": root, "google_credentials": "user",
                 "google_ref": ref},
    )  # fmt: skip
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--time-scale", type=float, default=0.001)
    parser.add_argument("--batch-mb", type=float, default=2.0, help="only for the arithmetic")
    args = parser.parse_args()
    # The fake token endpoint answers a narrower scope list; google-auth logs it on each refresh.
    logging.getLogger("google.oauth2.credentials").setLevel(logging.ERROR)
    config = DOSimConfig(months=args.months, items_per_invoice=args.items,
                         time_scale=args.time_scale, today=dt.date(2026, 11, 21))  # fmt: skip
    fake = started_fake_google()
    try:
        with DigitalOceanSimulator(config) as sim:
            home = Path(tempfile.mkdtemp(prefix="billsync-bench-google-"))
            settings = replace(
                Settings.for_home(home, http=HttpSettings(concurrency=8)),
                digitalocean_limits=RateLimits(time_scale=args.time_scale),
                digitalocean_api_url=sim.url, google_sheets_api_url=fake.url,
                google_drive_api_url=fake.url, google_oauth_token_uri=fake.url + "/token",
            )  # fmt: skip
            services = build_services(settings, fake)
            print(f"DigitalOcean {args.months} months x ~{args.items} lines -> engine -> "
                  "fake Sheets + Drive")  # fmt: skip
            batch = int(args.batch_mb * 1_000_000)
            report(measure("first sync", fake, lambda: services.engine.sync(NAME)), batch)
            report(measure("rerun, nothing new", fake, lambda: services.engine.sync(NAME)), batch)
            sim.touch_preview()
            report(measure("preview changed", fake, lambda: services.engine.sync(NAME)), batch)
            (book,) = fake.sheets.books.values()  # type: ignore[attr-defined]
            print(f"Line Items rows in the sheet: {len(book.tab_by_title('Line Items').records())}")
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
