"""DoitProvider against the DoiT simulator over loopback HTTP: listing, mapping, errors, retries."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import socket
from collections.abc import Callable, Iterator
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from api import logs
from api.core.money import quantize
from api.errors import (
    AuthError,
    ConfigError,
    PermissionError_,
    ProviderError,
    ProviderNotFound,
    RateLimited,
    RetriableError,
)
from api.providers.doit import DoitProvider, parse_error
from api.settings import HttpSettings
from api.simulators.doit import DEMO_KEY, INVOICE_VIEWER, DoitSimConfig, DoitSimulator
from api.simulators.doit_data import SimInvoice, SimLine

LIST = "/billing/v1/invoices"
FAST = HttpSettings(
    timeout=2.0, max_attempts=3, max_retry_delay=0.01, max_total_delay=5.0, quota_window=0.0
)
KEYS = {
    DEMO_KEY: {"tenants": ["acme-inc"], "permissions": [INVOICE_VIEWER],
               "domain": "acme.example"},
    "multi-key": {"tenants": ["acme-inc", "globex"], "permissions": [INVOICE_VIEWER]},
    "legacy-key": {"tenants": ["acme-inc", "globex"], "permissions": [INVOICE_VIEWER],
                   "legacy": True},
    "no-viewer-key": {"tenant": "acme-inc", "permissions": []},
}  # fmt: skip


@pytest.fixture
def sim() -> Iterator[DoitSimulator]:
    with DoitSimulator(DoitSimConfig(keys=KEYS, tenants=("acme-inc", "globex"))) as simulator:
        yield simulator


@pytest.fixture
def connect(sim: DoitSimulator) -> Iterator[Callable[..., DoitProvider]]:
    made: list[DoitProvider] = []

    def make(key: str = DEMO_KEY, **options: object) -> DoitProvider:
        options.setdefault("http", FAST)
        options.setdefault("clock", lambda: sim.now)
        provider = DoitProvider(key, base_url=sim.url, **options)  # type: ignore[arg-type]
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


def listed(sim: DoitSimulator) -> list:
    return [r for r in sim.requests if r.path == LIST]


def test_account_label_is_tenant_or_validated_domain(sim, connect) -> None:
    assert connect().account_label() == "acme.example"
    assert connect("multi-key", tenant_id="globex").account_label() == "globex"
    assert [r.path for r in sim.requests] == ["/auth/v1/validate"] * 2
    with pytest.raises(AuthError) as refused:
        connect("wrong-key").account_label()
    assert "Invalid API key" in str(refused.value) and "wrong-key" not in str(refused.value)


def test_first_sync_reads_full_history_in_pages(sim, connect) -> None:
    provider = connect(page_size=10)
    refs = provider.list_invoices(first_sync=True)
    visible = sim.visible("acme-inc")
    assert [ref.invoice_id for ref in refs] == [inv.id for inv in visible]
    pages = listed(sim)
    assert len(pages) == -(-len(visible) // 10) and provider.calls == len(pages) + 1
    assert all("minCreationTime" not in r.query and r.query["maxResults"] == "10" for r in pages)
    assert "pageToken" not in pages[0].query and all("pageToken" in r.query for r in pages[1:])
    ref = refs[0]
    assert ref.key == f"doit:acme.example:{ref.invoice_id}" and ref.handle == {"id": ref.invoice_id}
    assert (
        ref.version == f"{visible[0].status(sim.now_ms)}|{visible[0].balance(sim.now_ms)}|"
        f"{visible[0].total}"
    )


@pytest.mark.parametrize("window_days", [120, 30])
def test_later_syncs_read_an_overlapping_creation_window(sim, connect, window_days) -> None:
    refs = connect(window_days=window_days).list_invoices(first_sync=False)
    since = int((sim.now - dt.timedelta(days=window_days)).timestamp() * 1000)
    assert listed(sim)[0].query["minCreationTime"] == str(since)
    expected = [inv.id for inv in sim.visible("acme-inc") if inv.created_ms >= since]
    assert [ref.invoice_id for ref in refs] == expected
    assert 0 < len(expected) < len(sim.visible("acme-inc"))


def test_window_re_read_catches_late_posted_invoices_and_changes(sim, connect) -> None:
    provider = connect()
    first = {ref.key: ref for ref in provider.list_invoices(first_sync=True)}
    synced_ms = sim.now_ms
    sim.advance(days=17)  # December's invoices are dated the 1st but post days later
    later = {ref.key: ref for ref in provider.list_invoices(first_sync=False)}
    posted = [inv for inv in sim.visible("acme-inc") if inv.created_ms > synced_ms]
    assert {key for key in later if key not in first} == {
        f"doit:acme.example:{inv.id}" for inv in posted
    }
    assert posted and all(inv.created_ms - inv.invoice_ms > 2 * 86_400_000 for inv in posted)
    updated = [key for key in set(later) & set(first) if later[key].version != first[key].version]
    assert updated  # same key, new version: the engine updates the row in place
    for key in updated:
        fetched = provider.fetch_invoice(later[key], "acme.example").invoice
        assert fetched.key == key
        assert f"{fetched.status}|{fetched.balance_due}|{fetched.total}" == later[key].version


def test_status_and_balance_transitions_produce_a_new_version(sim, connect) -> None:
    provider = connect()
    target = next(inv for inv in sim.visible("acme-inc")
                  if inv.status(sim.now_ms) == "OPEN" and inv.payments)  # fmt: skip
    ref = next(r for r in provider.list_invoices(first_sync=True) if r.invoice_id == target.id)
    before = provider.fetch_invoice(ref, "acme.example").invoice
    sim.advance(days=60)
    again = next(r for r in provider.list_invoices(first_sync=False) if r.invoice_id == target.id)
    after = provider.fetch_invoice(again, "acme.example").invoice
    assert again.key == ref.key and again.version != ref.version
    assert (before.status, after.status) == ("OPEN", "PAID")
    assert before.balance_due > 0 and after.balance_due == 0 and after.total == before.total


@pytest.mark.parametrize(("filters", "expected_filter"), [
    ({"platform": ["google-cloud", "looker"]}, "platform:google-cloud|platform:looker"),
    ({"platform": ["g-suite"], "status": ["PAID"]}, "platform:g-suite|status:PAID"),
    ({"status": ["OPEN", "PAST DUE"], "platform": ["office-365"]},
     "status:OPEN|status:PAST DUE|platform:office-365"),
])  # fmt: skip
def test_filters_are_sent_and_applied_server_side(sim, connect, filters, expected_filter) -> None:
    refs = connect(filters=filters).list_invoices(first_sync=True)
    assert listed(sim)[0].query["filter"] == expected_filter
    now = sim.now_ms
    expected = [inv.id for inv in sim.visible("acme-inc")
                if inv.platform in filters.get("platform", [inv.platform])
                and inv.status(now) in filters.get("status", [inv.status(now)])]  # fmt: skip
    assert expected and [ref.invoice_id for ref in refs] == expected


@pytest.mark.parametrize("filters", [
    {"platform": ["google-cloud", "looker"], "status": ["OPEN", "PAID"]},  # DoiT rejects it
    {"owner": ["me"]},
])  # fmt: skip
def test_unusable_filters_fail_before_any_call(sim, connect, filters) -> None:
    with pytest.raises(ConfigError):
        connect(filters=filters)
    assert sim.requests == []


def test_expired_page_token_restarts_the_listing_once(sim, connect) -> None:
    sim.faults.add("token_expired", times=1)
    refs = connect(page_size=20).list_invoices(first_sync=True)
    assert [ref.invoice_id for ref in refs] == [inv.id for inv in sim.visible("acme-inc")]
    statuses = [(("pageToken" in r.query), r.status) for r in listed(sim)]
    assert statuses[:3] == [(False, 200), (True, 400), (False, 200)]  # restarted from page one
    assert len(statuses) == 2 + -(-len(refs) // 20)


def test_page_token_rejected_twice_fails_clearly(sim, connect) -> None:
    sim.faults.add("token_expired", times=2)
    with pytest.raises(ProviderError) as failed:
        connect(page_size=20).list_invoices(first_sync=True)
    assert "expired twice" in str(failed.value) and "Run the sync again" in str(failed.value)
    assert len(listed(sim)) == 4 and sim.faults.pending() == 0


def test_real_token_expiry_between_pages_restarts(connect) -> None:
    config = DoitSimConfig(keys=KEYS, token_ttl=0.0)  # every token is stale on arrival
    with DoitSimulator(config) as simulator:
        provider = DoitProvider(DEMO_KEY, base_url=simulator.url, http=FAST, page_size=30)
        with pytest.raises(ProviderError, match="expired twice"):
            provider.list_invoices(first_sync=True)
        provider.close()
        codes = [r.status for r in simulator.requests if r.path == LIST]
    assert codes == [200, 400, 200, 400]


@pytest.mark.parametrize(("key", "options", "error", "fragment"), [
    ("wrong-key", {"tenant_id": "acme-inc"}, AuthError, "rejected the API key"),
    ("no-viewer-key", {}, PermissionError_, "Invoice Viewer"),
    ("multi-key", {}, ProviderError, "--tenant"),
    ("multi-key", {"tenant_id": "initech"}, ProviderError, "not one this API key may access"),
])  # fmt: skip
def test_error_table_over_http(sim, connect, key, options, error, fragment) -> None:
    with pytest.raises(error) as raised:
        connect(key, **options).list_invoices(first_sync=True)
    assert fragment in str(raised.value) and raised.value.action
    assert raised.value.request_id and raised.value.request_id.startswith("req_")
    assert key not in str(raised.value)
    assert len(listed(sim)) == 1  # 4xx is not retried


def test_tenant_header_and_legacy_customer_context(sim, connect) -> None:
    refs = connect("legacy-key", tenant_id="globex").list_invoices(first_sync=True)
    assert [ref.invoice_id for ref in refs] == [inv.id for inv in sim.visible("globex")]
    assert refs[0].key.startswith("doit:globex:")
    assert listed(sim)[0].query["customerContext"] == "globex"
    assert sim.requests[0].path == LIST  # a tenant id labels the account without validating


def test_unknown_invoice_is_not_found(connect) -> None:
    provider = connect()
    ref = provider.list_invoices(first_sync=True)[0]
    from dataclasses import replace

    with pytest.raises(ProviderNotFound):
        provider.fetch_invoice(replace(ref, handle={"id": "IN000000"}), "acme.example")


def test_429_backs_off_from_2s_doubling_and_succeeds(sim, connect) -> None:
    slept: list[float] = []
    http = HttpSettings(timeout=2.0, max_attempts=6, max_total_delay=300.0)
    sim.faults.add("429", times=4)
    assert connect(http=http, sleep=slept.append).account_label() == "acme.example"
    assert len(slept) == 4 and len(sim.requests) == 5
    for wait, cap in zip(slept, (2, 4, 8, 16), strict=True):
        assert cap / 2 <= wait <= cap


def test_429_backoff_is_capped_at_60s_and_bounded(sim, connect) -> None:
    slept: list[float] = []
    http = HttpSettings(timeout=2.0, max_attempts=9, max_total_delay=600.0)
    sim.faults.add("429", times=50)
    with pytest.raises(RateLimited):
        connect(http=http, sleep=slept.append).list_invoices(first_sync=True)
    assert len(sim.requests) == 9 and len(slept) == 8
    assert max(slept) <= 60 and slept[-1] >= 30


def test_524_from_the_proxy_is_retried_and_timeout_exceeds_120s(sim, connect) -> None:
    sim.faults.add("524", path=f"{LIST}*")
    provider = connect(http=HttpSettings(timeout=5.0, max_attempts=3, max_retry_delay=0.01))
    assert provider.list_invoices(first_sync=True)
    assert [r.status for r in listed(sim)][:2] == [524, 200]
    assert provider._api._client.timeout.read >= 125  # DoiT answers within 120 s or a 524


def test_mapping_of_every_column(sim, connect) -> None:
    provider = connect()
    target = next(inv for inv in sim.visible("acme-inc") if inv.platform == "g-suite")
    ref = next(r for r in provider.list_invoices(first_sync=True) if r.invoice_id == target.id)
    fetched = provider.fetch_invoice(ref, "acme.example")
    now = sim.now_ms
    assert fetched.documents == ()
    invoice = fetched.invoice
    utc = dt.UTC
    amounts = [quantize(line.qty * line.price, "GBP") for line in target.lines]
    typed = list(zip(amounts, [line.type for line in target.lines], strict=True))

    def of(*types: str) -> Decimal:
        return sum((amount for amount, kind in typed if kind in types), Decimal("0.00"))

    assert invoice.row() == {
        "Provider": "DoiT", "Account": "acme.example", "Invoice ID": target.id,
        "Invoice Key": f"doit:acme.example:{target.id}",
        "Period": dt.datetime.fromtimestamp(target.invoice_ms / 1000, utc).strftime("%Y-%m"),
        "Invoice Date": dt.datetime.fromtimestamp(target.invoice_ms / 1000, utc).date(),
        "Due Date": dt.datetime.fromtimestamp(target.due_ms / 1000, utc).date(),
        "Status": target.status(now), "Currency": "GBP",
        "Product Charges": of("usage"), "Overages": None, "Taxes": of("tax"),
        "Credits & Adjustments": of("credit", "discount"),
        "Total": target.total, "Balance Due": target.balance(now),
        "Line Items": len(target.lines), "Line Items Total": target.total, "Reconciled": True,
        "PDF": "", "CSV": "",
        "Source URL": f"https://console.doit.com/customers/acme-inc/invoices/gbp-profile/{target.id}",
        "Synced At": None, "PDF Total": None, "Review": "",
    }  # fmt: skip
    first = fetched.lines[0].row()
    source = target.lines[0]
    assert first == {
        "Provider": "DoiT", "Account": "acme.example", "Invoice ID": target.id,
        "Invoice Key": invoice.key, "Period": invoice.period, "Product": "g-suite",
        "Category": "Platform", "Description": source.description, "Group": source.details,
        "Project": "", "Resource ID": "", "Resource UUID": "", "Start": None, "End": None,
        "Duration": None, "Unit": "", "Quantity": source.qty, "Unit Price": source.price,
        "Amount": amounts[0], "Currency": "GBP", "Line Key": f"{invoice.key}#1",
    }  # fmt: skip
    categories = {line.description: line.category for line in fetched.lines}
    assert categories[f"VAT {Decimal('0.20') * 100:.0f}%"] == "Tax"
    assert all(line.currency == "GBP" for line in fetched.lines)  # omitted -> the invoice's


def test_decimal_exactness_and_jpy_minor_units(sim, connect) -> None:
    provider = connect()
    refs = {r.invoice_id: r for r in provider.list_invoices(first_sync=True)}
    gcp = next(inv for inv in sim.visible("acme-inc") if inv.platform == "google-cloud")
    lines = provider.fetch_invoice(refs[gcp.id], "acme.example").lines
    gke = next(line for line in lines if line.description == "Kubernetes Engine")
    assert (gke.quantity, gke.unit_price, gke.amount) == (Decimal(3), Decimal("0.1"),
                                                          Decimal("0.30"))  # fmt: skip
    assert gke.category == "Kubernetes"
    jpy = next(inv for inv in sim.visible("acme-inc") if inv.currency == "JPY")
    fetched = provider.fetch_invoice(refs[jpy.id], "acme.example")
    assert fetched.invoice.total.as_tuple().exponent == 0
    assert all(line.amount.as_tuple().exponent == 0 for line in fetched.lines)
    assert fetched.invoice.reconciled is True
    # issued 20:00 UTC on a month's last day: that UTC day and month, whatever the host zone
    issued = dt.datetime.fromtimestamp(jpy.invoice_ms / 1000, dt.UTC)
    assert issued.hour == 20 and fetched.invoice.invoice_date == issued.date()
    assert fetched.invoice.period == issued.strftime("%Y-%m")


def test_multi_currency_lines_are_never_summed_across_currencies(sim, connect) -> None:
    odd = SimInvoice("acme-inc", "IN999999999", "microsoft-azure", "EUR", sim.now_ms - 10**8,
                     sim.now_ms + 10**9, sim.now_ms - 10**8, (
                         SimLine("usage", "Virtual Machines", "EU", Decimal(2), Decimal("10.5"),
                                 "EUR"),
                         SimLine("usage", "Marketplace fee", "billed in USD", Decimal(1),
                                 Decimal("7.25"), "USD")))  # fmt: skip
    sim.invoices.append(odd)
    provider = connect()
    ref = next(r for r in provider.list_invoices(first_sync=True) if r.invoice_id == odd.id)
    fetched = provider.fetch_invoice(ref, "acme.example")
    assert [line.currency for line in fetched.lines] == ["EUR", "USD"]
    assert fetched.invoice.lines_total == Decimal("21.00")
    assert fetched.invoice.product_charges == Decimal("21.00")
    assert fetched.invoice.reconciled is False  # 28.25 total cannot be checked across currencies


def test_download_is_refused_and_points_to_the_console(connect) -> None:
    provider = connect()
    ref = provider.list_invoices(first_sync=True)[0]
    with pytest.raises(ProviderError, match="no PDF") as refused:
        provider.download(ref, "pdf", io.BytesIO())
    assert "Source URL" in str(refused.value)


def test_api_key_never_reaches_errors_or_logs(sim, connect) -> None:
    stream = io.StringIO()
    logs.configure(logging.DEBUG, stream=stream)
    try:
        secret = "sk-live-" + "7" * 24
        sim.faults.add("500", times=1)
        with pytest.raises(AuthError) as refused:
            connect(secret, tenant_id="acme-inc").list_invoices(first_sync=True)
    finally:
        logs.configure(logging.WARNING)
    assert secret not in str(refused.value) and secret not in stream.getvalue()
    assert "/billing/v1/invoices" in stream.getvalue()  # the calls were logged, redacted


def test_a_server_echoing_the_api_key_does_not_leak_it() -> None:
    secret = "plain-doit-key-5e1b27"  # no known key shape: only the explicit guard helps

    def echo(request: httpx.Request) -> httpx.Response:
        said = f"key {request.headers['Authorization'].split()[-1]} is not allowed here"
        return httpx.Response(403, json={"error": said, "details": said})

    provider = DoitProvider(
        secret, base_url="https://api.doit.com", http=FAST, tenant_id="acme-inc",
        transport=httpx.MockTransport(echo),
    )  # fmt: skip
    with contextlib.closing(provider), pytest.raises(ProviderError) as refused:
        provider.list_invoices(first_sync=True)

    assert refused.value.status == 403 and "[redacted]" in str(refused.value)
    assert secret not in f"{refused.value} {refused.value!r} {vars(refused.value)}"


def test_urls_in_messages_and_logs_carry_no_query_values(sim, connect) -> None:
    stream = io.StringIO()
    logs.configure(logging.DEBUG, stream=stream)
    try:
        # Several pages (page tokens) and a window (minCreationTime) all travel in the query.
        connect(page_size=2).list_invoices(first_sync=False)
        with socket.socket() as closed:  # a port nothing listens on: the connection is refused
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        with pytest.raises(RetriableError) as unreachable:
            DoitProvider(DEMO_KEY, base_url=f"http://127.0.0.1:{port}", http=FAST,
                         sleep=lambda s: None, account="acme.example",
                         ).list_invoices(first_sync=False)  # fmt: skip
    finally:
        logs.configure(logging.WARNING)
    message = str(unreachable.value)
    assert f"at http://127.0.0.1:{port}{LIST} (ConnectError)" in message and "?" not in message
    logged = [json.loads(line) for line in stream.getvalue().splitlines()]
    calls = [e for e in logged if "httpRequest" in e]
    urls = [e["httpRequest"]["requestUrl"] for e in calls]
    assert any("pageToken=…" in url for url in urls) and any(
        "minCreationTime=…" in url for url in urls
    )
    assert all(value == "…" for url in urls for _, value in parse_qsl(urlsplit(url).query)), urls
    assert all(e["httpRequest"]["requestUrl"] in e["message"] for e in calls)


def _response(status: int, body: str, content_type: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, text=body, headers={"content-type": content_type, **headers},
                          request=httpx.Request("GET", "https://api.doit.com" + LIST))  # fmt: skip


@pytest.mark.parametrize(("response", "error", "fragment"), [
    (_response(401, '{"type": "x", "title": "Unauthorized", "status": 401, "detail": "missing '
               'or invalid bearer token", "instance": "i", "code": "unauthorized", '
               '"retryable": false}', "application/problem+json", **{"Request-Id": "req_1"}),
     AuthError, "bearer token"),
    (_response(401, '{"error": "Invalid API key"}', "application/json"), AuthError,
     "Invalid API key"),
    (_response(403, '{"error": "forbidden"}', "application/json"), PermissionError_,
     "Invoice Viewer"),
    (_response(400, '{"error": "customerContext is required"}', "application/json"),
     ProviderError, "tenant"),
    (_response(400, '{"code": "tenant_id_mismatch", "detail": "no", "status": 400}',
               "application/problem+json"), ProviderError, "--tenant"),
    (_response(524, "<html>524: A timeout occurred</html>", "text/html"), RetriableError,
     "HTML page"),
    (_response(409, '{"code": "conflict", "detail": "busy", "retryable": true}',
               "application/problem+json"), RetriableError, "busy"),
    (_response(418, "", "text/plain"), ProviderError, "HTTP 418"),
])  # fmt: skip
def test_parse_error_reads_every_body_shape(response, error, fragment) -> None:
    parsed = parse_error(response)
    assert type(parsed) is error and fragment in str(parsed)
    assert parsed.provider == "DoiT" and parsed.status == response.status_code
