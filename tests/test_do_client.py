"""DigitalOceanProvider over real loopback HTTP: the simulator, and tiny fakes for odd bodies."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import io
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from api.core.model import PREVIEW_STATUS
from api.errors import (
    AuthError,
    MalformedResponse,
    PermissionError_,
    ProviderError,
    ProviderNotFound,
    RateLimited,
    RetriableError,
)
from api.http import SlidingWindowLimiter
from api.logs import JsonFormatter
from api.providers.digitalocean import DigitalOceanProvider, parse_error
from api.settings import HttpSettings, RateLimits
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator, DOSimConfig
from api.simulators.http_server import LoopbackServer

TODAY = dt.date(2026, 11, 21)
INVOICES = "/v2/customers/my/invoices"
# 1 s: a 200-invoice page answers well within it even on a loaded machine (0.3 s did not).
FAST = HttpSettings(
    timeout=1.0, max_attempts=3, max_retry_delay=0.02, max_total_delay=1.0, quota_window=0.0
)
DO_CSV_HEADER = "product,group_description,description,hours,start,end,USD,project_name,category"


class FakeTime:
    """A monotonic clock that only moves when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # also usable as a wall clock (epoch seconds)
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def simulator() -> Iterator[Callable[..., DigitalOceanSimulator]]:
    """Start simulators with a given config; all are stopped after the test."""
    started: list[DigitalOceanSimulator] = []

    def start(clock: Callable[[], float] = time.time, **config: Any) -> DigitalOceanSimulator:
        config.setdefault("today", TODAY)
        config.setdefault("items_per_invoice", 4)
        sim = DigitalOceanSimulator(DOSimConfig(**config), clock=clock)
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def connect(fake_time: FakeTime) -> Iterator[Callable[..., DigitalOceanProvider]]:
    """Build providers against a URL with fast retries and the fake clock; closed after."""
    made: list[DigitalOceanProvider] = []

    def make(url: str, token: str = DEMO_TOKEN, **options: Any) -> DigitalOceanProvider:
        options.setdefault("http", FAST)
        options.setdefault("limits", RateLimits())
        options.setdefault("sleep", fake_time.sleep)
        options.setdefault("clock", fake_time.clock)
        provider = DigitalOceanProvider(token, base_url=url, **options)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


def calls(sim: DigitalOceanSimulator) -> list[tuple[str, dict[str, str]]]:
    return [(r.path, r.query) for r in sim.requests]


def listing_pages(count: int) -> list[tuple[str, dict[str, str]]]:
    pages = max(1, math.ceil(count / 200))
    return [(INVOICES, {"page": str(p), "per_page": "200"}) for p in range(1, pages + 1)]


# -- listing and pagination --------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 200, 201, 450])
def test_listing_reads_every_page_of_200(simulator, connect, count: int) -> None:
    sim = simulator(months=count, items_per_invoice=3)
    provider = connect(sim.url)

    refs = provider.list_invoices(first_sync=False)

    finals = [r for r in refs if not r.is_preview]
    assert [r.key for r in finals] == [f"digitalocean:{i['invoice_uuid']}" for i in sim.invoices()]
    assert [r.invoice_id for r in finals] == [i["invoice_id"] for i in sim.invoices()]
    assert all(r.version == "final" and r.provider == "digitalocean" for r in finals)
    assert [r.key for r in refs if r.is_preview] == ["digitalocean:preview:2026-11"]
    assert calls(sim) == listing_pages(count)
    assert provider.calls == len(listing_pages(count))


@pytest.mark.parametrize("style", ["full", "missing", "empty", "empty_pages"])
@pytest.mark.parametrize("count", [1, 201, 400])
def test_every_last_page_links_style_ends_the_listing(simulator, connect, style, count) -> None:
    sim = simulator(months=count, items_per_invoice=3, last_page_links=style)

    refs = connect(sim.url).list_invoices(first_sync=True)

    assert len([r for r in refs if not r.is_preview]) == count
    assert calls(sim) == listing_pages(count)


def test_preview_ref_carries_its_version_and_handle(simulator, connect) -> None:
    sim = simulator(months=2)

    preview = connect(sim.url).list_invoices(first_sync=False)[-1]

    wire = sim.preview()
    assert wire is not None
    assert preview.is_preview and preview.period == "2026-11"
    assert preview.version == f"{wire['updated_at']}|{wire['amount']}"
    assert preview.handle == {"uuid": "preview", "period": "2026-11", "amount": wire["amount"]}
    sim.touch_preview()
    assert connect(sim.url).list_invoices(first_sync=False)[-1].version != preview.version


@pytest.mark.parametrize(("sim_preview", "include"), [(True, False), (False, True)])
def test_no_preview_ref_unless_offered_and_wanted(simulator, connect, sim_preview, include):
    sim = simulator(months=3, preview=sim_preview)

    refs = connect(sim.url, include_preview=include).list_invoices(first_sync=False)

    assert len(refs) == 3 and not any(r.is_preview for r in refs)


def test_items_are_read_over_every_page(simulator, connect) -> None:
    sim = simulator(months=1, items_per_invoice=320)
    provider = connect(sim.url)
    ref = provider.list_invoices(first_sync=False)[0]
    uuid = ref.handle["uuid"]
    sim.requests.clear()

    fetched = provider.fetch_invoice(ref, "Acme")

    expected = sim.items(uuid)
    assert len(expected) > 200
    assert [line.description for line in fetched.lines] == [i["description"] for i in expected]
    path = f"{INVOICES}/{uuid}"
    assert calls(sim) == [(f"{path}/summary", {}), (path, {"page": "1", "per_page": "200"}),
                          (path, {"page": "2", "per_page": "200"})]  # fmt: skip


# -- mapping -----------------------------------------------------------------------------


def test_every_column_maps_from_the_wire(simulator, connect) -> None:
    sim = simulator(months=16, items_per_invoice=12)  # 16 months hold every awkward line
    provider = connect(sim.url)
    refs = provider.list_invoices(first_sync=False)
    seen_descriptions: list[str] = []
    credit_lines = 0

    for ref in refs:
        fetched = provider.fetch_invoice(ref, "Acme Analytics")
        uuid = ref.handle["uuid"]
        summary, items = sim.summary(uuid), sim.items(uuid)
        invoice = fetched.invoice
        assert (invoice.provider, invoice.account, invoice.key) == (
            "DigitalOcean",
            "Acme Analytics",
            ref.key,
        )
        assert invoice.invoice_id == summary["invoice_id"] == ref.invoice_id
        assert invoice.period == summary["billing_period"] == ref.period
        assert invoice.status == (PREVIEW_STATUS if ref.is_preview else "Issued")
        assert invoice.currency == "USD" and invoice.due_date is None
        assert invoice.balance_due is None
        year, month = map(int, ref.period.split("-"))
        assert invoice.invoice_date == dt.date(year + month // 12, month % 12 + 1, 1)
        assert invoice.total == Decimal(summary["amount"])
        assert invoice.product_charges == Decimal(summary["product_charges"]["amount"])
        assert invoice.overages == Decimal(summary["overages"]["amount"])
        assert invoice.taxes == Decimal(summary["taxes"]["amount"])
        assert invoice.credits == Decimal(summary["credits_and_adjustments"]["amount"])
        assert invoice.source_url == "https://cloud.digitalocean.com/account/billing"
        assert fetched.documents == (() if ref.is_preview else ("pdf", "csv"))
        assert invoice.line_count == len(items) == len(fetched.lines)
        assert invoice.lines_total == invoice.total and invoice.reconciled is True

        for position, (line, item) in enumerate(zip(fetched.lines, items, strict=True), 1):
            assert line.position == position and line.key == f"{ref.key}#{position}"
            assert (line.provider, line.account, line.invoice_id, line.period) == (
                "DigitalOcean",
                "Acme Analytics",
                invoice.invoice_id,
                invoice.period,
            )
            assert line.product == item["product"]
            assert line.description == item["description"]
            assert line.group == item.get("group_description", "")
            assert line.project == item.get("project_name", "")
            assert line.resource_id == item.get("resource_id", "")
            assert line.resource_uuid == item.get("resource_uuid", "")
            assert line.start == dt.datetime.fromisoformat(item["start_time"])
            assert line.end == dt.datetime.fromisoformat(item["end_time"])
            assert line.start is not None and line.start.utcoffset() == dt.timedelta(0)
            assert line.duration == (Decimal(item["duration"]) if "duration" in item else None)
            assert line.unit == item.get("duration_unit", "")
            assert line.amount == Decimal(item["amount"]) and isinstance(line.amount, Decimal)
            assert line.currency == "USD"
            if item["product"] == "Taxes":
                assert line.category == "Tax"
            if line.amount < 0:
                credit_lines += 1
                assert line.category == "Credit"
            seen_descriptions.append(line.description)

    assert credit_lines >= 1
    for awkward in ('=HYPERLINK("http://evil")', "@sum droplet (s-1vcpu-1gb)",
                    "+1 spare volume (10 GiB)", "-tmp-worker (s-1vcpu-2gb)",
                    "東京-cache (s-1vcpu-1gb)", "naïve-app — Basic (512 MB)"):  # fmt: skip
        assert awkward in seen_descriptions  # passed through unchanged; sinks neutralise


def test_a_grown_preview_still_reconciles(simulator, connect) -> None:
    sim = simulator(months=1)
    provider = connect(sim.url)
    before = provider.fetch_invoice(provider.list_invoices(first_sync=False)[-1], "A")
    sim.touch_preview(Decimal("2.50"))

    after = provider.fetch_invoice(provider.list_invoices(first_sync=False)[-1], "A")

    assert after.invoice.total == before.invoice.total + Decimal("2.50")
    assert after.invoice.reconciled is True and after.invoice.key == before.invoice.key


@pytest.mark.parametrize(("team", "label"), [(True, "team"), (False, "email")])
def test_account_label_is_the_team_else_the_email(simulator, connect, team, label) -> None:
    sim = simulator(months=1, team=team)

    name = connect(sim.url).account_label()

    account = sim.book.account
    assert name == (account.team_name if label == "team" else account.email)
    assert calls(sim) == [("/v2/account", {})]


# -- documents ---------------------------------------------------------------------------


def test_downloads_stream_the_pdf_and_the_csv(simulator, connect) -> None:
    sim = simulator(months=2)
    provider = connect(sim.url)
    ref = provider.list_invoices(first_sync=False)[0]
    sim.requests.clear()
    pdf, csv = io.BytesIO(), io.BytesIO()

    provider.download(ref, "pdf", pdf)
    provider.download(ref, "csv", csv)

    assert pdf.getvalue().startswith(b"%PDF")
    assert csv.getvalue().decode().splitlines()[0] == DO_CSV_HEADER
    uuid = ref.handle["uuid"]
    assert calls(sim) == [(f"{INVOICES}/{uuid}/pdf", {}), (f"{INVOICES}/{uuid}/csv", {})]


def test_preview_and_unknown_kinds_have_no_documents(simulator, connect) -> None:
    sim = simulator(months=1)
    provider = connect(sim.url)
    final, preview = provider.list_invoices(first_sync=False)
    sim.requests.clear()

    with pytest.raises(ValueError):
        provider.download(preview, "pdf", io.BytesIO())
    with pytest.raises(ValueError):
        provider.download(final, "xlsx", io.BytesIO())
    assert sim.requests == []


def test_concurrent_fetches_equal_sequential_ones(simulator, connect) -> None:
    sim = simulator(months=8, items_per_invoice=30)
    provider = connect(sim.url)
    refs = provider.list_invoices(first_sync=False)

    with cf.ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(lambda ref: provider.fetch_invoice(ref, "A"), refs))

    assert parallel == [provider.fetch_invoice(ref, "A") for ref in refs]
    assert provider.calls == 1 + 2 * 2 * len(refs) == len(sim.requests)


# -- errors and retries ------------------------------------------------------------------

ERROR_TABLE = [  # fault kind, exception raised, attempts made (FAST allows 3)
    ("401", AuthError, 1),
    ("403", PermissionError_, 1),
    ("404", ProviderNotFound, 1),
    ("429", RateLimited, 3),
    ("500", RetriableError, 3),
    ("502", RetriableError, 3),
    ("503", RetriableError, 3),
    ("timeout", RetriableError, 3),
    ("drop", RetriableError, 3),
    ("malformed", MalformedResponse, 1),
    ("html", RetriableError, 3),
]


@pytest.mark.parametrize(("kind", "error", "attempts"), ERROR_TABLE)
def test_status_to_exception_table(simulator, connect, kind, error, attempts) -> None:
    sim = simulator(months=2)
    sim.faults.add(kind, path=INVOICES, times=10, delay=1.5)  # "timeout": past FAST's 1 s
    provider = connect(sim.url)

    with pytest.raises(error) as caught:
        provider.list_invoices(first_sync=False)

    assert type(caught.value) is error and caught.value.provider == "digitalocean"
    if kind == "malformed":  # the whole URL, named as people know the provider
        assert str(caught.value).startswith(f"DigitalOcean answered {sim.url}{INVOICES} with")
    assert provider.calls == attempts
    deadline = time.monotonic() + 6  # a timed-out request is logged when the server answers
    while len(sim.requests) < attempts and time.monotonic() < deadline:
        time.sleep(0.02)
    assert calls(sim) == [(INVOICES, {"page": "1", "per_page": "200"})] * attempts
    assert DEMO_TOKEN not in str(caught.value) and DEMO_TOKEN not in repr(caught.value)
    if kind.isdigit():  # DO's JSON body (and x-request-id) carry a request id; we show it
        assert caught.value.request_id and caught.value.request_id in str(caught.value)
        assert caught.value.status == int(kind)
    if kind == "html":
        assert "HTML page" in str(caught.value) and "<html" not in str(caught.value)


def test_rejected_and_unscoped_tokens_say_what_to_do(simulator, connect) -> None:
    sim = simulator(months=1, tokens={DEMO_TOKEN: "billing", "dop_v1_" + "b" * 64: "no_billing"})

    with pytest.raises(AuthError) as rejected:
        connect(sim.url, token="dop_v1_" + "0" * 64).account_label()
    unscoped = connect(sim.url, token="dop_v1_" + "b" * 64)
    assert unscoped.account_label() == sim.book.account.team_name  # account:read still works
    with pytest.raises(PermissionError_) as forbidden:
        unscoped.list_invoices(first_sync=False)

    assert rejected.value.message.startswith("DigitalOcean rejected the token.")
    assert rejected.value.action == (
        "Create a new read-only token (scope billing:read) and run "
        "`billsync connect digitalocean` again."
    )
    assert forbidden.value.message.startswith(
        "The token lacks billing:read, or your team role has no billing access."
    )
    assert [r.status for r in sim.requests] == [401, 200, 403]


def test_a_retry_after_is_waited_exactly(simulator, connect, fake_time) -> None:
    sim = simulator(months=2)
    sim.faults.add("429", path=INVOICES, times=2, retry_after="7")
    patient = HttpSettings(timeout=2, max_attempts=4, max_retry_delay=60, max_total_delay=300)

    refs = connect(sim.url, http=patient).list_invoices(first_sync=False)

    assert len(refs) == 3
    assert fake_time.sleeps == [7.0, 7.0]
    assert [r.status for r in sim.requests] == [429, 429, 200]


def test_pacing_stays_under_a_tiny_per_minute_limit(simulator, connect, fake_time) -> None:
    # The simulator and the client share one fake clock, so pacing is exact and nothing waits.
    # (Sequential on purpose: with a fake clock, one thread's sleep would move time under
    # another's request in flight, a race real clocks do not have at this scale.)
    sim = simulator(months=3, per_minute=4, per_hour=1000, clock=fake_time.clock)
    provider = connect(
        sim.url, limits=RateLimits(per_minute=4, per_hour=1000), wall_clock=fake_time.clock
    )

    for ref in provider.list_invoices(first_sync=False):
        provider.fetch_invoice(ref, "A")

    statuses = [r.status for r in sim.requests]
    assert len(statuses) == provider.calls == 1 + 2 * 4
    assert set(statuses) == {200}  # never a 429
    # Two waits for a window to free up, each DigitalOcean's minute plus our 2% margin.
    assert fake_time.sleeps == [pytest.approx(61.2), pytest.approx(61.2)]


def test_pacing_under_compressed_time_needs_no_extra_slack(simulator, connect, fake_time) -> None:
    # x60: DO's minute lasts 1 s; entries dated at the answer keep us behind DO's own log.
    sim = simulator(months=3, per_minute=4, per_hour=1000, time_scale=1 / 60, clock=fake_time.clock)
    limits = RateLimits(per_minute=4, per_hour=1000, time_scale=1 / 60)
    provider = connect(sim.url, limits=limits, wall_clock=fake_time.clock)

    for ref in provider.list_invoices(first_sync=False):
        provider.fetch_invoice(ref, "A")

    assert {r.status for r in sim.requests} == {200} and len(sim.requests) == 9
    assert fake_time.sleeps == [pytest.approx(1.02), pytest.approx(1.02)]


def test_a_window_starts_when_the_answer_arrives_not_when_the_request_left(
    fake_time: FakeTime,
) -> None:
    limiter = SlidingWindowLimiter(
        RateLimits(per_minute=2, per_hour=100), clock=fake_time.clock, sleep=fake_time.sleep
    )
    slow = limiter.acquire()  # t = 0
    fast = limiter.acquire()  # t = 0: both slots held while in flight
    fake_time.now += 5.0  # the first answer takes 5 s (queued somewhere on the way)
    limiter.settle(slow)  # dated t = 5
    limiter.settle(fast)

    limiter.acquire()  # the third waits for a full minute after the answers, not the sends
    assert fake_time.sleeps == [pytest.approx(60.0)]


def test_held_slots_count_before_any_answer(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(
        RateLimits(per_minute=3, per_hour=100), clock=fake_time.clock, sleep=fake_time.sleep
    )
    held = [limiter.acquire() for _ in range(3)]  # three in flight, none answered
    limiter.acquire()
    assert fake_time.sleeps == [pytest.approx(60.0)] and len(held) == 3


def test_workers_share_kept_alive_connections(simulator, connect) -> None:
    sim = simulator(months=12)
    provider = connect(sim.url, http=HttpSettings(concurrency=4))

    def fetch_all(ref: Any) -> None:
        provider.fetch_invoice(ref, "A")
        if not ref.is_preview:
            provider.download(ref, "pdf", io.BytesIO())

    refs = provider.list_invoices(first_sync=False)
    with cf.ThreadPoolExecutor(4) as pool:
        list(pool.map(fetch_all, refs))

    assert len(sim.requests) == provider.calls == 1 + 2 * 13 + 12
    assert sim.connections <= 4 + 2  # one per worker, at most the pool's two spare


# -- hostile or odd bodies (a tiny fake at the HTTP boundary) ----------------------------

Route = Callable[[Request], Any]


@pytest.fixture
def fake() -> Iterator[Callable[[dict[str, Route]], LoopbackServer]]:
    """A loopback server answering JSON from {path: route(request)}; a tuple is (status, body)."""
    servers: list[LoopbackServer] = []

    def start(routes: dict[str, Route]) -> LoopbackServer:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            request = Request(environ)
            answer = routes[request.path](request)
            status, body = answer if isinstance(answer, tuple) else (200, answer)
            response = Response(json.dumps(body), status, content_type="application/json")
            return response(environ, start_response)

        server = LoopbackServer(app)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def invoice(n: int) -> dict[str, str]:
    return {
        "invoice_uuid": f"u{n}",
        "invoice_id": str(100 + n),
        "amount": "1.00",
        "invoice_period": f"2025-{n % 12 + 1:02d}",
    }


def page_of(request: Request) -> int:
    return int(request.args.get("page", "1"))


def test_a_next_link_back_to_a_read_page_is_an_error(fake, connect) -> None:
    def invoices(request: Request) -> dict[str, Any]:
        other = 2 if page_of(request) == 1 else 1
        return {"invoices": [invoice(page_of(request))], "meta": {"total": 3},
                "links": {"pages": {"next": f"{request.host_url}v2/customers/my/invoices"
                                            f"?page={other}&per_page=200"}}}  # fmt: skip

    server = fake({INVOICES: invoices})

    with pytest.raises(MalformedResponse, match="pointed back to a page already read"):
        connect(server.url).list_invoices(first_sync=False)
    assert [r.query["page"] for r in server.requests] == ["1", "2"]


def test_meta_total_must_match_what_the_pages_held(fake, connect) -> None:
    def invoices(request: Request) -> dict[str, Any]:
        shown = [invoice(n) for n in range(3)] if page_of(request) == 1 else []
        return {"invoices": shown, "meta": {"total": 5}}

    server = fake({INVOICES: invoices})

    with pytest.raises(MalformedResponse, match="meta.total is 5 but the pages of invoices held 3"):
        connect(server.url).list_invoices(first_sync=False)
    assert [r.query["page"] for r in server.requests] == ["1", "2"]


def test_without_any_links_the_count_decides_and_links_stay_on_our_host(fake, connect) -> None:
    def invoices(request: Request) -> dict[str, Any]:
        page = page_of(request)
        shown = [invoice(n) for n in range((page - 1) * 200, min(page * 200, 250))]
        body: dict[str, Any] = {"invoices": shown, "meta": {"total": 250}}
        if page == 1:  # a link to another host is followed on ours: the token stays here
            body["links"] = {"pages": {"next": "https://elsewhere.example/v2/customers/my/"
                                               "invoices?page=2&per_page=200"}}  # fmt: skip
        return body

    server = fake({INVOICES: invoices})

    refs = connect(server.url).list_invoices(first_sync=False)

    assert len(refs) == 250
    assert [(r.path, r.query["page"]) for r in server.requests] == [
        (INVOICES, "1"),
        (INVOICES, "2"),
    ]


@pytest.mark.parametrize(("item", "named"), [
    ({"product": "Droplets", "description": "web"}, "item 2 of invoice u1 has no 'amount'"),
    ({"product": "Droplets", "amount": "x1"}, "item 2 of invoice u1 has a 'amount' that is not"),
    ({"product": 7, "amount": "1.00"}, "item 2 of invoice u1 has a 'product' that is not text"),
    ({"product": "Droplets", "amount": "1", "start_time": "soon"}, "'start_time'"),
    ("not an object", "item 2 of invoice u1 is not a JSON object"),
])  # fmt: skip
def test_a_bad_item_field_names_the_field_and_invoice(fake, connect, item, named) -> None:
    good = {"product": "Droplets", "description": "web", "amount": "1.00"}
    server = fake({
        INVOICES: lambda r: {"invoices": [invoice(1)], "meta": {"total": 1}},
        f"{INVOICES}/u1": lambda r: {"invoice_items": [good, item], "meta": {"total": 2}},
        f"{INVOICES}/u1/summary": lambda r: {"invoice_id": "101", "amount": "2.00",
                                             "billing_period": "2025-02"},
    })  # fmt: skip
    provider = connect(server.url)
    ref = provider.list_invoices(first_sync=False)[0]

    with pytest.raises(MalformedResponse) as caught:
        provider.fetch_invoice(ref, "A")
    assert named in str(caught.value)


@pytest.mark.parametrize(("body", "named"), [
    ({"invoices": [{"invoice_id": "1", "amount": "1", "invoice_period": "2025-01"}],
      "meta": {"total": 1}}, "has no 'invoice_uuid'"),
    ({"invoices": [dict(invoice(1), invoice_period="January")], "meta": {"total": 1}},
     "invoice u1 in the invoice list has a 'invoice_period' that is not YYYY-MM"),
    ({"meta": {"total": 0}}, "has no 'invoices' list"),
    ({"invoices": [], "meta": {"total": "0"}}, "'meta.total' that is not a count"),
    ({"invoices": [], "meta": {"total": 0}, "links": []}, "'links' that is not an object"),
])  # fmt: skip
def test_a_bad_listing_is_malformed_not_a_key_error(fake, connect, body, named) -> None:
    server = fake({INVOICES: lambda r: body})

    with pytest.raises(MalformedResponse) as caught:
        connect(server.url).list_invoices(first_sync=False)
    assert named in str(caught.value)


# -- secrets -----------------------------------------------------------------------------


@pytest.fixture
def billsync_log() -> Iterator[list[str]]:
    """Every billsync log line at DEBUG, formatted as it would be written (JSON)."""
    lines: list[str] = []
    formatter = JsonFormatter()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record) + repr(record.__dict__))

    logger = logging.getLogger("billsync")
    handler, level = Collect(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_the_token_is_never_in_logs_or_errors(simulator, connect, billsync_log) -> None:
    sim = simulator(months=2)
    provider = connect(sim.url)
    errors: list[BaseException] = []
    provider.account_label()
    ref = provider.list_invoices(first_sync=False)[0]
    provider.fetch_invoice(ref, "A")
    provider.download(ref, "pdf", io.BytesIO())
    for kind in ("401", "403", "500", "drop", "html", "malformed", "429"):
        sim.faults.add(kind, times=5)
        try:
            provider.list_invoices(first_sync=False)
        except ProviderError as exc:
            errors.append(exc)
        sim.faults.clear()

    assert len(errors) == 7 and len(billsync_log) >= 5 + 7
    assert not [line for line in billsync_log if DEMO_TOKEN in line or "Bearer" in line]
    assert not [e for e in errors if DEMO_TOKEN in f"{e} {e!r} {vars(e)}"]


def test_a_server_echoing_the_token_does_not_leak_it(fake, connect) -> None:
    token = "plain-secret-value-7f3a9c"  # no known token shape: only the explicit guard helps
    server = fake({INVOICES: lambda r: (400, {
        "id": "bad_request", "message": f"bad token {r.headers['Authorization'].split()[-1]}",
        "request_id": "rq-1"})})  # fmt: skip

    with pytest.raises(ProviderError) as caught:
        connect(server.url, token=token).list_invoices(first_sync=False)

    assert token not in str(caught.value) and token not in repr(vars(caught.value))
    assert caught.value.request_id == "rq-1" and caught.value.status == 400


# -- parse_error, the one reader of DO error bodies ---------------------------------------


def response(status: int, body: bytes = b"", **headers: str) -> httpx.Response:
    request = httpx.Request("GET", "https://api.digitalocean.com/v2/customers/my/invoices/u9")
    return httpx.Response(status, content=body, headers=headers, request=request)


@pytest.mark.parametrize(("answer", "error", "text", "request_id"), [
    (response(401, b'{"id":"unauthorized","message":"Unable to authenticate you.",'
                   b'"request_id":"r-1"}'),
     AuthError, "DigitalOcean rejected the token. DigitalOcean said: Unable to", "r-1"),
    (response(403, b"", **{"x-request-id": "r-2"}), PermissionError_, "lacks billing:read", "r-2"),
    (response(404, b'{"id":"not_found","message":"gone"}'), ProviderNotFound,
     "found nothing at /v2/customers/my/invoices/u9", None),
    (response(429, b'{"id":"too_many_requests","message":"API Rate limit exceeded."}'),
     RateLimited, "rate limit", None),
    (response(502, b"<html><body>502 Bad Gateway</body></html>",
              **{"content-type": "text/html", "x-request-id": "r-3"}),
     RetriableError, "HTML page", "r-3"),
    (response(500, b"{not json"), RetriableError, "server error (HTTP 500)", None),
    (response(418, b"teapot"), ProviderError, "refused the request (HTTP 418)", None),
])  # fmt: skip
def test_parse_error_reads_json_html_and_empty_bodies(answer, error, text, request_id) -> None:
    parsed = parse_error(answer)

    assert type(parsed) is error and parsed.provider == "digitalocean"
    assert text in str(parsed) and parsed.request_id == request_id
    assert parsed.action and parsed.status == answer.status_code
    assert "<html" not in str(parsed) and "teapot" not in str(parsed)


def test_an_unreachable_api_is_named_as_people_know_it_without_a_query(connect) -> None:
    with socket.socket() as closed:  # a port nothing listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]

    with pytest.raises(RetriableError) as unreachable:
        connect(f"http://127.0.0.1:{port}").list_invoices(first_sync=True)

    message = str(unreachable.value)
    assert message.startswith(f"Could not reach DigitalOcean at http://127.0.0.1:{port}/v2/")
    assert "?" not in message and "page" not in message
