"""SqlStateStore contract: one suite over SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.core.model import Connection, DocumentLink, RunCounts
from api.errors import ConfigError, NotFoundError, RunInProgress
from api.ports import IndexEntry
from api.state.schema import SCHEMA_VERSION, engine_url
from api.state.sql import INTERRUPTED, SqlStateStore

T0 = dt.datetime(2026, 11, 21, 19, 1, 2, 123456, tzinfo=dt.UTC)
STALE = dt.timedelta(minutes=15)


class FakeClock:
    """A settable clock shared by the stores of one test (one wall clock, many processes)."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


StoreFactory = Callable[..., SqlStateStore]


def _postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not _postgres_url(), reason="TEST_DATABASE_URL is not set"),
            ],
        ),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'state.db'}"
        return
    # A fresh schema per test: parallel runs and reruns never see each other's rows.
    base = engine_url(_postgres_url() or "")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_store(database_url: str, clock: FakeClock) -> Iterator[StoreFactory]:
    """Build stores on the test's database; each one stands for a separate process."""
    made: list[SqlStateStore] = []

    def make(**overrides: object) -> SqlStateStore:
        options: dict[str, object] = {"clock": clock, "stale_after": STALE, **overrides}
        store = SqlStateStore(database_url, **options)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> SqlStateStore:
    store = make_store()
    for name in ("acme", "globex"):
        store.add_connection(_connection(name))
    return store


def _connection(name: str, **overrides: object) -> Connection:
    values: dict[str, object] = {
        "name": name,
        "provider": "digitalocean",
        "account": f"{name} team",
        "secret_ref": f"digitalocean--{name}",
        "fingerprint": "dop_v1_…a1b2",
        "options": {"include_preview": True, "tags": ["a", "b"], "window": {"days": 120}},
        "created": T0,
        **overrides,
    }
    return Connection(**values)  # type: ignore[arg-type]


def _entry(key: str, version: str = "v1", lines: int = 3, **docs: str) -> IndexEntry:
    links = {kind: DocumentLink(kind, url, f"{kind}-sha-{key}") for kind, url in docs.items()}
    return IndexEntry(key, version, f"id-{key}", "2026-10", lines, links)


# -- connections ---------------------------------------------------------------------------


def test_connections_round_trip_and_list_by_name(store: SqlStateStore) -> None:
    store.add_connection(_connection("beta co", provider="doit", options={"tenant": "t-1"}))

    got = store.get_connection("acme")
    assert got == replace(_connection("acme"), id=got.id, schedule_since=T0)
    assert store.get_connection(got.id) == got
    assert got.options["window"] == {"days": 120}
    assert [c.name for c in store.list_connections()] == ["acme", "beta co", "globex"]
    assert store.get_connection("beta co").options == {"tenant": "t-1"}


def test_adding_an_existing_name_is_refused_with_an_action(store: SqlStateStore) -> None:
    with pytest.raises(ConfigError, match="already exists") as raised:
        store.add_connection(_connection("acme", account="someone else"))

    assert raised.value.action and "disconnect acme" in raised.value.action
    assert store.get_connection("acme").account == "acme team"


def test_unknown_connection_lists_the_known_names(store: SqlStateStore) -> None:
    with pytest.raises(NotFoundError) as raised:
        store.get_connection("initech")
    assert "'initech'" in str(raised.value)
    assert "'acme', 'globex'" in str(raised.value)
    with pytest.raises(NotFoundError):
        store.remove_connection("initech")
    with pytest.raises(NotFoundError):
        store.start_run("initech", "cli")


def test_a_connection_added_without_a_created_time_gets_the_clock(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = make_store()
    store.add_connection(_connection("acme", created=None))

    assert store.get_connection("acme").created == clock.now


def test_remove_keeps_run_history_but_drops_index_and_documents(store: SqlStateStore) -> None:
    acme, globex = store.get_connection("acme").id, store.get_connection("globex").id
    run = store.start_run("acme", "cli")
    store.finish_run(run.id, "succeeded", RunCounts(new=1), "1 new")
    store.record_index(acme, [_entry("k1", pdf="file:///k1.pdf")], [])
    store.record_index(globex, [_entry("k1", pdf="file:///g1.pdf")], [])

    removed = store.remove_connection("acme")

    assert removed == replace(_connection("acme"), id=acme, schedule_since=T0)
    assert [c.name for c in store.list_connections()] == ["globex"]
    assert [r.id for r in store.list_runs(acme)] == [run.id]
    assert store.index(acme) == {}
    assert store.documents(acme, "k1") == {}
    assert store.index(globex)["k1"].documents["pdf"].url == "file:///g1.pdf"
    # The name is free again; the new connection under it has a new id and an empty index.
    again = store.add_connection(_connection("acme"))
    assert again.id != acme and store.index(again.id) == {}


# -- runs ----------------------------------------------------------------------------------


def test_run_lifecycle(store: SqlStateStore, clock: FakeClock) -> None:
    run = store.start_run("acme", "scheduler")
    assert (run.status, run.trigger, run.started, run.finished) == (
        "running", "scheduler", T0, None
    )  # fmt: skip
    assert run.id.startswith("20261121T190102Z-") and len(run.id) == len("20261121T190102Z-") + 6
    assert store.get_run(run.id) == run

    clock.advance(seconds=5)
    store.progress(run.id, "fetching", 3, 12)
    live = store.get_run(run.id)
    assert (live.status, live.phase, live.done, live.total) == ("running", "fetching", 3, 12)

    finished_at = clock.advance(seconds=5)
    counts = RunCounts(new=4, updated=2, unchanged=6, removed=1, line_items=48)
    done = store.finish_run(run.id, "succeeded", counts, "4 new, 2 updated")

    assert (done.status, done.finished, done.counts, done.message) == (
        "succeeded", finished_at, counts, "4 new, 2 updated"
    )  # fmt: skip
    assert done.phase == "done", "a finished run is not still writing"
    assert store.get_run(run.id) == done
    # The lock went with the finish: the next run starts at once.
    assert store.start_run("acme", "cli").status == "running"


def test_unknown_run_ids_are_not_found(store: SqlStateStore) -> None:
    for call in (
        lambda: store.get_run("20000101T000000Z-000000"),
        lambda: store.progress("20000101T000000Z-000000", "fetching", 1, 2),
        lambda: store.finish_run("20000101T000000Z-000000", "failed", RunCounts(), "x"),
    ):
        with pytest.raises(NotFoundError, match="20000101T000000Z-000000"):
            call()


def test_a_second_start_is_refused_with_the_running_id(store: SqlStateStore) -> None:
    first = store.start_run("acme", "cli")

    with pytest.raises(RunInProgress) as raised:
        store.start_run("acme", "sidebar")

    assert raised.value.run_id == first.id
    assert "'acme'" in str(raised.value)
    assert [r.id for r in store.list_runs("acme")] == [first.id]  # the refused run left no row
    assert store.start_run("globex", "cli").status == "running"  # other connections are free


@pytest.mark.parametrize("previous", ["none", "stale"])
def test_concurrent_starts_let_exactly_one_win(
    make_store: StoreFactory, clock: FakeClock, previous: str
) -> None:
    setup = make_store()
    setup.add_connection(_connection("acme"))
    if previous == "stale":  # every starter sees the same dead lock and tries to take it over
        crashed = setup.start_run("acme", "cli").id
        clock.advance(minutes=30)
    stores = [make_store() for _ in range(4)]  # four "processes", two threads each
    barrier = threading.Barrier(8)
    won: list[str] = []
    refused: list[str] = []
    failures: list[BaseException] = []

    def attempt(store: SqlStateStore) -> None:
        barrier.wait()
        try:
            won.append(store.start_run("acme", "cli").id)
        except RunInProgress as exc:
            refused.append(exc.run_id)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=attempt, args=(stores[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert len(won) == 1 and len(refused) == 7
    assert set(refused) == set(won)
    runs = [(r.id, r.status) for r in setup.list_runs("acme")]
    if previous == "stale":
        assert runs == [(won[0], "running"), (crashed, "failed")]
    else:
        assert runs == [(won[0], "running")]


def test_a_stale_lock_is_taken_over_and_its_run_marked_failed(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    crashed_process, new_process = make_store(), make_store()
    crashed_process.add_connection(_connection("acme"))
    old = crashed_process.start_run("acme", "cli")

    clock.advance(minutes=10)
    crashed_process.progress(old.id, "fetching", 1, 9)  # a heartbeat: still alive
    clock.advance(minutes=14)
    with pytest.raises(RunInProgress):
        new_process.start_run("acme", "cli")  # 24 min after start, 14 after its heartbeat

    now = clock.advance(minutes=1)  # 15 min without a heartbeat: the process is gone
    new = new_process.start_run("acme", "scheduler")

    assert new.status == "running" and new.id != old.id
    dead = new_process.get_run(old.id)
    assert (dead.status, dead.finished, dead.message, dead.phase) == (
        "failed", now, INTERRUPTED, "done"
    )  # fmt: skip
    with pytest.raises(RunInProgress) as raised:
        crashed_process.start_run("acme", "cli")
    assert raised.value.run_id == new.id
    # The old process waking up and finishing must not free the new run's lock.
    crashed_process.finish_run(old.id, "succeeded", RunCounts(), "late")
    with pytest.raises(RunInProgress):
        new_process.start_run("acme", "cli")


def test_a_lock_held_by_a_dead_local_process_is_taken_over_at_once(
    make_store: StoreFactory, database_url: str
) -> None:
    store = make_store()
    store.add_connection(_connection("acme"))
    script = (
        "import sys; from api.state.sql import SqlStateStore;"
        "print(SqlStateStore(sys.argv[1]).start_run('acme', 'cli').id)"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, database_url], capture_output=True, text=True, check=True
    )  # starts a run, then dies without finishing it
    orphan = child.stdout.strip()
    assert store.get_run(orphan).status == "running"

    new = store.start_run("acme", "cli")  # no 15-minute wait: its holder is gone

    assert new.id != orphan
    assert (store.get_run(orphan).status, store.get_run(orphan).message) == ("failed", INTERRUPTED)


def test_two_stores_on_one_database_share_the_lock(make_store: StoreFactory) -> None:
    cli, web = make_store(), make_store()
    cli.add_connection(_connection("acme"))

    run = cli.start_run("acme", "cli")
    with pytest.raises(RunInProgress) as raised:
        web.start_run("acme", "sidebar")
    assert raised.value.run_id == run.id
    assert web.get_run(run.id).status == "running"

    cli.finish_run(run.id, "failed", RunCounts(), "Token rejected.")
    assert web.start_run("acme", "sidebar").trigger == "sidebar"


def test_list_runs_is_newest_first_filtered_and_limited(
    store: SqlStateStore, clock: FakeClock
) -> None:
    started = []
    for name in ("acme", "globex", "acme", "globex", "acme"):
        run = store.start_run(name, "cli")
        started.append(run.id)
        clock.advance(minutes=1)
        store.finish_run(run.id, "succeeded", RunCounts(), "")

    assert [r.id for r in store.list_runs()] == started[::-1]
    assert [r.id for r in store.list_runs("acme")] == [started[4], started[2], started[0]]
    assert [r.id for r in store.list_runs("globex", limit=1)] == [started[3]]
    assert [r.id for r in store.list_runs(limit=2)] == [started[4], started[3]]
    assert store.list_runs("initech") == []


# -- index and documents -------------------------------------------------------------------


def test_record_index_upserts_and_removes_with_documents(store: SqlStateStore) -> None:
    acme, globex = store.get_connection("acme").id, store.get_connection("globex").id
    store.record_index(
        acme,
        [_entry("a", pdf="file:///a.pdf"), _entry("b", csv="file:///b.csv"), _entry("c")],
        [],
    )
    store.record_index(globex, [_entry("a")], [])

    store.record_index(acme, [_entry("b", "v2", lines=5, pdf="file:///b.pdf"), _entry("d")], ["a"])

    index = store.index(acme)
    assert sorted(index) == ["b", "c", "d"]
    assert index["b"].version == "v2" and index["b"].line_count == 5
    assert set(index["b"].documents) == {"csv", "pdf"}  # earlier documents are kept
    assert index["c"] == _entry("c")
    assert store.documents(acme, "a") == {}
    assert store.index(globex) == {"a": _entry("a")}


def test_a_failing_record_index_leaves_the_previous_index_intact(store: SqlStateStore) -> None:
    acme = store.get_connection("acme").id
    before = [_entry("a", pdf="file:///a.pdf"), _entry("b"), _entry("c")]
    store.record_index(acme, before, [])

    bad = _entry("z", lines=-1)  # violates the line_count >= 0 check, after the good writes
    with pytest.raises(sa.exc.IntegrityError):
        store.record_index(acme, [_entry("b", "v2", pdf="file:///b.pdf"), bad], ["a", "c"])

    assert store.index(acme) == {entry.key: entry for entry in before}


def test_documents_are_recorded_at_once_and_upserted(store: SqlStateStore) -> None:
    acme, globex = store.get_connection("acme").id, store.get_connection("globex").id
    store.record_document(acme, "k", DocumentLink("pdf", "file:///old.pdf", "s1"))
    store.record_document(acme, "k", DocumentLink("pdf", "file:///new.pdf", "s2"))
    store.record_document(acme, "k", DocumentLink("csv", "file:///k.csv", "s3"))

    assert store.documents(acme, "k") == {
        "pdf": DocumentLink("pdf", "file:///new.pdf", "s2"),
        "csv": DocumentLink("csv", "file:///k.csv", "s3"),
    }
    assert store.documents(globex, "k") == {}
    assert store.index(acme) == {}  # archived, not yet in the ledger
    store.record_index(acme, [_entry("k")], [])
    assert store.index(acme)["k"].documents["pdf"].url == "file:///new.pdf"


def test_index_of_ten_thousand_entries_is_fast(store: SqlStateStore) -> None:
    entries = [_entry(f"digitalocean:{i:05d}", pdf=f"file:///{i}.pdf") for i in range(10_000)]
    store.record_index("acme", entries, [])
    batch = [_entry(f"digitalocean:{i:05d}", "v2") for i in range(120)]

    started = time.perf_counter()
    store.record_index("acme", batch, [f"digitalocean:{i:05d}" for i in range(9_000, 9_500)])
    index = store.index("acme")
    elapsed = time.perf_counter() - started

    assert len(index) == 9_500
    assert index["digitalocean:00119"].version == "v2"
    assert index["digitalocean:00120"].documents["pdf"].url == "file:///120.pdf"
    assert elapsed < 3.0, f"record_index(120) + index(10k) took {elapsed:.2f}s"


# -- time, schema, safety ------------------------------------------------------------------


def test_datetimes_come_back_aware_utc(make_store: StoreFactory) -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    store = make_store(clock=lambda: dt.datetime(2026, 11, 21, 20, 1, 2, 5, tzinfo=paris))
    store.add_connection(_connection("acme", created=dt.datetime(2026, 1, 1, 5, tzinfo=paris)))

    run = store.start_run("acme", "cli")
    store.progress(run.id, "listing", 0, 0)
    done = store.finish_run(run.id, "succeeded", RunCounts(), "")
    created = store.get_connection("acme").created

    expected = dt.datetime(2026, 11, 21, 19, 1, 2, 5, tzinfo=dt.UTC)
    for value in (run.started, done.started, done.finished, store.list_runs()[0].started):
        assert value == expected and value.utcoffset() == dt.timedelta(0)
    assert created == dt.datetime(2026, 1, 1, 4, tzinfo=dt.UTC)
    assert created is not None and created.utcoffset() == dt.timedelta(0)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        store.add_connection(_connection("naive", created=dt.datetime(2026, 1, 1)))


def test_schema_version_is_one_row_however_many_stores_open_it(
    make_store: StoreFactory, database_url: str
) -> None:
    for _ in range(3):
        make_store().list_connections()

    engine = sa.create_engine(engine_url(database_url))
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT id, version FROM schema_version").all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [(1, SCHEMA_VERSION)]


def test_a_newer_schema_is_refused(make_store: StoreFactory, database_url: str) -> None:
    make_store().list_connections()
    engine = sa.create_engine(engine_url(database_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()

    with pytest.raises(ConfigError, match="Upgrade billsync"):
        make_store().list_connections()


def test_postgres_urls_use_psycopg_3() -> None:
    for url in ("postgres://u@db/x", "postgresql://u@db/x", "postgresql+psycopg://u@db/x"):
        assert engine_url(url).drivername == "postgresql+psycopg"
    assert engine_url("sqlite:////tmp/x.db").drivername == "sqlite"


def test_an_unreachable_database_names_no_password_and_no_query() -> None:
    store = SqlStateStore(
        "postgresql://billsync:hunter2-secret@127.0.0.1:1/billsync?sslpassword=s3cret-key"
    )

    with pytest.raises(ConfigError, match="Cannot open the state database") as raised:
        store.list_connections()

    for shown in (str(raised.value), repr(store)):
        assert "hunter2" not in shown and "s3cret" not in shown and "?" not in shown
    assert "127.0.0.1:1/billsync." in str(raised.value)
    store.close()


def test_update_options_merges_and_keeps_the_rest(store: SqlStateStore) -> None:
    before = store.get_connection("acme")

    updated = store.update_options("acme", {"sheet": "new-sheet-id"})

    assert updated.options == {**before.options, "sheet": "new-sheet-id"}
    assert store.get_connection("acme") == updated
    assert store.get_connection("globex").options == _connection("globex").options
    with pytest.raises(NotFoundError):
        store.update_options("nobody", {"sheet": "x"})
