"""Every body the DoiT simulator serves conforms to DoiT's official OpenAPI spec."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.simulators.doit import DEMO_KEY, INVOICE_VIEWER, DoitSimConfig, DoitSimulator
from tests.spec_check import conforms, response_schema

# The simulator serves one platform newer than the spec's enum on purpose (the API grows new
# platforms; clients must keep them): that value, and only it, may be off the enum.
NEWER_PLATFORM = "'perfectscale' not in enum"

LIST, ONE, VALIDATE = "/billing/v1/invoices", "/billing/v1/invoices/{id}", "/auth/v1/validate"
KEYS = {
    DEMO_KEY: {"tenant": "acme-inc", "permissions": [INVOICE_VIEWER], "domain": "acme.example"},
    "no-viewer-key": {"tenant": "acme-inc", "permissions": ["Billing Profiles Admin"]},
}


@pytest.fixture(scope="module")
def sim() -> Iterator[DoitSimulator]:
    with DoitSimulator(DoitSimConfig(keys=KEYS, months=6)) as simulator:
        yield simulator


def get(sim: DoitSimulator, path: str, key: str = DEMO_KEY, **params: object) -> httpx.Response:
    return httpx.get(sim.url + path, params=params, headers={"Authorization": f"Bearer {key}"})


def off_spec(errors: list[str]) -> list[str]:
    return [e for e in errors if not (".platform: " in e and e.endswith(NEWER_PLATFORM))]


def test_listing_pages_conform(sim: DoitSimulator) -> None:
    schema = response_schema("doit", LIST)
    body = get(sim, LIST, maxResults=3).json()
    errors: list[str] = []
    while True:
        errors += conforms(body, schema)
        if not body.get("pageToken"):
            break
        body = get(sim, LIST, maxResults=3, pageToken=body["pageToken"]).json()
    assert off_spec(errors) == []
    assert errors  # the newer platform was really served, and the checker saw it


def test_one_invoice_with_its_line_items_conforms(sim: DoitSimulator) -> None:
    invoice_id = get(sim, LIST, maxResults=1).json()["invoices"][0]["id"]
    body = get(sim, f"{LIST}/{invoice_id}").json()
    assert body["lineItems"]
    assert off_spec(conforms(body, response_schema("doit", ONE))) == []


def test_validate_conforms(sim: DoitSimulator) -> None:
    assert conforms(get(sim, VALIDATE).json(), response_schema("doit", VALIDATE)) == []


@pytest.mark.parametrize(("key", "params", "status"), [
    ("wrong", {}, "401"),
    ("no-viewer-key", {}, "403"),
    (DEMO_KEY, {"filter": "nonsense:[x]"}, "400"),
])  # fmt: skip
def test_problem_bodies_conform(sim: DoitSimulator, key: str, params: dict, status: str) -> None:
    response = get(sim, LIST, key=key, **params)
    assert str(response.status_code) == status
    assert response.headers["content-type"].startswith("application/problem+json")
    schema = sim_problem_schema(status)
    assert conforms(response.json(), schema) == []


def sim_problem_schema(status: str) -> dict:
    from tests.spec_check import spec

    response = spec("doit")["paths"][LIST]["get"]["responses"][status]
    return response["content"]["application/problem+json"]["schema"]  # type: ignore[no-any-return]


def test_the_checker_rejects_a_wrong_shape() -> None:
    schema = response_schema("doit", LIST)
    assert conforms({"invoices": [{"id": 1}]}, schema)  # id must be a string
