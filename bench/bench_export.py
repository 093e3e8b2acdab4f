"""Benchmark: what `POST /v1/connections/{id}/exports` costs, to decide whether it may answer
synchronously. Prints figures.

    PYTHONPATH=. python bench/bench_export.py [--months 24] [--repeat 3]

For a demo account (~40 lines a month) and one of 400 lines a month, the DigitalOcean
simulator is synced by the real engine into a Google Sheet and Drive folder (the fake Google of
tests/fakes over loopback) and into the embedded workbook and folder; then the last month is
exported as the endpoint does it (the connection's destination, api.exports.export_month).
Printed: the median wall time, and the Google calls one export makes (each a round trip to
Google in production, where the fake answers in well under a millisecond).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_google import NAME, build_services  # noqa: E402

from api import connections  # noqa: E402
from api.exports import export_month  # noqa: E402
from api.factory import Services, build  # noqa: E402
from api.settings import HttpSettings, RateLimits, Settings  # noqa: E402
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator, DOSimConfig  # noqa: E402
from tests.fakes.fixtures import started_fake_google  # noqa: E402
from tests.fakes.google import FakeGoogle  # noqa: E402

TODAY = dt.date(2026, 11, 21)


def export_once(services: Services, period: str) -> tuple[float, int, int]:
    """Seconds, bills and CSV lines of one Xero export of `period`, as the endpoint runs it."""
    connection = services.state.get_connection(NAME)
    destination = services.engine.destinations(connection)
    started = time.perf_counter()
    made = export_month(destination.sink, destination.files, "xero", period,
                        connection=connection, workdir=services.settings.home / "tmp")  # fmt: skip
    return time.perf_counter() - started, made.bills, sum(f.lines for f in made.files)


def scenario(label: str, config: DOSimConfig, repeat: int, fake: FakeGoogle) -> None:
    period = f"{TODAY.year}-{TODAY.month - 1:02d}"  # the last final invoice
    with DigitalOceanSimulator(config) as sim:
        for where in ("google", "workbook"):
            home = Path(tempfile.mkdtemp(prefix=f"billsync-bench-export-{where}-"))
            settings = replace(
                Settings.for_home(home, http=HttpSettings(concurrency=8)),
                digitalocean_limits=RateLimits(time_scale=config.time_scale),
                digitalocean_api_url=sim.url, google_sheets_api_url=fake.url,
                google_drive_api_url=fake.url, google_oauth_token_uri=fake.url + "/token",
            )  # fmt: skip
            services = build_services(settings, fake) if where == "google" else build(settings)
            if where == "workbook":
                connections.connect(
                    state=services.state, secrets=services.secrets,
                    providers=services.provider, provider="digitalocean", name=NAME,
                    token=DEMO_TOKEN, options={},
                )  # fmt: skip
            services.engine.sync(NAME)
            lines = len(services.engine.destinations(
                services.state.get_connection(NAME)).sink.rows("Line Items"))  # fmt: skip
            before = len(fake.calls)
            seconds, bills, rows = export_once(services, period)
            calls = Counter(c.method_id for c in fake.calls[before:])  # the first: it uploads
            times = [seconds] + [export_once(services, period)[0] for _ in range(repeat - 1)]
            print(f"{label}, {where}: ledger of {lines} lines; export of {period}: {bills} "
                  f"bills, {rows} CSV lines, median {statistics.median(times):.2f} s "
                  f"(min {min(times):.2f}, max {max(times):.2f})")  # fmt: skip
            if where == "google":
                print(f"  Google calls of the first export: {sum(calls.values())} "
                      f"{dict(sorted(calls.items()))}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("google.oauth2.credentials").setLevel(logging.ERROR)
    fake = started_fake_google()
    try:
        for label, items in (("demo account (~40 lines a month)", 40),
                             ("400 lines a month", 400)):  # fmt: skip
            config = DOSimConfig(months=args.months, items_per_invoice=items,
                                 time_scale=0.001, today=TODAY)  # fmt: skip
            scenario(label, config, args.repeat, fake)
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
