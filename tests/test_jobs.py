"""The job queues and the schedule tick: in-process threads, Cloud Tasks through
google-cloud-tasks against the stateful fake, tick-once under real threads on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from api.connections import connect
from api.core.model import RunCounts
from api.core.schedule import Schedule
from api.errors import BillsyncError
from api.factory import Services, build
from api.jobs.cloud_tasks import RETRY, CloudTasksQueue
from api.jobs.local import ThreadQueue
from api.jobs.tick import tick
from api.settings import Settings
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator
from tests import test_state_store as base
from tests.fakes.cloud_tasks import FakeCloudTasks
from tests.test_state_service import _together
from tests.test_state_store import FakeClock, StoreFactory, _connection

database_url = base.database_url
clock = base.clock
make_store = base.make_store

QUEUE = "projects/proj/locations/europe-west1/queues/billsync-runs"
FAST = RETRY.with_delay(initial=0.01, maximum=0.02).with_timeout(2.0)


class RecordingQueue:
    """A JobQueue that only remembers what it was given (the tick's side of the port)."""

    def __init__(self) -> None:
        self.run_ids: list[str] = []
        self._lock = threading.Lock()

    def enqueue(self, run_id: str) -> None:
        with self._lock:
            self.run_ids.append(run_id)


@pytest.fixture
def tasks() -> Iterator[FakeCloudTasks]:
    fake = FakeCloudTasks()
    fake.add_queue(QUEUE)
    fake.start()
    yield fake
    fake.stop()


def _cloud_queue(
    tasks: FakeCloudTasks, service_url: str = "https://billsync.example"
) -> CloudTasksQueue:
    return CloudTasksQueue(
        queue=QUEUE,
        service_url=service_url,
        service_account="tasks@proj.iam.gserviceaccount.com",
        endpoint=tasks.server.url,
        retry_policy=FAST,
    )


# -- in-process queue ------------------------------------------------------------------------


def test_the_thread_queue_runs_a_run_once_and_at_most_workers_at_a_time() -> None:
    release = threading.Event()
    running: list[str] = []
    peak = [0]
    lock = threading.Lock()

    def runner(run_id: str) -> None:
        with lock:
            running.append(run_id)
            peak[0] = max(peak[0], len(running))
        release.wait(5)
        with lock:
            running.remove(run_id)

    queue = ThreadQueue(runner, workers=2)
    _together([lambda i=i: queue.enqueue(f"run-{i % 5}") for i in range(20)])
    threading.Event().wait(0.1)
    assert peak[0] == 2
    release.set()
    assert queue.wait(timeout=5)
    queue.shutdown()
    assert peak[0] == 2


def test_a_starting_process_runs_what_a_dead_one_left_queued(
    settings: Settings, do_sim: DigitalOceanSimulator
) -> None:
    services = build(replace(settings, digitalocean_api_url=do_sim.url))
    conn = _connect(services)
    left, _ = services.state.enqueue_run(conn.id, "sidebar")  # recorded, never handed to a queue

    queue = ThreadQueue(services.engine.execute, workers=2)
    recovered = queue.recover(services.state)

    assert recovered == [left.id]
    assert queue.wait(timeout=60)
    done = services.state.get_run(left.id)
    assert done.status == "succeeded" and done.counts.new > 0
    assert [r.id for r in services.state.list_runs(conn.id)] == [left.id]


def _connect(services: Services, name: str = "acme") -> object:
    return connect(
        state=services.state,
        secrets=services.secrets,
        providers=services.provider,
        provider="digitalocean",
        name=name,
        token=DEMO_TOKEN,
    )


# -- Cloud Tasks -------------------------------------------------------------------------------


def test_a_run_becomes_one_named_task_with_an_oidc_delivery(tasks: FakeCloudTasks) -> None:
    queue = _cloud_queue(tasks)

    queue.enqueue("20261121T190102Z-3f9a1c")
    queue.enqueue("20261121T190102Z-3f9a1c")  # a duplicate enqueue: refused by name, no error

    (task,) = tasks.tasks(QUEUE)
    assert task.name == f"{QUEUE}/tasks/run-20261121T190102Z-3f9a1c"
    request = task.http_request
    assert request["url"] == "https://billsync.example/tasks/runs/20261121T190102Z-3f9a1c"
    assert request["httpMethod"] == 1  # POST, as the client sends it (enum-encoding=int)
    assert request["oidcToken"] == {
        "serviceAccountEmail": "tasks@proj.iam.gserviceaccount.com",
        "audience": "https://billsync.example",
    }
    assert [c.status for c in tasks.calls] == [200, 409]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_cloud_tasks_errors_are_retried(tasks: FakeCloudTasks, status: int) -> None:
    tasks.server.faults.add(status, "/tasks", times=2)

    _cloud_queue(tasks).enqueue("r1")

    assert [c.status for c in tasks.calls] == [status, status, 200]
    assert len(tasks.tasks(QUEUE)) == 1


def test_a_create_whose_answer_was_lost_is_not_a_second_task(tasks: FakeCloudTasks) -> None:
    tasks.server.faults.add(500, "/tasks", times=1, applied_first=True)

    _cloud_queue(tasks).enqueue("r1")

    assert [c.status for c in tasks.calls] == [500, 409]
    assert len(tasks.tasks(QUEUE)) == 1


def test_cloud_tasks_refusing_for_good_is_one_retryable_sentence(tasks: FakeCloudTasks) -> None:
    tasks.server.faults.add(500, "/tasks", times=100_000)

    with pytest.raises(BillsyncError, match="stays queued") as raised:
        _cloud_queue(tasks).enqueue("r1")

    assert raised.value.retryable


# -- the tick ----------------------------------------------------------------------------------

MONDAY_0700 = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)


def test_overlapping_ticks_enqueue_each_due_connection_once(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    clock.now = MONDAY_0700 - dt.timedelta(hours=7)  # set at midnight: Sunday's moments are not due
    setup = make_store()
    daily = setup.add_connection(_connection("daily", schedule=Schedule("daily", 6)))
    weekly = setup.add_connection(
        _connection("weekly", schedule=Schedule("weekly", 8, weekday=0, time_zone="Europe/Paris"))
    )
    later = setup.add_connection(_connection("later", schedule=Schedule("daily", 9)))
    setup.add_connection(_connection("off"))
    clock.now = MONDAY_0700
    queue = RecordingQueue()
    stores = [make_store() for _ in range(4)]

    counts, errors = _together(
        [lambda s=stores[i % 4]: tick(s, queue, clock.now) for i in range(8)]
    )

    assert errors == [] and sum(counts) == 2
    runs = {setup.get_run(run_id).connection for run_id in queue.run_ids}
    assert len(queue.run_ids) == 2
    assert runs == {daily.id, weekly.id}  # 07:00 UTC = 08:00 Paris; "later" is due at 09:00
    assert tick(setup, queue, clock.now + dt.timedelta(hours=1)) == 0  # Scheduler retried
    assert tick(setup, queue, clock.now + dt.timedelta(hours=2)) == 1  # 09:00: "later"
    assert setup.list_runs(later.id)[0].trigger == "schedule"


def test_a_paused_schedule_is_skipped_and_a_lost_enqueue_is_handed_over_again(
    make_store: StoreFactory, clock: FakeClock, tasks: FakeCloudTasks
) -> None:
    clock.now = MONDAY_0700 - dt.timedelta(days=1)
    store = make_store()
    conn = store.add_connection(_connection("acme", schedule=Schedule("daily", 6)))
    clock.now = MONDAY_0700
    tasks.server.faults.add(503, "/tasks", times=100_000)

    assert tick(store, _cloud_queue(tasks), clock.now) == 0  # recorded, not handed over
    (run,) = store.list_runs(conn.id)
    assert run.status == "queued" and tasks.tasks(QUEUE) == []

    tasks.server.faults.items.clear()
    clock.advance(minutes=11)
    assert tick(store, _cloud_queue(tasks), clock.now) == 0  # nothing new is due...
    assert [t.name.rsplit("/", 1)[-1] for t in tasks.tasks(QUEUE)] == [f"run-{run.id}"]  # ...but


def test_a_paused_schedule_is_not_ticked_until_it_is_set_again(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    clock.now = MONDAY_0700 - dt.timedelta(days=5)
    store = make_store()
    conn = store.add_connection(_connection("acme", schedule=Schedule("daily", 6)))
    queue = RecordingQueue()
    for day in range(3):  # three scheduled runs fail in a row
        clock.now = MONDAY_0700 - dt.timedelta(days=2 - day)
        assert tick(store, queue, clock.now) == 1
        store.claim_run(queue.run_ids[-1])
        store.finish_run(queue.run_ids[-1], "failed", RunCounts(), "Token rejected.")

    clock.now = MONDAY_0700 + dt.timedelta(days=1)
    assert tick(store, queue, clock.now) == 0
    assert store.get_connection(conn.id).schedule_paused

    store.update_connection(conn.id, schedule=Schedule("daily", 6))
    clock.now += dt.timedelta(days=1)
    assert tick(store, queue, clock.now) == 1
