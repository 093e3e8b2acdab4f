"""The sync engine end to end on embedded defaults, against the DigitalOcean simulator."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import openpyxl
import pytest

from api import connections
from api.core.model import Connection, LedgerBatch, RunRecord
from api.core.text import looks_like_formula
from api.engine import Destination, SyncEngine
from api.errors import RunInProgress, SinkError
from api.factory import Services, build
from api.settings import Settings
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator

NAME = "acme"


def connect(services: Services, token: str = DEMO_TOKEN, **options: Any) -> Connection:
    return connections.connect(
        state=services.state, secrets=services.secrets, providers=services.provider,
        provider="digitalocean", name=NAME, token=token, options=options,
    )  # fmt: skip


def ledger(services: Services) -> dict[str, list[dict[str, Any]]]:
    """The ledger as a person would compare it: every tab but Runs, minus sync timestamps."""
    tabs = {}
    for tab in ("Invoices", "Line Items"):
        tabs[tab] = [
            {k: v for k, v in row.items() if k != "Synced At"} for row in services.sink.rows(tab)
        ]
    return tabs


def billing_calls(sim: DigitalOceanSimulator) -> list[str]:
    return [r.path for r in sim.requests if r.path.startswith("/v2/customers/")]


def test_first_sync_pulls_full_history(services: Services, do_sim: DigitalOceanSimulator) -> None:
    connect(services)
    run = services.engine.sync(NAME)

    assert run.status == "succeeded", run.message
    finals = do_sim.invoices()
    invoices = services.sink.rows("Invoices")
    assert {r["Invoice ID"] for r in invoices if r["Status"] != "Preview"} == {
        i["invoice_id"] for i in finals
    }
    assert sum(1 for r in invoices if r["Status"] == "Preview") == 1
    lines = services.sink.rows("Line Items")
    expected_lines = sum(len(do_sim.items(i["invoice_uuid"])) for i in finals)
    preview_lines = len(do_sim.items("preview"))
    assert len(lines) == expected_lines + preview_lines
    assert run.counts.new == len(finals) + 1 and run.counts.line_items == len(lines)
    assert all(r["Reconciled"] is True for r in invoices)
    # rows are in chronological order, the preview last
    periods = [r["Period"] for r in invoices]
    assert periods == sorted(periods)
    assert invoices[-1]["Status"] == "Preview"
    # every final invoice has its PDF and CSV archived, recorded, and linked by file name
    index = services.state.index(services.state.get_connection(NAME).id)
    for row in invoices:
        if row["Status"] == "Preview":
            assert row["PDF"] == "" and row["CSV"] == ""
            continue
        for kind in ("pdf", "csv"):
            link = index[row["Invoice Key"]].documents[kind]
            path = Path(url2pathname(urlsplit(link.url).path))
            assert path.read_bytes()[:4] == (b"%PDF" if kind == "pdf" else b"prod")
            assert path.name == row[kind.upper()] == f"{row['Period']} {row['Invoice ID']}.{kind}"


def test_the_workbook_read_with_openpyxl_equals_the_store_and_the_provider(
    services: Services, do_sim: DigitalOceanSimulator
) -> None:
    connect(services)
    services.engine.sync(NAME)
    book = openpyxl.load_workbook(services.settings.workbook_path)  # not through our own reader

    def records(tab: str) -> list[dict[str, Any]]:
        header, *rows = book[tab].iter_rows(values_only=True)
        return [dict(zip(header, row, strict=True)) for row in rows]

    invoices, lines = records("Invoices"), records("Line Items")
    index = services.state.index(services.state.get_connection(NAME).id)
    assert {r["Invoice Key"] for r in invoices} == set(index)
    for row in invoices:
        mine = [line for line in lines if line["Invoice Key"] == row["Invoice Key"]]
        assert len(mine) == row["Line Items"] == index[row["Invoice Key"]].line_count
        uuid = row["Invoice Key"].split(":")[-1] if row["Status"] != "Preview" else "preview"
        assert [Decimal(str(line["Amount"])) for line in mine] == [
            Decimal(item["amount"]) for item in do_sim.items(uuid)
        ]
        assert Decimal(str(row["Total"])) == Decimal(do_sim.summary(uuid)["amount"])
    # typed cells: money and dates are numbers and dates, provider text is never a formula
    tricky = [line["Description"] for line in lines if looks_like_formula(line["Description"])]
    assert tricky and all(isinstance(text, str) for text in tricky)
    assert all(isinstance(r["Total"], int | float) for r in invoices)
    assert all(isinstance(r["Invoice Date"], dt.datetime) for r in invoices)
    assert all(
        book[tab].cell(r, c).data_type != "f"
        for tab in book.sheetnames
        for r in range(1, book[tab].max_row + 1)
        for c in range(1, book[tab].max_column + 1)
    )


def test_rerun_with_nothing_new_downloads_nothing(
    services: Services, do_sim: DigitalOceanSimulator
) -> None:
    connect(services)
    services.engine.sync(NAME)
    before = ledger(services)
    do_sim.requests.clear()

    run = services.engine.sync(NAME)

    assert run.status == "succeeded" and run.counts.new == run.counts.updated == 0
    assert billing_calls(do_sim) == ["/v2/customers/my/invoices"]  # one listing page, nothing else
    assert ledger(services) == before
    # the idle run is in the run history, but writes nothing, not even a Runs row
    assert [r.status for r in services.state.list_runs(NAME)] == ["succeeded", "succeeded"]
    assert [r["New"] for r in services.sink.rows("Runs")] == [len(before["Invoices"])]


def test_preview_is_replaced_then_removed_when_final_arrives(
    services: Services, do_sim: DigitalOceanSimulator
) -> None:
    connect(services)
    services.engine.sync(NAME)
    preview_total = _preview_row(services)["Total"]

    do_sim.touch_preview()
    run = services.engine.sync(NAME)
    assert run.counts.updated == 1 and run.counts.new == 0
    assert _preview_row(services)["Total"] > preview_total
    previews = [r for r in services.sink.rows("Invoices") if r["Status"] == "Preview"]
    assert len(previews) == 1

    closing_period = previews[0]["Period"]
    do_sim.advance_month()
    run = services.engine.sync(NAME)
    assert run.status == "succeeded" and run.counts.removed == 1
    rows = services.sink.rows("Invoices")
    finals = [r for r in rows if r["Period"] == closing_period]
    assert [r["Status"] for r in finals] == ["Issued"]  # the preview row is gone, the final is in
    assert not [
        line
        for line in services.sink.rows("Line Items")
        if line["Invoice Key"] == f"digitalocean:preview:{closing_period}"
    ]
    assert len([r for r in rows if r["Status"] == "Preview"]) == 1  # the new month's preview


def test_without_preview_option_no_preview_row(
    services: Services, do_sim: DigitalOceanSimulator
) -> None:
    connect(services, include_preview=False)
    services.engine.sync(NAME)
    assert all(r["Status"] != "Preview" for r in services.sink.rows("Invoices"))


def test_full_resync_refetches_without_duplicates(
    services: Services, do_sim: DigitalOceanSimulator
) -> None:
    connect(services)
    services.engine.sync(NAME)
    before = ledger(services)
    files_before = sorted(p for p in services.settings.archive_dir.rglob("*") if p.is_file())
    do_sim.requests.clear()

    run = services.engine.sync(NAME, full=True)

    assert run.status == "succeeded" and run.counts.new == 0
    # Nothing changed at the provider: unchanged, not updated (issue 9 section 5).
    assert (run.counts.updated, run.counts.unchanged) == (0, len(before["Invoices"]))
    # The counts say what changed: no line item next to "Nothing new" (the lines were rewritten).
    assert run.counts.line_items == 0 and run.message.startswith("Nothing new")
    assert services.state.get_run(run.id).counts.line_items == 0
    assert any(p.endswith("/pdf") for p in billing_calls(do_sim))  # really fetched again
    assert ledger(services) == before
    files_after = sorted(p for p in services.settings.archive_dir.rglob("*") if p.is_file())
    assert files_after == files_before


def test_second_run_for_same_connection_is_refused_with_running_id(services: Services) -> None:
    connect(services)
    running = services.state.start_run(NAME, "scheduler")
    with pytest.raises(RunInProgress) as refused:
        services.engine.sync(NAME)
    assert refused.value.run_id == running.id
    assert running.id in str(refused.value)


@pytest.mark.parametrize(
    ("fault_path", "status"),
    [
        ("/v2/customers/my/invoices", "failed"),  # the listing: nothing to go on
        ("/v2/customers/my/invoices/*/summary", "failed"),  # every invoice: nothing written
        ("/v2/customers/my/invoices/*/pdf", "partial"),  # rows written, PDF cells empty
        ("/v2/customers/my/invoices/*/csv", "partial"),
        ("/v2/customers/my/invoices/????????-*", "partial"),  # every final; the preview lands
    ],
)
def test_provider_failure_at_each_step_then_rerun_equals_clean_run(
    services: Services,
    do_sim: DigitalOceanSimulator,
    clean_ledger: dict,
    fault_path: str,
    status: str,
) -> None:
    connect(services)
    do_sim.faults.add("500", path=fault_path, times=1000)  # outlasts the retries

    failed = services.engine.sync(NAME)

    assert failed.status == status and "DigitalOcean" in failed.message
    do_sim.faults.clear()
    rerun = services.engine.sync(NAME)
    assert rerun.status == "succeeded", rerun.message
    assert ledger(services) == clean_ledger
    _assert_archive_has_one_copy_each(services)


class FlakySink:
    """A port-level fault: the real workbook, failing once before or after a write applies."""

    def __init__(self, inner: Any, when: str) -> None:
        self.inner, self.when, self.failures = inner, when, 0

    def write(self, batch: LedgerBatch) -> None:
        if self.when == "before" and not self.failures:
            self.failures += 1
            raise SinkError("The ledger could not be written (injected).")
        self.inner.write(batch)
        if self.when == "after" and not self.failures:
            self.failures += 1
            raise SinkError("The connection dropped after the write (injected).")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FlakyState:
    """The real StateStore, failing once when the ledger index is recorded (a crash point)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.failures = inner, 0

    def record_index(self, *args: Any) -> None:
        if not self.failures:
            self.failures += 1
            raise SinkError("Crashed before the index was recorded (injected).")
        self.inner.record_index(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("where", ["sink-before", "sink-after", "index"])
def test_local_failure_at_each_step_then_rerun_equals_clean_run(
    services: Services, clean_ledger: dict, where: str
) -> None:
    connect(services)
    flaky_sink = where != "index"
    sink = FlakySink(services.sink, where.removeprefix("sink-")) if flaky_sink else services.sink
    state = FlakyState(services.state) if where == "index" else services.state
    engine = _engine(services, sink=sink, state=state)

    assert engine.sync(NAME).status == "failed"
    assert engine.sync(NAME).status == "succeeded"
    assert ledger(services) == clean_ledger
    _assert_archive_has_one_copy_each(services)


def test_rejected_token_fails_clearly_and_writes_nothing(
    services: Services, do_sim: DigitalOceanSimulator
) -> None:
    connect(services)
    do_sim.faults.add("401", path="/v2/customers/my/invoices", times=1)

    run = services.engine.sync(NAME)

    assert run.status == "failed"
    assert "rejected the token" in run.message and "read-only token" in run.message
    assert services.sink.rows("Invoices") == []
    assert [r["Status"] for r in services.sink.rows("Runs")] == ["failed"]


def test_token_never_leaves_the_encrypted_store(
    services: Services, do_sim: DigitalOceanSimulator, capfd: pytest.CaptureFixture[str]
) -> None:
    connection = connect(services)
    do_sim.faults.add("500", path="/v2/customers/my/invoices/*/csv", times=100)
    runs: list[RunRecord] = [services.engine.sync(NAME), services.engine.sync(NAME)]

    assert DEMO_TOKEN not in repr(connection) and DEMO_TOKEN not in repr(runs)
    out, err = capfd.readouterr()
    assert DEMO_TOKEN not in out + err
    leaks = [
        p
        for p in services.settings.home.rglob("*")
        if p.is_file() and DEMO_TOKEN.encode() in p.read_bytes()
    ]
    assert leaks == []
    assert services.secrets.get(connection.secret_ref) == DEMO_TOKEN


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def clean_ledger(tmp_path: Path, settings: Settings, do_sim: DigitalOceanSimulator) -> dict:
    """The ledger one clean run produces, in a home of its own."""
    clean = build(
        replace(
            settings,
            home=tmp_path / "clean",
            database_url=f"sqlite:///{tmp_path}/c.db",
            digitalocean_api_url=do_sim.url,
        )
    )
    connect(clean)
    assert clean.engine.sync(NAME).status == "succeeded"
    do_sim.requests.clear()
    return ledger(clean)


def _engine(services: Services, **overrides: Any) -> SyncEngine:
    sink = overrides.get("sink", services.sink)
    return SyncEngine(
        state=overrides.get("state", services.state),
        secrets=services.secrets,
        destinations=lambda connection: Destination(sink, services.files),
        providers=services.provider,
        workdir=services.settings.home / "tmp",
        concurrency=4,
        after_change=services.engine.after_change,
    )


def _preview_row(services: Services) -> dict[str, Any]:
    return next(r for r in services.sink.rows("Invoices") if r["Status"] == "Preview")


def _assert_archive_has_one_copy_each(services: Services) -> None:
    files = [
        p
        for p in services.settings.archive_dir.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    ]
    invoices = [r for r in services.sink.rows("Invoices") if r["Status"] != "Preview"]
    assert len(files) == 2 * len(invoices)
