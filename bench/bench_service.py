"""Benchmark: the service under gunicorn on loopback; 50 clients poll run status while 5 syncs
run against the DigitalOcean simulator. Prints p50/p99/max latency and errors. Not a test.

    python bench/bench_service.py [--pollers 50] [--interval 1.0] [--syncs 5] [--months 12]
                                  [--items 40] [--latency 0.03] [--database-url postgresql://...]

gunicorn runs the repository's gunicorn.conf.py (one process, gthread) with local auth and the
in-process queue (BILLSYNC_WORKERS = --syncs), on SQLite by default or --database-url. The
simulator runs in its own process. "Sync now" is timed on its first call per connection (a new
queued run) and on repeated calls while the run is active (202 with that run); status is
GET /v1/runs/{id}, each poller cycling over the runs every --interval seconds (the sidebar's
POLL_MS is 1 s; --interval 0 polls back to back and measures saturation, not latency). The
machine's load average is printed: on a shared machine it dominates the tail.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.simulators.digitalocean import DEMO_TOKEN  # noqa: E402
from bench.bench_do_sync import running_simulator  # noqa: E402

KEY = "bench-local-key-" + "0" * 24


@contextlib.contextmanager
def simulator(args: argparse.Namespace) -> Iterator[str]:
    with running_simulator([
        "--months", str(args.months), "--items", str(args.items), "--latency", str(args.latency),
    ]) as url:  # fmt: skip
        yield url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def service(args: argparse.Namespace, sim_url: str, home: Path) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "BILLSYNC_HOME": str(home),
        "BILLSYNC_AUTH": "local",
        "BILLSYNC_LOCAL_KEY": KEY,
        "DIGITALOCEAN_API_URL": sim_url,
        "BILLSYNC_WORKERS": str(args.syncs),
        "GUNICORN_THREADS": str(args.threads),
        "GUNICORN_LOG_LEVEL": "warning",
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


class Samples:
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def add(self, started: float, response: httpx.Response | None, ok: set[int]) -> None:
        elapsed = time.perf_counter() - started
        with self._lock:
            self.seconds.append(elapsed)
            if response is None or response.status_code not in ok:
                code = "no answer" if response is None else str(response.status_code)
                self.errors.append(code)

    def line(self, name: str) -> str:
        ms = sorted(s * 1000 for s in self.seconds)
        if not ms:
            return f"{name:<10} no samples"
        p50 = statistics.median(ms)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        return (
            f"{name:<24} n={len(ms):>6}  p50={p50:6.1f} ms  p99={p99:6.1f} ms  "
            f"max={ms[-1]:6.1f} ms  errors={len(self.errors)}"
        )


def _call(client: httpx.Client, samples: Samples, ok: set[int], method: str, url: str,
          **kw: object) -> httpx.Response | None:  # fmt: skip
    started = time.perf_counter()
    try:
        response = client.request(method, url, **kw)  # type: ignore[arg-type]
    except httpx.HTTPError:
        response = None
    samples.add(started, response, ok)
    return response


def run(args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator(args) as sim_url,
        service(args, sim_url, Path(tmp)) as base,
        httpx.Client(base_url=base, headers=headers, timeout=30) as client,
    ):
        ids = []
        for n in range(args.syncs):
            body = {"provider": "digitalocean", "name": f"team {n}", "token": DEMO_TOKEN}
            made = client.post("/v1/spreadsheets/local/connections", json=body)
            made.raise_for_status()
            ids.append(made.json()["connection"]["id"])

        sync_now, status = Samples(), Samples()
        started = time.perf_counter()
        run_ids = []
        for connection_id in ids:
            answer = _call(client, sync_now, {202}, "POST", f"/v1/connections/{connection_id}/sync")
            assert answer is not None, "Sync now did not answer"
            run_ids.append(answer.json()["run"]["id"])
        done = threading.Event()

        def poll(offset: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as own:
                i = offset
                while not done.is_set():
                    _call(own, status, {200}, "GET", f"/v1/runs/{run_ids[i % len(run_ids)]}")
                    i += 1
                    done.wait(args.interval)

        def press_again() -> None:  # a user clicking Sync now while the run is active
            with httpx.Client(base_url=base, headers=headers, timeout=30) as own:
                while not done.is_set():
                    for connection_id in ids:
                        _call(own, sync_now, {202}, "POST", f"/v1/connections/{connection_id}/sync")
                    time.sleep(0.2)

        load_before = os.getloadavg()[0]
        threads = [threading.Thread(target=poll, args=(i,)) for i in range(args.pollers)]
        threads.append(threading.Thread(target=press_again))
        for thread in threads:
            thread.start()
        finals = {}
        while len(finals) < len(run_ids):
            for run_id in run_ids:
                got = client.get(f"/v1/runs/{run_id}").json()["run"]
                if got["status"] not in ("queued", "running"):
                    finals[run_id] = got
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        done.set()
        for thread in threads:
            thread.join()
        # The same pollers for --idle seconds with no sync running: what the syncs cost them.
        idle, status = status, Samples()
        done.clear()
        threads = [threading.Thread(target=poll, args=(i,)) for i in range(args.pollers)]
        for thread in threads:
            thread.start()
        time.sleep(args.idle)
        done.set()
        for thread in threads:
            thread.join()
        idle, status = status, idle

    outcomes = sorted({r["status"] for r in finals.values()})
    print(f"service on gunicorn (gthread, {args.threads} threads), "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}; {args.syncs} syncs of "
          f"{args.months} months x ~{args.items} items at {args.latency * 1000:.0f} ms latency; "
          f"{args.pollers} status pollers every {args.interval:g} s")  # fmt: skip
    print(
        f"load average (1 min) {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"all syncs ended in {elapsed:.1f} s: {outcomes}; "
        f"new invoices per run: {[r['counts']['new'] for r in finals.values()]}"
    )
    print(status.line("status"))
    print(sync_now.line("sync now"))
    print(idle.line("status, no sync running"))
    if status.errors or sync_now.errors:
        print("errors:", sorted(set(status.errors + sync_now.errors)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--syncs", type=int, default=5)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--database-url", default=None)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
