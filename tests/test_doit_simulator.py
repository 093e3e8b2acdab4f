"""The DoiT simulator speaks the documented wire format: paging, filters, auth, time, faults."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from itertools import pairwise

import httpx
import pytest

from api.simulators.doit import DEMO_KEY, INVOICE_VIEWER, DoitSimConfig, DoitSimulator

LIST = "/billing/v1/invoices"
AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
SUMMARY_FIELDS = {"id", "invoiceDate", "platform", "dueDate", "status", "totalAmount",
                  "balanceAmount", "currency", "url"}  # fmt: skip
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code", "retryable"}

KEYS = {
    DEMO_KEY: {"tenant": "acme-inc", "permissions": [INVOICE_VIEWER], "domain": "acme.example"},
    "multi-key": {"tenant": None, "permissions": [INVOICE_VIEWER]},
    "legacy-key": {"tenant": None, "permissions": [INVOICE_VIEWER], "legacy": True},
    "no-viewer-key": {"tenant": "acme-inc", "permissions": ["Billing Profiles Admin"]},
}


@pytest.fixture
def sim() -> Iterator[DoitSimulator]:
    config = DoitSimConfig(tenants=("acme-inc", "globex"), keys=KEYS, token_ttl=60.0)
    with DoitSimulator(config) as simulator:
        yield simulator


def get(sim: DoitSimulator, path: str = LIST, headers: dict[str, str] | None = None,
        **params: object) -> httpx.Response:  # fmt: skip
    return httpx.get(sim.url + path, headers=AUTH if headers is None else headers,
                     params={k: v for k, v in params.items() if v is not None})  # fmt: skip


def walk(sim: DoitSimulator, **params: object) -> tuple[list[dict], list[dict]]:
    """All invoices of a listing and the page bodies, following pageToken to the end."""
    pages, invoices, token = [], [], None
    while True:
        body = get(sim, pageToken=token, **params).json()
        pages.append(body)
        invoices.extend(body.get("invoices", []))
        token = body.get("pageToken")
        if not token:
            return invoices, pages


def test_listing_matches_the_documented_shape(sim: DoitSimulator) -> None:
    response = get(sim, maxResults=5)
    assert response.status_code == 200
    assert re.fullmatch(r"req_[0-9A-HJKMNP-TV-Z]{26}", response.headers["Request-Id"])
    assert response.headers["Content-Language"] == "en"
    body = response.json()
    assert body["rowCount"] == 5 and isinstance(body["pageToken"], str) and body["pageToken"]
    for invoice in body["invoices"]:
        assert set(invoice) == SUMMARY_FIELDS
        assert isinstance(invoice["invoiceDate"], int) and isinstance(invoice["dueDate"], int)
        assert invoice["status"] in {"OPEN", "PAST DUE", "PAID"}
    dates = [invoice["invoiceDate"] for invoice in body["invoices"]]
    assert dates == sorted(dates, reverse=True)  # reverse chronological by default


def test_pages_cover_every_posted_invoice_once_and_end_with_an_empty_token(
    sim: DoitSimulator,
) -> None:
    invoices, pages = walk(sim, maxResults=7)
    expected = [inv.id for inv in sim.visible("acme-inc")]
    assert [invoice["id"] for invoice in invoices] == expected
    assert len(pages) == -(-len(expected) // 7)
    assert pages[-1]["pageToken"] == ""
    assert all(inv.created_ms <= sim.now_ms for inv in sim.visible("acme-inc"))
    assert len(expected) < len([inv for inv in sim.invoices if inv.tenant == "acme-inc"])


def test_last_page_may_omit_the_token_and_default_page_size_is_50() -> None:
    with DoitSimulator(DoitSimConfig(end_token=None)) as simulator:
        body = get(simulator).json()
        assert body["rowCount"] == 50
        last = get(simulator, pageToken=body["pageToken"]).json()
    assert "pageToken" not in last
    assert body["rowCount"] + last["rowCount"] == len(simulator.visible("acme-inc"))


def test_filters_or_within_a_key_and_across_keys(sim: DoitSimulator) -> None:
    gcp_or_aws, _ = walk(sim, filter="platform:google-cloud|platform:amazon-web-services")
    assert {inv["platform"] for inv in gcp_or_aws} == {"google-cloud", "amazon-web-services"}
    assert len(gcp_or_aws) == sum(inv.platform in ("google-cloud", "amazon-web-services")
                                  for inv in sim.visible("acme-inc"))  # fmt: skip
    paid_gcp, _ = walk(sim, filter="platform:[google-cloud]|status:PAID")
    assert paid_gcp and {(i["platform"], i["status"]) for i in paid_gcp} == {
        ("google-cloud", "PAID")
    }
    open_or_late, _ = walk(sim, filter="status:OPEN|status:PAST DUE")
    assert {inv["status"] for inv in open_or_late} == {"OPEN", "PAST DUE"}
    one = gcp_or_aws[0]
    by_due, _ = walk(sim, filter=f"dueDate:{one['dueDate']}|platform:{one['platform']}")
    assert one["id"] in {inv["id"] for inv in by_due}
    assert {inv["dueDate"] for inv in by_due} == {one["dueDate"]}


@pytest.mark.parametrize("expression", [
    "platform:google-cloud|platform:looker|status:OPEN|status:PAID",  # two repeated keys
    "owner:someone",  # not an invoice filter key
    "platform",  # no value
])  # fmt: skip
def test_unsupported_filters_are_rejected_with_a_problem(
    sim: DoitSimulator, expression: str
) -> None:
    response = get(sim, filter=expression)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_FIELDS and body["code"] == "validation_failed"


def test_creation_time_window_is_inclusive_in_milliseconds(sim: DoitSimulator) -> None:
    target = sim.visible("acme-inc")[10]
    at = target.created_ms
    exact, _ = walk(sim, minCreationTime=at, maxCreationTime=at)
    assert [inv["id"] for inv in exact] == [target.id]
    after, _ = walk(sim, minCreationTime=at + 1)
    before, _ = walk(sim, maxCreationTime=at - 1)
    ids = {inv["id"] for inv in after} | {inv["id"] for inv in before}
    assert target.id not in ids
    assert len(after) + len(before) == len(sim.visible("acme-inc")) - 1
    assert get(sim, minCreationTime="yesterday").status_code == 400


def test_page_tokens_are_opaque_bound_to_the_query_and_expire(sim: DoitSimulator) -> None:
    token = get(sim, maxResults=5).json()["pageToken"]
    assert "acme" not in token and not token.isdigit()
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert get(sim, pageToken=tampered).json()["code"] == "pagination_token_invalid"
    other_query = get(sim, pageToken=token, filter="status:PAID")
    assert other_query.json()["code"] == "pagination_token_invalid"
    assert get(sim, pageToken=token, maxResults=5).status_code == 200
    sim.advance(seconds=61)  # past token_ttl
    expired = get(sim, pageToken=token, maxResults=5)
    assert expired.status_code == 400
    assert expired.json()["code"] == "pagination_token_expired"
    assert expired.json()["title"] == "Expired pagination token"


def test_token_expired_fault_fires_only_on_a_paged_request(sim: DoitSimulator) -> None:
    sim.faults.add("token_expired", times=1)
    first = get(sim, maxResults=5)
    assert first.status_code == 200  # no pageToken: the fault waits
    assert get(sim, pageToken=first.json()["pageToken"], maxResults=5).json()["code"] == (
        "pagination_token_expired"
    )
    assert get(sim, pageToken=first.json()["pageToken"], maxResults=5).status_code == 200


@pytest.mark.parametrize(("headers", "params", "status", "code"), [
    ({}, {}, 401, "unauthorized"),
    ({"Authorization": "Bearer wrong"}, {}, 401, "unauthorized"),
    ({"Authorization": "Bearer no-viewer-key"}, {}, 403, "forbidden"),
    ({"Authorization": "Bearer multi-key"}, {}, 400, "tenant_id_required"),
    ({"Authorization": "Bearer multi-key", "X-Tenant-Id": "initech"}, {}, 400,
     "tenant_id_mismatch"),
    ({**AUTH, "X-Tenant-Id": "globex"}, {}, 400, "tenant_id_mismatch"),
    # customerContext counts only for legacy keys; other tokens ignore it
    ({"Authorization": "Bearer multi-key"}, {"customerContext": "globex"}, 400,
     "tenant_id_required"),
])  # fmt: skip
def test_auth_and_tenant_errors(
    sim: DoitSimulator, headers: dict, params: dict, status: int, code: str
) -> None:
    response = get(sim, headers=headers, **params)
    assert response.status_code == status
    assert response.json()["code"] == code
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_tenant_header_and_legacy_customer_context_select_the_tenant(sim: DoitSimulator) -> None:
    by_header = get(sim, headers={"Authorization": "Bearer multi-key", "X-Tenant-Id": "globex"})
    by_context = get(sim, headers={"Authorization": "Bearer legacy-key"},
                     customerContext="globex")  # fmt: skip
    globex = {inv.id for inv in sim.visible("globex")}
    assert {inv["id"] for inv in by_header.json()["invoices"]} <= globex
    assert by_header.json()["invoices"] == by_context.json()["invoices"]


def test_validate_reports_domain_and_uses_the_legacy_error_shape(sim: DoitSimulator) -> None:
    assert get(sim, "/auth/v1/validate").json() == {
        "domain": "acme.example",
        "email": "api@example.com",
    }
    refused = get(sim, "/auth/v1/validate", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401 and refused.json() == {"error": "Invalid API key"}


def test_legacy_error_configuration() -> None:
    with DoitSimulator(DoitSimConfig(legacy_errors=True)) as simulator:
        response = get(simulator, headers={})
    assert response.status_code == 401 and set(response.json()) == {"error"}


def test_invoice_detail_has_line_items_with_exact_numbers(sim: DoitSimulator) -> None:
    gcp = next(inv for inv in sim.visible("acme-inc") if inv.platform == "google-cloud")
    response = get(sim, f"{LIST}/{gcp.id}")
    body = response.json(parse_float=Decimal)
    assert set(body) == SUMMARY_FIELDS | {"lineItems"}
    assert body["totalAmount"] == gcp.total
    assert '"qty": 3, "price": 0.1' in response.text  # no 0.30000000000000004 on the wire
    for line in body["lineItems"]:
        assert set(line) - {"currency"} == {"type", "description", "details", "qty", "price"}
    lines_total = sum(Decimal(line["qty"]) * line["price"] for line in body["lineItems"])
    assert abs(lines_total - body["totalAmount"]) <= Decimal("0.01") * len(body["lineItems"])
    assert get(sim, f"{LIST}/IN000").status_code == 404
    globex_id = sim.visible("globex")[0].id
    assert get(sim, f"{LIST}/{globex_id}").status_code == 404  # another tenant's invoice


def test_data_is_multi_platform_multi_currency_with_credits_taxes_and_odd_text(
    sim: DoitSimulator,
) -> None:
    invoices = sim.invoices
    assert {inv.platform for inv in invoices} >= {
        "google-cloud", "amazon-web-services", "microsoft-azure", "g-suite", "office-365",
        "looker", "perfectscale"}  # fmt: skip
    assert {inv.currency for inv in invoices} >= {"USD", "EUR", "GBP", "JPY", "ILS"}
    lines = [line for inv in invoices for line in inv.lines]
    assert any(line.price < 0 for line in lines) and any(line.type == "tax" for line in lines)
    assert any(line.description.startswith(("=", "+", "-", "@")) for line in lines)
    assert any(not line.details.isascii() for line in lines)


def test_time_moves_statuses_balances_and_posts_new_invoices(sim: DoitSimulator) -> None:
    before = {inv["id"]: inv for inv in walk(sim)[0]}
    seen: dict[str, list[str]] = {i: [inv["status"]] for i, inv in before.items()}
    for _ in range(8):  # 40 days in 5-day steps
        sim.advance(days=5)
        for invoice in walk(sim)[0]:
            history = seen.setdefault(invoice["id"], [])
            if not history or history[-1] != invoice["status"]:
                history.append(invoice["status"])
    after = {inv["id"]: inv for inv in walk(sim)[0]}
    assert set(after) > set(before)  # December's invoices were posted after month end
    transitions = {(a, b) for history in seen.values() for a, b in pairwise(history)}
    assert {("OPEN", "PAID"), ("OPEN", "PAST DUE"), ("PAST DUE", "PAID")} <= transitions
    assert all(after[i]["balanceAmount"] <= before[i]["balanceAmount"] for i in before)
    assert any(after[i]["balanceAmount"] < before[i]["balanceAmount"] for i in before)
    assert all(inv["balanceAmount"] == 0 for inv in after.values() if inv["status"] == "PAID")


def test_faults_429_without_retry_after_and_524_from_the_proxy(sim: DoitSimulator) -> None:
    sim.faults.add("429")
    sim.faults.add("524")
    limited = get(sim)
    assert limited.status_code == 429 and "retry-after" not in limited.headers
    assert limited.json()["code"] == "rate_limited" and limited.json()["retryable"] is True
    proxy = get(sim)
    assert proxy.status_code == 524 and proxy.text.startswith("<!DOCTYPE html>")
    assert get(sim).status_code == 200
    assert [r.status for r in sim.requests] == [429, 524, 200]
    with pytest.raises(ValueError):
        sim.faults.add("418")


def test_module_serves_in_the_foreground() -> None:
    child = subprocess.Popen([sys.executable, "-m", "api.simulators.doit", "--port", "0"],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        url = line.split()[1]
        assert line.startswith("serving http://127.0.0.1:")
        response = httpx.get(url + LIST, headers=AUTH, timeout=5)
        assert response.status_code == 200 and response.json()["invoices"]
    finally:
        child.terminate()
        child.wait(timeout=5)
