"""The service's state: queued runs, one active run per connection, schedule slots, pauses,
names per spreadsheet and the migration of a v1 database; SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from api.core.model import RunCounts
from api.core.schedule import Schedule
from api.errors import ConfigError, NotFoundError, RunInProgress
from api.state.runs import PAUSED
from api.state.schema import engine_url
from api.state.sql import SqlStateStore
from tests import test_state_store as base
from tests.test_state_store import STALE, T0, FakeClock, StoreFactory, _connection

# The store suite's fixtures: every test here runs on SQLite and (TEST_DATABASE_URL) PostgreSQL.
database_url = base.database_url
clock = base.clock
make_store = base.make_store

T = TypeVar("T")


def _together(calls: list[Callable[[], T]]) -> tuple[list[T], list[BaseException]]:
    """Run the calls on real threads released at once; their results and their errors."""
    barrier = threading.Barrier(len(calls))
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def go(call: Callable[[], T]) -> None:
        barrier.wait()
        try:
            value = call()
        except BaseException as exc:  # noqa: BLE001 - surfaced by the caller's assertions
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(value)

    threads = [threading.Thread(target=go, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_twenty_concurrent_enqueues_make_one_queued_run(make_store: StoreFactory) -> None:
    stores = [make_store() for _ in range(4)]  # four "processes", five threads each
    conn = stores[0].add_connection(_connection("acme", spreadsheet_id="sheet-1"))

    results, errors = _together(
        [lambda s=stores[i % 4]: s.enqueue_run(conn.id, "sidebar") for i in range(20)]
    )

    assert errors == []
    assert len({run.id for run, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 19 + [True]
    assert [(r.status, r.trigger) for r in stores[0].list_runs(conn.id)] == [("queued", "sidebar")]


def test_a_queued_run_is_claimed_once_and_a_finished_one_never_again(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = make_store()
    conn = store.add_connection(_connection("acme"))
    queued, _ = store.enqueue_run(conn.id, "sidebar")
    assert (queued.status, queued.queued_at, queued.started) == ("queued", T0, T0)

    started_at = clock.advance(seconds=3)
    running, claimed = store.claim_run(queued.id)
    assert claimed and (running.status, running.started, running.queued_at) == (
        "running", started_at, T0
    )  # fmt: skip
    with pytest.raises(RunInProgress):
        make_store().claim_run(queued.id)  # a second delivery while it runs: refused
    with pytest.raises(RunInProgress):
        store.start_run("acme", "cli")  # the CLI waits for it too

    done = store.finish_run(queued.id, "succeeded", RunCounts(new=1), "1 new")
    again, claimed = store.claim_run(queued.id)
    assert (claimed, again) == (False, done)
    assert store.enqueue_run(conn.id, "sidebar")[1] is True  # the connection is free


def test_a_redelivery_after_the_instance_died_resumes_the_same_run(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    dead_instance, new_instance = make_store(), make_store()
    conn = dead_instance.add_connection(_connection("acme"))
    run, _ = dead_instance.enqueue_run(conn.id, "sidebar")
    dead_instance.claim_run(run.id)
    dead_instance.progress(run.id, "fetching", 2, 9)

    clock.advance(minutes=14)
    with pytest.raises(RunInProgress):
        new_instance.claim_run(run.id)  # its heartbeat is recent: maybe still alive
    clock.advance(minutes=1)
    assert [r.id for r in new_instance.orphan_runs(queued_before=T0)] == [run.id]

    resumed, claimed = new_instance.claim_run(run.id)

    assert claimed and resumed.id == run.id and resumed.status == "running"
    assert [r.id for r in new_instance.list_runs(conn.id)] == [run.id]  # never a second run
    assert new_instance.orphan_runs(queued_before=clock.now) == []


def test_orphans_are_old_queued_runs_and_dead_running_ones(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = make_store()
    old = store.add_connection(_connection("old"))
    young = store.add_connection(_connection("young"))
    lost, _ = store.enqueue_run(old.id, "sidebar")
    clock.advance(minutes=5)
    fresh, _ = store.enqueue_run(young.id, "sidebar")

    assert store.orphan_runs(queued_before=clock.now - STALE / 5) == [lost]
    assert {r.id for r in store.orphan_runs(queued_before=clock.now)} == {lost.id, fresh.id}


def test_concurrent_ticks_take_a_slot_once(make_store: StoreFactory) -> None:
    stores = [make_store() for _ in range(4)]
    conn = stores[0].add_connection(_connection("acme", schedule=Schedule("daily", 6)))

    results, errors = _together(
        [lambda s=stores[i % 4]: s.claim_slot(conn.id, "daily:2026-11-21T06") for i in range(12)]
    )

    assert errors == []
    made = [run for run in results if run is not None]
    assert len(made) == 1 and made[0].trigger == "schedule" and made[0].status == "queued"
    assert len(results) == 12
    stores[0].finish_run(made[0].id, "succeeded", RunCounts(), "")
    assert stores[1].claim_slot(conn.id, "daily:2026-11-21T06") is None  # a retried tick
    assert stores[1].claim_slot(conn.id, "daily:2026-11-22T06") is not None  # the next day


def test_a_slot_due_while_a_run_is_active_is_covered_by_that_run(make_store: StoreFactory) -> None:
    store = make_store()
    conn = store.add_connection(_connection("acme", schedule=Schedule("daily", 6)))
    active, _ = store.enqueue_run(conn.id, "sidebar")

    assert store.claim_slot(conn.id, "daily:2026-11-21T06") is None
    store.finish_run(active.id, "succeeded", RunCounts(), "")
    assert store.claim_slot(conn.id, "daily:2026-11-21T06") is None  # taken, not postponed


def _scheduled_run(store: SqlStateStore, conn_id: str, slot: str, status: str) -> str:
    run = store.claim_slot(conn_id, slot)
    assert run is not None
    store.claim_run(run.id)
    return store.finish_run(run.id, status, RunCounts(), "Token rejected.").message


def test_three_failed_scheduled_runs_in_a_row_pause_the_schedule(make_store: StoreFactory) -> None:
    store = make_store()
    conn = store.add_connection(_connection("acme", schedule=Schedule("daily", 6)))
    run, _ = store.enqueue_run(conn.id, "sidebar")  # a manual run does not count
    store.finish_run(run.id, "failed", RunCounts(), "x")

    _scheduled_run(store, conn.id, "d1", "failed")
    _scheduled_run(store, conn.id, "d2", "succeeded")  # resets the count
    messages = [_scheduled_run(store, conn.id, f"d{n}", "failed") for n in (3, 4, 5)]

    assert messages[:2] == ["Token rejected."] * 2
    assert messages[2] == "Token rejected." + PAUSED
    paused = store.get_connection(conn.id)
    assert (paused.schedule_failures, paused.schedule_paused) == (3, True)
    assert store.scheduled_connections() == []

    resumed = store.update_connection(conn.id, schedule=Schedule("daily", 7))
    assert (resumed.schedule_failures, resumed.schedule_paused) == (0, False)
    assert resumed.schedule == Schedule("daily", 7)
    assert [c.id for c in store.scheduled_connections()] == [conn.id]


def test_names_are_unique_per_spreadsheet(make_store: StoreFactory) -> None:
    store = make_store()
    one = store.add_connection(_connection("DO", spreadsheet_id="sheet-1"))
    two = store.add_connection(_connection("DO", spreadsheet_id="sheet-2"))
    other = store.add_connection(_connection("DoiT", spreadsheet_id="sheet-1"))

    assert one.id != two.id
    with pytest.raises(ConfigError, match="already exists in this spreadsheet"):
        store.add_connection(_connection("DO", spreadsheet_id="sheet-1"))
    with pytest.raises(ConfigError, match="already exists"):
        store.update_connection(other.id, name="DO")
    assert [c.id for c in store.list_connections("sheet-1")] == [one.id, other.id]
    with pytest.raises(NotFoundError):
        store.get_connection("DO")  # a name reaches only the local spreadsheet's connections

    renamed = store.update_connection(other.id, name="DoiT prod", options={"tenant": "t"})
    assert (renamed.name, renamed.options) == ("DoiT prod", {"tenant": "t"})


def test_removing_a_connection_fails_its_queued_run(make_store: StoreFactory) -> None:
    store = make_store()
    conn = store.add_connection(_connection("acme"))
    run, _ = store.enqueue_run(conn.id, "sidebar")

    store.remove_connection(conn.id)

    gone = store.get_run(run.id)
    assert (gone.status, gone.message) == ("failed", "The connection was removed.")
    with pytest.raises(NotFoundError):
        store.claim_slot(conn.id, "daily:x")


def test_a_v1_database_is_upgraded_keeping_its_connections_runs_and_index(
    database_url: str, make_store: StoreFactory
) -> None:
    url = engine_url(database_url)
    if url.get_backend_name() == "sqlite":
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", "api.state:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            sa.text(
                "INSERT INTO connections VALUES ('acme', 'digitalocean', 'Acme', 'ref', 'fp',"
                " '{\"include_preview\": false}', :t)"
            ),
            {"t": T0.replace(tzinfo=None)},
        )
        for run_id, status in (
            ("r-done", "succeeded"),
            ("r-live", "running"),
            ("r-dead", "running"),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO runs VALUES (:id, 'acme', 'cli', :status, :t, NULL, :t, '',"
                    " 0, 0, 1, 0, 0, 0, 3, 'ok')"
                ),
                {"id": run_id, "status": status, "t": T0.replace(tzinfo=None)},
            )
        conn.execute(
            sa.text("INSERT INTO run_locks VALUES ('acme', 'r-live', :t, 'elsewhere:1')"),
            {"t": T0.replace(tzinfo=None)},
        )
        conn.execute(
            sa.text("INSERT INTO ledger_index VALUES ('acme', 'k1', 'v', 'inv', '2026-10', 3, :t)"),
            {"t": T0.replace(tzinfo=None)},
        )
    engine.dispose()

    store = make_store()
    acme = store.get_connection("acme")

    assert acme.id.startswith("cn_") and acme.spreadsheet_id == "local"
    assert acme.include_preview is False and acme.schedule == Schedule()
    assert list(store.index(acme.id)) == ["k1"]
    found = {r.id: (r.connection, r.connection_name, r.status) for r in store.list_runs("acme")}
    assert found["r-done"] == (acme.id, "acme", "succeeded")
    assert found["r-live"] == (acme.id, "acme", "running")  # it held the lock: still running
    assert found["r-dead"][2] == "failed"  # it did not: its process was gone
    with pytest.raises(RunInProgress):
        store.start_run("acme", "cli")
