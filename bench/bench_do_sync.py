"""Benchmark: a 10-year DigitalOcean account synced on embedded defaults. Prints figures.

    python bench/bench_do_sync.py [--months 120] [--items 400] [--latency 0.03]
                                  [--time-scale 0.0166667] [--concurrency 16] [--repeat 1]
                                  [--no-serial]

The simulator runs in its own process (its memory and CPU are not ours), with DigitalOcean's
limits (250/min, 5,000/hour) compressed by --time-scale, and renders every answer before it
starts serving (DigitalOcean's servers do not share our CPU). We print wall time per phase,
HTTP calls, peak RSS, and the lower bound implied by latency, concurrency and the rate limit
(see Bound); then a second sync that should find nothing new, and the same sync with one
request at a time (as doctl does). With --repeat, the medians.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api import connections  # noqa: E402
from api.factory import build, build_provider  # noqa: E402
from api.providers.digitalocean import PACING_MARGIN  # noqa: E402
from api.settings import HttpSettings, RateLimits, Settings  # noqa: E402
from api.simulators.digitalocean import DEMO_TOKEN  # noqa: E402


@contextlib.contextmanager
def simulator(args: argparse.Namespace) -> Iterator[str]:
    """The simulator in its own process, warmed (every page and document rendered) first."""
    with running_simulator([
        "--months", str(args.months), "--items", str(args.items),
        "--latency", str(args.latency), "--time-scale", str(args.time_scale),
    ]) as url:  # fmt: skip
        yield url


@contextlib.contextmanager
def running_simulator(options: list[str]) -> Iterator[str]:
    """`python -m api.simulators.digitalocean --port 0 --warm OPTIONS` in its own process;
    yields its URL (read from its startup line) and kills it after."""
    command = [sys.executable, "-m", "api.simulators.digitalocean", "--port", "0", "--warm"]
    process = subprocess.Popen(command + options, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("serving "):
            raise SystemExit(f"simulator did not start: {line!r}")
        yield line.split()[1]  # "serving URL  (token: …)"
    finally:
        process.kill()
        process.wait()


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
    phases: dict[str, float] = {}  # first time each phase was reported

    def on_progress(phase: str, done: int, total: int) -> None:
        phases.setdefault(phase, time.perf_counter())

    started = time.perf_counter()
    run = services.engine.sync("bench", on_progress=on_progress)
    wall = time.perf_counter() - started
    if run.status != "succeeded":
        raise SystemExit(f"sync failed: {run.message}")
    marks = [*phases.values(), started + wall]
    result = {
        "phases": {name: marks[i + 1] - marks[i] for i, name in enumerate(phases)},
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


@dataclass(frozen=True)
class Bound:
    """What no client can beat: DigitalOcean's sliding windows, and latency over the workers.

    The listing is call 1 and goes out at t = 0. Each window lets `limit` calls through per
    window length, counted from when each call arrived, so call k (0-based) cannot be sent
    before floor(k / limit) windows have passed; the last one then still takes `latency` to
    come back. Independently, `calls × latency` of waiting spread over `concurrency` workers
    cannot finish before the listing's own answer plus (calls - 1) × latency / concurrency.
    The bound is the larger; `paced` is the rate floor with our client's pacing margin.
    """

    calls: int
    latency: float
    concurrency: int
    limits: RateLimits

    def windows(self, margin: float = 0.0) -> float:
        limits = self.limits
        spans = [(limits.per_minute, limits.minute), (limits.per_hour, limits.hour)]
        return max(
            math.floor((self.calls - 1) / limit) * span * (1 + margin) for limit, span in spans
        )

    @property
    def by_rate(self) -> float:
        return self.windows() + self.latency

    @property
    def by_latency(self) -> float:
        return self.latency + (self.calls - 1) * self.latency / self.concurrency

    @property
    def seconds(self) -> float:
        return max(self.by_rate, self.by_latency)

    @property
    def paced(self) -> float:
        return self.windows(PACING_MARGIN) + self.latency

    def describe(self) -> str:
        limits = self.limits
        return (
            f"lower bound {self.seconds:.2f} s = max(rate limit {self.by_rate:.2f} s "
            f"[{self.calls} calls, {limits.per_minute} per {limits.minute:.2f} s window], "
            f"latency {self.by_latency:.2f} s [{self.calls} × {self.latency * 1000:.0f} ms "
            f"/ {self.concurrency} workers]);\n  with our pacing margin the rate floor is "
            f"{self.paced:.2f} s"
        )


def report_fast(runs: list[dict[str, Any]], args: argparse.Namespace, limits: RateLimits) -> None:
    for n, run in enumerate(runs, start=1):
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in run["phases"].items())
        print(f"  run {n}: {run['wall']:.2f} s ({phases}), {run['calls']} calls")
    first = runs[0]
    wall = statistics.median(r["wall"] for r in runs)
    fetch = statistics.median(r["phases"]["listing"] + r["phases"]["fetching"] for r in runs)
    writing = statistics.median(r["phases"]["writing"] for r in runs)
    bound = Bound(first["calls"], args.latency, args.concurrency, limits)
    print(
        f"full sync, concurrency {args.concurrency}, median of {len(runs)}: {wall:.2f} s = "
        f"fetch (listing + fetching) {fetch:.2f} s + writing {writing:.2f} s; "
        f"{first['calls']} HTTP calls, {first['invoices']} invoices, {first['lines']} line items, "
        f"peak RSS {max(r['rss_mb'] for r in runs):.0f} MB"
    )
    print(f"  {bound.describe()}")
    print(
        f"  fetch phase {fetch / bound.seconds:.2f} × the bound; full sync "
        f"{wall / bound.seconds:.2f} × the bound (target ≤ 1.3)"
    )
    print(
        f"second sync: {first['again_wall']:.2f} s, {first['again_calls']} HTTP calls "
        f"(target ≤ 2): {first['again_message']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--time-scale", type=float, default=1 / 60)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1, help="full syncs (fresh simulator each)")
    parser.add_argument("--no-serial", action="store_true")
    args = parser.parse_args()
    limits = RateLimits(time_scale=args.time_scale)
    print(
        f"account: {args.months} invoices × ~{args.items} items, "
        f"latency {args.latency * 1000:.0f} ms, "
        f"limits 250/min + 5000/h compressed ×{1 / args.time_scale:.0f} "
        f"(a minute lasts {limits.minute:.2f} s); load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    runs = []
    for n in range(args.repeat):  # a fresh simulator each time: fresh rate-limit windows
        with simulator(args) as url:
            runs.append(run_sync(url, args, args.concurrency, twice=n == 0))
    report_fast(runs, args, limits)
    if not args.no_serial:
        with simulator(args) as url:
            serial = run_sync(url, args, 1, twice=False)
        serial_bound = Bound(serial["calls"], args.latency, 1, limits)
        print(
            f"serial client (one request at a time, like doctl): {serial['wall']:.2f} s "
            f"(fetch {serial['phases']['listing'] + serial['phases']['fetching']:.2f} s), "
            f"{serial['calls']} calls (its own bound {serial_bound.seconds:.2f} s); "
            f"speed-up {serial['wall'] / statistics.median(r['wall'] for r in runs):.1f}×"
        )


if __name__ == "__main__":
    main()
