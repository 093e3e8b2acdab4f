"""The DigitalOcean simulator over loopback HTTP: spec shapes, paging, limits, faults, files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pdfplumber
import pytest

from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator, DOSimConfig
from api.simulators.http_server import DROPPED
from tests.spec_check import conforms, response_schema

TODAY = dt.date(2026, 11, 21)
NO_BILLING = "dop_v1_" + "b" * 64
INVOICES = "/v2/customers/my/invoices"


@pytest.fixture
def sim() -> Iterator[DigitalOceanSimulator]:
    config = DOSimConfig(
        months=24,
        items_per_invoice=15,
        today=TODAY,
        tokens={DEMO_TOKEN: "billing", NO_BILLING: "no_billing"},
    )
    with DigitalOceanSimulator(config) as simulator:
        yield simulator


def client(sim: DigitalOceanSimulator, token: str = DEMO_TOKEN, **kwargs: Any) -> httpx.Client:
    return httpx.Client(
        base_url=sim.url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=kwargs.pop("timeout", 5.0),
        **kwargs,
    )


_CLIENTS: dict[str, httpx.Client] = {}  # building a client costs ~20 ms (TLS context): reuse


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.popitem()[1].close()


def get(sim: DigitalOceanSimulator, path: str, **params: Any) -> httpx.Response:
    if sim.url not in _CLIENTS:
        _CLIENTS[sim.url] = client(sim)
    return _CLIENTS[sim.url].get(path, params=params)


def money(text: str) -> Decimal:
    """'$1,234.50' / '-$10.00' / '12.34' -> Decimal."""
    return Decimal(text.replace("$", "").replace(",", ""))


def test_every_json_endpoint_serves_the_spec_shapes(sim: DigitalOceanSimulator) -> None:
    uuid = sim.invoices()[0]["invoice_uuid"]
    cases = {
        "/v2/account": "/v2/account",
        INVOICES: INVOICES,
        f"{INVOICES}/{uuid}": "/v2/customers/my/invoices/{invoice_uuid}",
        f"{INVOICES}/preview": "/v2/customers/my/invoices/{invoice_uuid}",
        f"{INVOICES}/{uuid}/summary": "/v2/customers/my/invoices/{invoice_uuid}/summary",
        f"{INVOICES}/preview/summary": "/v2/customers/my/invoices/{invoice_uuid}/summary",
        "/v2/customers/my/billing_history": "/v2/customers/my/billing_history",
        "/v2/customers/my/balance": "/v2/customers/my/balance",
    }
    for path, spec_path in cases.items():
        response = get(sim, path, per_page=5)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("application/json")
        assert conforms(response.json(), response_schema("digitalocean", spec_path), path) == []
        for header in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            assert response.headers[header].isdigit()
    account = get(sim, "/v2/account").json()["account"]
    assert account["team"]["name"] == "Acme Analytics"
    assert [r.path for r in sim.requests][:2] == ["/v2/account", INVOICES]
    assert sim.requests[1].query == {"per_page": "5"} and sim.requests[1].status == 200


def test_the_checker_itself_rejects_wrong_shapes() -> None:
    schema = response_schema("digitalocean", INVOICES)
    assert conforms({"invoices": [{"amount": 3}]}, schema)  # meta missing, amount not a string
    assert conforms({"invoices": [], "meta": {"total": 1}, "extra": 1}, schema)


def test_personal_account_and_no_preview() -> None:
    config = DOSimConfig(months=2, items_per_invoice=5, team=False, preview=False, today=TODAY)
    with DigitalOceanSimulator(config) as sim:
        account = get(sim, "/v2/account").json()["account"]
        listing = get(sim, INVOICES).json()
        preview = get(sim, f"{INVOICES}/preview")
    assert "team" not in account and account["email"]
    assert "invoice_preview" not in listing and listing["meta"] == {"total": 2}
    assert preview.status_code == 404


# -- listing and pagination ----------------------------------------------------------------


def walk(sim: DigitalOceanSimulator, path: str, key: str, per_page: int) -> list[dict[str, Any]]:
    """Follow links.pages.next from page 1; return every body."""
    bodies, url = [], f"{sim.url}{path}?per_page={per_page}"
    with client(sim) as http:
        while url:
            body = http.get(url).json()
            bodies.append(body)
            url = body.get("links", {}).get("pages", {}).get("next")
    return bodies


def test_listing_pages_are_sliced_server_side_with_absolute_links(
    sim: DigitalOceanSimulator,
) -> None:
    bodies = walk(sim, INVOICES, "invoices", per_page=10)

    assert [len(b["invoices"]) for b in bodies] == [10, 10, 4]
    assert all(b["meta"] == {"total": 24} for b in bodies)
    first, middle, last = (b["links"]["pages"] for b in bodies)
    base = f"{sim.url}{INVOICES}"
    assert first == {"next": f"{base}?page=2&per_page=10", "last": f"{base}?page=3&per_page=10"}
    assert set(middle) == {"first", "prev", "next", "last"}
    assert middle["prev"] == middle["first"] == f"{base}?page=1&per_page=10"
    assert last == {"first": f"{base}?page=1&per_page=10", "prev": f"{base}?page=2&per_page=10"}
    listed = [i for b in bodies for i in b["invoices"]]
    assert listed == sim.invoices()
    periods = [i["invoice_period"] for i in listed]
    assert periods == sorted(periods, reverse=True) and periods[0] == "2026-10"
    assert len({i["invoice_uuid"] for i in listed}) == 24
    assert all(b["invoice_preview"]["invoice_period"] == "2026-11" for b in bodies)
    assert [r.query.get("page") for r in sim.requests] == [None, "2", "3"]


def test_items_pages_cover_every_line_once(sim: DigitalOceanSimulator) -> None:
    uuid = sim.invoices()[3]["invoice_uuid"]
    bodies = walk(sim, f"{INVOICES}/{uuid}", "invoice_items", per_page=4)
    items = [i for b in bodies for i in b["invoice_items"]]
    assert items == sim.items(uuid) and len(bodies) == -(-len(items) // 4)
    assert all(b["meta"]["total"] == len(items) for b in bodies)


def test_default_and_maximum_page_sizes() -> None:
    with DigitalOceanSimulator(DOSimConfig(months=230, items_per_invoice=3, today=TODAY)) as sim:
        assert len(get(sim, INVOICES).json()["invoices"]) == 20
        assert len(get(sim, INVOICES, per_page=200).json()["invoices"]) == 200
        for params in ({"per_page": 201}, {"per_page": 0}, {"page": 0}, {"page": "x"}):
            response = get(sim, INVOICES, **params)
            assert response.status_code == 400 and response.json()["id"] == "bad_request"
        beyond = get(sim, INVOICES, page=9, per_page=100).json()
        assert beyond["invoices"] == [] and beyond["meta"] == {"total": 230}


@pytest.mark.parametrize(
    ("style", "links"),
    [
        ("full", {"pages": {"first": "?page=1&per_page=4", "prev": "?page=1&per_page=4"}}),
        ("missing", None),
        ("empty", {}),
        ("empty_pages", {"pages": {}}),
    ],
)
def test_last_page_links_styles(style: str, links: dict[str, Any] | None) -> None:
    config = DOSimConfig(months=6, items_per_invoice=3, today=TODAY, last_page_links=style)
    with DigitalOceanSimulator(config) as sim:
        first = get(sim, INVOICES, per_page=4).json()
        last = get(sim, INVOICES, per_page=4, page=2).json()
        only = get(sim, INVOICES, per_page=10).json()  # a single page is a last page too
    assert set(first["links"]["pages"]) == {"next", "last"}
    if links is None:
        assert "links" not in last and "links" not in only
        return
    if style == "full":
        base = f"{sim.url}{INVOICES}"
        links = {"pages": {k: base + v for k, v in links["pages"].items()}}
    assert last["links"] == links
    assert only["links"] == ({} if style == "full" else links)


# -- money adds up -------------------------------------------------------------------------


def test_summary_buckets_items_and_listing_agree_to_the_cent(sim: DigitalOceanSimulator) -> None:
    credits_seen = 0
    for entry in [*sim.invoices(), get(sim, INVOICES).json()["invoice_preview"]]:
        uuid = entry["invoice_uuid"]
        summary = get(sim, f"{INVOICES}/{uuid}/summary").json()
        items = get(sim, f"{INVOICES}/{uuid}", per_page=200).json()["invoice_items"]
        charges = summary["product_charges"]
        buckets = [
            charges,
            summary["overages"],
            summary["taxes"],
            summary["credits_and_adjustments"],
        ]
        assert sum(Decimal(b["amount"]) for b in buckets) == Decimal(summary["amount"])
        assert sum(Decimal(i["amount"]) for i in items) == Decimal(entry["amount"])
        assert Decimal(summary["amount"]) == Decimal(entry["amount"])
        assert sum(Decimal(i["amount"]) for i in charges["items"]) == Decimal(charges["amount"])
        assert sum(int(i["count"]) for i in charges["items"]) + sum(
            i["product"] in ("Taxes", "Credits", "Bandwidth") for i in items
        ) == len(items)
        assert all(re.fullmatch(r"-?\d+\.\d\d", i["amount"]) for i in items)
        assert re.fullmatch(r"\d{9}", summary["invoice_id"]) and summary["invoice_uuid"] == uuid
        credits_seen += Decimal(summary["credits_and_adjustments"]["amount"]) < 0
    assert credits_seen > 0


def test_lines_look_like_a_real_bill_with_awkward_text(sim: DigitalOceanSimulator) -> None:
    items = [i for e in sim.invoices() for i in sim.items(e["invoice_uuid"])]
    products = {i["product"] for i in items}
    assert {"Droplets", "Kubernetes Clusters", "Taxes", "Credits", "Volumes"} <= products
    assert any(i["description"] == "STATE SALES TAX (6.25%)" for i in items)
    assert any(i["description"][0] in "=+-@" for i in items)
    assert any(not i["description"].isascii() for i in items)
    assert any(
        i.get("group_description") == "my-doks-cluster"
        or i.get("group_description", "").startswith("db-")
        for i in items
    )
    hourly = [i for i in items if "duration" in i]
    assert all(i["duration_unit"] == "Hours" and i["duration"].isdigit() for i in hourly)
    lengths = [len(sim.items(e["invoice_uuid"])) for e in sim.invoices()]
    assert min(lengths) >= 3 and len(set(lengths)) > 1 and 11 <= sum(lengths) / 24 <= 19


def test_same_seed_same_account_other_seed_other_account() -> None:
    def snapshot(seed: int) -> tuple[Any, ...]:
        simulator = DigitalOceanSimulator(
            DOSimConfig(months=4, items_per_invoice=8, seed=seed, today=TODAY)
        )
        invoices = simulator.invoices()
        return invoices, [simulator.items(i["invoice_uuid"]) for i in invoices]

    assert snapshot(3) == snapshot(3)
    assert snapshot(3) != snapshot(4)


# -- state changes -------------------------------------------------------------------------


def test_advance_month_issues_the_preview_and_starts_a_new_one(sim: DigitalOceanSimulator) -> None:
    before = get(sim, INVOICES, per_page=200).json()
    sim.advance_month()
    after = get(sim, INVOICES, per_page=200).json()

    issued = after["invoices"][0]
    assert after["meta"]["total"] == 25 and after["invoices"][1:] == before["invoices"]
    assert issued["invoice_period"] == before["invoice_preview"]["invoice_period"] == "2026-11"
    assert issued["invoice_uuid"] != before["invoice_preview"]["invoice_uuid"]
    assert issued["invoice_id"] != before["invoice_preview"]["invoice_id"]
    assert Decimal(issued["amount"]) > Decimal(before["invoice_preview"]["amount"])  # full month
    assert after["invoice_preview"]["invoice_period"] == "2026-12"
    assert get(sim, f"{INVOICES}/{issued['invoice_uuid']}/pdf").status_code == 200


def test_touch_preview_grows_the_amount_and_moves_updated_at(sim: DigitalOceanSimulator) -> None:
    before = get(sim, INVOICES).json()["invoice_preview"]
    sim.touch_preview(Decimal("2.50"))
    after = get(sim, INVOICES).json()["invoice_preview"]
    items = get(sim, f"{INVOICES}/preview", per_page=200).json()["invoice_items"]

    assert Decimal(after["amount"]) == Decimal(before["amount"]) + Decimal("2.50")
    assert (
        after["updated_at"] > before["updated_at"]
        and after["invoice_uuid"] == before["invoice_uuid"]
    )
    assert sum(Decimal(i["amount"]) for i in items) == Decimal(after["amount"])
    assert get(sim, f"{INVOICES}/preview/summary").json()["amount"] == after["amount"]


# -- auth and errors -----------------------------------------------------------------------


def assert_error(response: httpx.Response, status: int, error_id: str) -> None:
    body = response.json()
    assert response.status_code == status and body["id"] == error_id and body["message"]
    assert body["request_id"] == response.headers["x-request-id"]


def test_auth_scope_and_missing_resources(sim: DigitalOceanSimulator) -> None:
    with httpx.Client(base_url=sim.url) as anonymous:
        assert_error(anonymous.get(INVOICES), 401, "unauthorized")
    with client(sim, token="dop_v1_" + "0" * 64) as stranger:
        response = stranger.get("/v2/account")
        assert_error(response, 401, "unauthorized")
        assert response.json()["message"] == "Unable to authenticate you."
    with client(sim, token=NO_BILLING) as limited:
        assert limited.get("/v2/account").status_code == 200
        for path in (INVOICES, f"{INVOICES}/preview/summary", "/v2/customers/my/balance"):
            assert_error(limited.get(path), 403, "forbidden")
    for path in (
        f"{INVOICES}/11111111-2222-4333-8444-555555555555",
        f"{INVOICES}/nope/pdf",
        f"{INVOICES}/preview/pdf",
        "/v2/droplets",
    ):
        assert_error(get(sim, path), 404, "not_found")
    assert [r.status for r in sim.requests] == [401, 401, 200, 403, 403, 403, 404, 404, 404, 404]


# -- rate limits ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_burst_and_hourly_limits_with_compressed_time() -> None:
    clock = Clock()
    config = DOSimConfig(
        months=1, items_per_invoice=3, today=TODAY, per_minute=3, per_hour=5, time_scale=0.01
    )  # windows of 0.6 s and 36 s
    with DigitalOceanSimulator(config, clock=clock) as sim, client(sim) as http:
        start = clock.now
        ok = [http.get("/v2/account") for _ in range(3)]
        assert [r.headers["ratelimit-remaining"] for r in ok] == ["4", "3", "2"]
        assert ok[0].headers["ratelimit-limit"] == "5"
        assert float(ok[0].headers["ratelimit-reset"]) == pytest.approx(start + 36)

        burst = http.get(INVOICES)
        assert_error(burst, 429, "too_many_requests")
        assert burst.json()["message"] == "API Rate limit exceeded."
        assert (
            burst.headers["retry-after"] == "0.60" and burst.headers["ratelimit-remaining"] == "0"
        )
        clock.now += 0.2
        assert http.get(INVOICES).headers["retry-after"] == "0.40"  # the 429s did not count

        clock.now += 0.41
        assert [http.get("/v2/account").status_code for _ in range(3)] == [200, 200, 429]
        clock.now += 0.7  # the burst window is clear; the hour holds 5
        hourly = http.get("/v2/account")
        assert hourly.status_code == 429
        assert float(hourly.headers["retry-after"]) == pytest.approx(36 - 1.31, abs=0.01)
        clock.now = start + 36.01
        assert http.get("/v2/account").status_code == 200
    assert [r.status for r in sim.requests].count(429) == 4


def test_real_time_scale_gives_whole_seconds() -> None:
    clock = Clock()
    config = DOSimConfig(months=1, items_per_invoice=3, today=TODAY, per_minute=1)
    with DigitalOceanSimulator(config, clock=clock) as sim, client(sim) as http:
        first = http.get("/v2/account")
        clock.now += 12.5
        second = http.get("/v2/account")
    assert first.headers["ratelimit-reset"] == str(int(1_800_000_000 + 3600))
    assert first.headers["ratelimit-remaining"] == "4999"
    assert second.status_code == 429 and second.headers["retry-after"] == "48"


# -- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "error_id"),
    [
        ("500", 500, "server_error"),
        ("502", 502, "bad_gateway"),
        ("503", 503, "service_unavailable"),
        ("401", 401, "unauthorized"),
        ("403", 403, "forbidden"),
        ("404", 404, "not_found"),
        ("429", 429, "too_many_requests"),
    ],
)
def test_status_faults_answer_in_digitalocean_error_shape(
    sim: DigitalOceanSimulator, kind: str, status: int, error_id: str
) -> None:
    sim.faults.add(kind, path=f"{INVOICES}/*/pdf", times=2)
    uuid = sim.invoices()[0]["invoice_uuid"]
    with client(sim) as http:
        assert http.get(INVOICES).status_code == 200  # another path: untouched
        faulted = [http.get(f"{INVOICES}/{uuid}/pdf") for _ in range(3)]
    for response in faulted[:2]:
        assert_error(response, status, error_id)
        assert "ratelimit-remaining" in response.headers
    assert ("retry-after" in faulted[0].headers) == (kind == "429")
    assert faulted[2].status_code == 200 and faulted[2].content.startswith(b"%PDF")
    assert [r.status for r in sim.requests] == [200, status, status, 200]


def test_malformed_html_drop_and_timeout_faults(sim: DigitalOceanSimulator) -> None:
    sim.faults.add("malformed", path=INVOICES)
    sim.faults.add("html", path=INVOICES)
    sim.faults.add("drop", path=INVOICES)
    sim.faults.add("timeout", path=INVOICES, delay=0.5)
    with client(sim, timeout=0.2) as http:
        malformed = http.get(INVOICES)
        assert malformed.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            malformed.json()
        html = http.get(INVOICES)
        assert html.status_code == 502 and html.headers["content-type"].startswith("text/html")
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(INVOICES)
        with pytest.raises(httpx.ReadTimeout):
            http.get(INVOICES)
        assert http.get(INVOICES).status_code == 200
    assert sim.faults.pending() == 0
    assert [r.status for r in sim.requests][:3] == [200, 502, DROPPED]
    with pytest.raises(ValueError):
        sim.faults.add("teapot")


def test_faults_clear_and_request_log_clear(sim: DigitalOceanSimulator) -> None:
    sim.faults.add("500", times=5)
    sim.faults.clear()
    assert get(sim, "/v2/account").status_code == 200
    sim.requests.clear()
    assert sim.requests == []


# -- documents -----------------------------------------------------------------------------


def test_pdf_is_a_real_invoice_with_its_number_and_total(sim: DigitalOceanSimulator) -> None:
    entry = sim.invoices()[0]
    response = get(sim, f"{INVOICES}/{entry['invoice_uuid']}/pdf")

    assert response.headers["content-type"] == "application/pdf"
    name = re.fullmatch(
        r'attachment; filename="DigitalOcean Invoice 2026 Oct \((\d{7})-(\d{9})\)'
        r'\.pdf"',
        response.headers["content-disposition"],
    )
    assert name and name.group(2) == entry["invoice_id"]
    with pdfplumber.open(io.BytesIO(response.content)) as pdf:
        text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "DigitalOcean" in text and f"Invoice number: {entry['invoice_id']}" in text
    assert f"${Decimal(entry['amount']):,.2f}" in text and "Taxes" in text
    twin = DigitalOceanSimulator(sim.config)
    assert twin.book.pdf(twin.book.find(entry["invoice_uuid"])) == response.content  # type: ignore


def test_pdf_survives_text_outside_latin1() -> None:
    config = DOSimConfig(months=8, items_per_invoice=4, today=TODAY)
    with DigitalOceanSimulator(config) as sim:
        tokyo = next(
            e
            for e in sim.invoices()
            if any("東京" in i["description"] for i in sim.items(e["invoice_uuid"]))
        )
        pdf = get(sim, f"{INVOICES}/{tokyo['invoice_uuid']}/pdf")
    with pdfplumber.open(io.BytesIO(pdf.content)) as document:
        text = "\n".join(page.extract_text() for page in document.pages)
    assert "-cache (s-1vcpu-1gb)" in text


def test_csv_is_digitaloceans_format_and_sums_to_the_amount(sim: DigitalOceanSimulator) -> None:
    for entry in sim.invoices()[:6]:
        response = get(sim, f"{INVOICES}/{entry['invoice_uuid']}/csv")
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"].endswith(f'-{entry["invoice_id"]}).csv"')
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert response.text.splitlines()[0] == (
            "product,group_description,description,hours,start,end,USD,project_name,category"
        )
        items = sim.items(entry["invoice_uuid"])
        assert [r["description"] for r in rows] == [i["description"] for i in items]
        assert sum(money(r["USD"]) for r in rows) == Decimal(entry["amount"])
        assert all(re.fullmatch(r"-?\$[\d,]+\.\d\d", r["USD"]) for r in rows)
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000", r["start"]) for r in rows)
        tax = rows[-1]
        assert (
            tax["product"] == "Taxes"
            and tax["hours"] == ""
            and tax["end"].endswith("23:59:59 +0000")
        )
    credit_rows = [
        r
        for e in sim.invoices()
        for r in csv.DictReader(io.StringIO(get(sim, f"{INVOICES}/{e['invoice_uuid']}/csv").text))
        if r["product"] == "Credits"
    ]
    assert credit_rows and all(r["USD"].startswith("-$") for r in credit_rows)


# -- connections and warming ---------------------------------------------------------------


def test_a_client_keeps_one_connection_alive_across_answers_and_errors(
    sim: DigitalOceanSimulator,
) -> None:
    uuid = sim.invoices()[0]["invoice_uuid"]
    with client(sim) as http:
        statuses = [
            http.get(INVOICES).status_code,
            http.get(f"{INVOICES}/{uuid}/pdf").status_code,
            http.get(f"{INVOICES}/nope/summary").status_code,
            http.get(INVOICES, params={"per_page": 0}).status_code,
            http.head(f"{INVOICES}/{uuid}/csv").status_code,
            http.get(f"{INVOICES}/{uuid}", params={"per_page": 200}).status_code,
        ]
    assert statuses == [200, 200, 404, 400, 200, 200]
    assert sim.connections == 1


def test_a_client_that_asks_to_close_gets_a_closed_connection(sim: DigitalOceanSimulator) -> None:
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}", "Connection": "close"}
    with httpx.Client(base_url=sim.url, headers=headers) as http:
        answers = [http.get("/v2/account") for _ in range(3)]
    assert [a.headers["connection"] for a in answers] == ["close"] * 3
    assert sim.connections == 3


def test_an_http_1_0_request_gets_its_length_and_a_close(sim: DigitalOceanSimulator) -> None:
    host, port = sim.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            f"GET /v2/account HTTP/1.0\r\nAuthorization: Bearer {DEMO_TOKEN}\r\n\r\n".encode()
        )
        received = b""
        while chunk := raw.recv(65536):  # the server hangs up after the answer
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head
    length = re.search(rb"Content-Length: (\d+)", head)
    assert length is not None and int(length.group(1)) == len(body)
    assert json.loads(body)["account"]["email"]


def test_a_dropped_answer_costs_its_connection_only(sim: DigitalOceanSimulator) -> None:
    sim.faults.add("drop", path="/v2/account")
    with client(sim) as http:
        assert http.get(INVOICES).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/v2/account")
        assert [http.get(INVOICES).status_code for _ in range(3)] == [200, 200, 200]
    assert sim.connections == 2


def read_answer(raw: socket.socket) -> tuple[bytes, bytes]:
    """One HTTP answer off a raw socket: (head, body), the body as long as Content-Length."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += raw.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"Content-Length: (\d+)", head)
    assert length is not None
    while len(body) < int(length.group(1)):
        body += raw.recv(65536)
    return head, body


def test_stop_hangs_up_on_idle_kept_alive_connections() -> None:
    config = DOSimConfig(months=1, items_per_invoice=3, today=TODAY)
    sim = DigitalOceanSimulator(config)
    sim.start()
    host, port = sim.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        request = f"GET /v2/account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEMO_TOKEN}"
        raw.sendall(f"{request}\r\n\r\n".encode())
        head, body = read_answer(raw)
        assert head.startswith(b"HTTP/1.1 200") and json.loads(body)["account"]
        sim.stop()
        raw.settimeout(2)
        assert raw.recv(65536) == b""  # closed by the server, not left to its idle timeout


def test_warming_renders_every_answer_without_touching_limits_or_changing_one() -> None:
    config = DOSimConfig(months=3, items_per_invoice=250, today=TODAY, per_hour=100)
    with DigitalOceanSimulator(config) as cold, DigitalOceanSimulator(config) as warm:
        with pytest.raises(RuntimeError):
            DigitalOceanSimulator(config).warm()  # not started: no URL for the links yet
        rendered = warm.warm()
        paths = [f"{INVOICES}?page=1&per_page=200"]
        for uuid in [e["invoice_uuid"] for e in cold.invoices()] + ["preview"]:
            pages = math.ceil(len(cold.items(uuid)) / 200)
            paths += [f"{INVOICES}/{uuid}?page={p}&per_page=200" for p in range(1, pages + 1)]
            paths += [f"{INVOICES}/{uuid}/summary"]
            paths += [f"{INVOICES}/{uuid}/{kind}" for kind in ("pdf", "csv") if uuid != "preview"]
        assert rendered == len(paths) and warm.requests == []

        with client(cold) as cold_http, client(warm) as warm_http:
            for path in paths:
                expected = cold_http.get(path)
                answer = warm_http.get(path)
                assert answer.content.replace(
                    warm.url.encode(), b"URL"
                ) == expected.content.replace(cold.url.encode(), b"URL")
                assert answer.headers["content-type"] == expected.headers["content-type"]
        assert answer.headers["ratelimit-remaining"] == str(100 - len(paths))


# -- the command line ----------------------------------------------------------------------


def test_cli_serves_until_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "api.simulators.digitalocean", "--port", "0", "--months", "3",
         "--items", "5", "--time-scale", "0.0167", "--token", "dop_v1_" + "c" * 64,
         "--personal", "--no-preview"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        # The URL and the token it accepts (issue 9: the DoiT simulator printed its key already).
        assert re.fullmatch(rf"serving http://127\.0\.0\.1:\d+  \(token: {DEMO_TOKEN}\)", line)
        url = line.split()[1]
        response = httpx.get(
            f"{url}{INVOICES}", headers={"Authorization": "Bearer dop_v1_" + "c" * 64}
        )
        assert response.json()["meta"] == {"total": 3} and "invoice_preview" not in response.json()
        assert "." in response.headers["ratelimit-reset"]  # compressed time: fractional
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
