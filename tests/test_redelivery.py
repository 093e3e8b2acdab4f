"""A Cloud Tasks delivery cut by the death of its instance, delivered again to a new instance:
one run, and the same ledger as one clean run. Real gunicorn processes (gunicorn.conf.py), the
DigitalOcean simulator, the Cloud Tasks fake delivering over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.connections import connect
from api.factory import Services, build
from api.jobs.cloud_tasks import CloudTasksQueue
from api.settings import Settings
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator, DOSimConfig
from tests.conftest import TEST_HTTP, TODAY
from tests.fakes.cloud_tasks import FakeCloudTasks

ROOT = Path(__file__).resolve().parents[1]
QUEUE = "projects/proj/locations/europe-west1/queues/billsync-runs"
KEY = "test-local-key-0123456789abcdef"  # local auth: the key stands for the task OIDC token
VOLATILE = {"Synced At", "PDF", "CSV"}  # when and where it was written, not what


@pytest.fixture
def slow_sim() -> Iterator[DigitalOceanSimulator]:
    # Slow enough that the first instance is surely mid-fetch when it is killed (48 fetch calls
    # at 0.15 s over the instance's 2 workers take ~3.6 s; the kill comes after 3 invoices).
    config = DOSimConfig(months=12, items_per_invoice=12, today=TODAY, latency=0.15)
    with DigitalOceanSimulator(config) as simulator:
        yield simulator


@pytest.fixture
def tasks() -> Iterator[FakeCloudTasks]:
    fake = FakeCloudTasks()
    fake.add_queue(QUEUE)
    fake.start()
    yield fake
    fake.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _instance(home: Path, sim_url: str, tasks_url: str, port: int) -> subprocess.Popen[bytes]:
    """One Cloud Run instance: gunicorn with the repository's config, Cloud Tasks mode."""
    env = {
        **os.environ,
        "PORT": str(port),
        "BILLSYNC_HOME": str(home),
        "BILLSYNC_AUTH": "local",
        "BILLSYNC_LOCAL_KEY": KEY,
        "BILLSYNC_CONCURRENCY": "2",
        "DIGITALOCEAN_API_URL": sim_url,
        "BILLSYNC_TASKS_QUEUE": QUEUE,
        "CLOUD_TASKS_ENDPOINT": tasks_url,
        "BILLSYNC_SERVICE_URL": f"http://127.0.0.1:{port}",
        "BILLSYNC_TASKS_INVOKER": "tasks@proj.iam.gserviceaccount.com",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("gunicorn did not start")


def _ledger(services: Services) -> dict[str, list[dict[str, Any]]]:
    return {
        tab: [
            {k: v for k, v in row.items() if k not in VOLATILE} for row in services.sink.rows(tab)
        ]
        for tab in ("Invoices", "Line Items")
    }


def _connected(settings: Settings) -> tuple[Services, str]:
    services = build(settings)
    connection = connect(
        state=services.state, secrets=services.secrets, providers=services.provider,
        provider="digitalocean", name="acme", token=DEMO_TOKEN,
    )  # fmt: skip
    return services, connection.id


def test_a_redelivery_after_instance_death_makes_one_run_and_the_clean_ledger(
    tmp_path: Path, slow_sim: DigitalOceanSimulator, tasks: FakeCloudTasks
) -> None:
    settings = Settings.for_home(tmp_path / "home", http=TEST_HTTP)
    services, connection_id = _connected(replace(settings, digitalocean_api_url=slow_sim.url))
    port = _free_port()
    queue = CloudTasksQueue(
        queue=QUEUE, service_url=f"http://127.0.0.1:{port}",
        service_account="tasks@proj.iam.gserviceaccount.com", endpoint=tasks.server.url,
    )  # fmt: skip
    run, _ = services.state.enqueue_run(connection_id, "sidebar")
    queue.enqueue(run.id)
    (task,) = tasks.tasks(QUEUE)

    first = _instance(settings.home, slow_sim.url, tasks.server.url, port)
    answers: list[int | None] = []
    delivery = threading.Thread(target=lambda: answers.append(tasks.deliver(task, KEY)))
    delivery.start()
    deadline = time.monotonic() + 60
    while services.state.get_run(run.id).done < 3:  # mid-sync: some invoices fetched
        assert time.monotonic() < deadline, "the first delivery never got going"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # the instance dies mid-request
    first.wait()
    delivery.join(timeout=30)
    assert answers == [None]  # Cloud Tasks saw no answer: it keeps the task
    assert services.state.get_run(run.id).status == "running"

    second = _instance(settings.home, slow_sim.url, tasks.server.url, port)
    try:
        # Cloud Tasks retries a delivery that got no 2xx answer; a few tries, as it would.
        status = tasks.deliver(task, KEY)
        for _ in range(5):
            if status == 200:
                break
            time.sleep(1)
            status = tasks.deliver(task, KEY)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)

    assert status == 200 and tasks.tasks(QUEUE) == []
    assert [(r.id, r.status) for r in services.state.list_runs(connection_id)] == [
        (run.id, "succeeded")
    ]
    clean_settings = Settings.for_home(tmp_path / "clean", http=TEST_HTTP)
    clean, clean_id = _connected(replace(clean_settings, digitalocean_api_url=slow_sim.url))
    assert clean.engine.sync(clean_id).status == "succeeded"
    resumed = _ledger(build(settings))
    assert len(resumed["Invoices"]) == 13 and len(resumed["Line Items"]) > 100  # 12 + preview
    assert resumed == _ledger(clean)
