"""Benchmark: a 10-year DigitalOcean account synced on embedded defaults. Prints figures.

    python bench/bench_do_sync.py [--months 120] [--items 400] [--latency 0.03]
                                  [--time-scale 0.0166667] [--concurrency 16] [--no-serial]

The simulator runs in its own process (its memory is not ours), with DigitalOcean's limits
(250/min, 5,000/hour) compressed by --time-scale. We print wall time, HTTP calls, peak RSS,
and the lower bound implied by latency, concurrency and the rate limit; then the same sync with
one request at a time (as doctl does), and a second sync that should find nothing new.
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api import connections  # noqa: E402
from api.factory import build, build_provider  # noqa: E402
from api.settings import HttpSettings, RateLimits, Settings  # noqa: E402
from api.simulators.digitalocean import DEMO_TOKEN  # noqa: E402


def start_simulator(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "api.simulators.digitalocean", "--port", "0",
        "--months", str(args.months), "--items", str(args.items),
        "--latency", str(args.latency), "--time-scale", str(args.time_scale),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("serving "):
        process.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return process, line.split(" ", 1)[1]


def run_sync(
    url: str, args: argparse.Namespace, concurrency: int, *, twice: bool
) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="billsync-bench-"))
    settings = replace(
        Settings.for_home(home),
        digitalocean_api_url=url,
        http=HttpSettings(concurrency=concurrency),
        digitalocean_limits=RateLimits(time_scale=args.time_scale),
    )
    services = build(settings)
    providers: list[Any] = []

    def counting_provider(connection: Any, token: str) -> Any:
        provider = build_provider(settings, connection, token)
        providers.append(provider)
        return provider

    services.engine.providers = counting_provider
    connections.connect(
        state=services.state, secrets=services.secrets, providers=counting_provider,
        provider="digitalocean", name="bench", token=DEMO_TOKEN,
    )  # fmt: skip
    providers.clear()
    started = time.perf_counter()
    run = services.engine.sync("bench")
    wall = time.perf_counter() - started
    if run.status != "succeeded":
        raise SystemExit(f"sync failed: {run.message}")
    result = {
        "wall": wall,
        "calls": providers[0].calls,
        "lines": run.counts.line_items,
        "invoices": run.counts.new,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if twice:
        providers.clear()
        started = time.perf_counter()
        again = services.engine.sync("bench")
        result["again_wall"] = time.perf_counter() - started
        result["again_calls"] = providers[0].calls
        result["again_message"] = again.message
    return result


def lower_bound(calls: int, latency: float, concurrency: int, limits: RateLimits) -> float:
    """Latency spread over the workers, or the rate limit's sliding window, whichever is longer.

    The listing must come back before anything else can start, hence the extra `latency`.
    """
    by_latency = calls * latency / concurrency
    by_rate = math.floor((calls - 1) / limits.per_minute) * limits.minute
    return latency + max(by_latency, by_rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--time-scale", type=float, default=1 / 60)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-serial", action="store_true")
    args = parser.parse_args()
    limits = RateLimits(time_scale=args.time_scale)

    process, url = start_simulator(args)
    try:
        print(
            f"account: {args.months} invoices × ~{args.items} items, "
            f"latency {args.latency * 1000:.0f} ms, "
            f"limits 250/min + 5000/h compressed ×{1 / args.time_scale:.0f} "
            f"(a minute lasts {limits.minute:.2f} s)"
        )
        fast = run_sync(url, args, args.concurrency, twice=True)
        bound = lower_bound(fast["calls"], args.latency, args.concurrency, limits)
        print(
            f"full sync, concurrency {args.concurrency}: {fast['wall']:.2f} s, "
            f"{fast['calls']} HTTP calls, {fast['invoices']} invoices, {fast['lines']} line items, "
            f"peak RSS {fast['rss_mb']:.0f} MB"
        )
        print(
            f"  lower bound {bound:.2f} s -> {fast['wall'] / bound:.2f} × the bound (target ≤ 1.3)"
        )
        print(
            f"second sync: {fast['again_wall']:.2f} s, {fast['again_calls']} HTTP calls "
            f"(target ≤ 2): {fast['again_message']}"
        )
        if not args.no_serial:
            process.kill()
            process.wait()
            process, url = start_simulator(args)  # fresh rate-limit windows
            serial = run_sync(url, args, 1, twice=False)
            serial_bound = lower_bound(serial["calls"], args.latency, 1, limits)
            print(
                f"serial client (one request at a time, like doctl): {serial['wall']:.2f} s, "
                f"{serial['calls']} calls (its own bound {serial_bound:.2f} s); "
                f"speed-up {serial['wall'] / fast['wall']:.1f}×"
            )
    finally:
        process.kill()
        process.wait()


if __name__ == "__main__":
    main()
