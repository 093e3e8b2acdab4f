"""Malformed DoiT payloads: a clear MalformedResponse naming the field and the invoice.

Real bodies come from the DoiT simulator; a loopback server replays them with one field spoiled.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from api.errors import MalformedResponse
from api.providers.doit import INVOICES_PATH, DoitProvider
from api.settings import HttpSettings
from api.simulators.doit import DEMO_KEY, DoitSimulator
from api.simulators.http_server import LoopbackServer

FAST = HttpSettings(timeout=5, max_attempts=1)


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    """One listing page and one invoice body, as the simulator serves them."""
    with DoitSimulator() as sim:
        headers = {"Authorization": f"Bearer {DEMO_KEY}"}
        with httpx.Client(base_url=sim.url, headers=headers) as client:
            listing = client.get(INVOICES_PATH, params={"maxResults": 5}).json()
            invoice_id = listing["invoices"][0]["id"]
            invoice = client.get(f"{INVOICES_PATH}/{invoice_id}").json()
    listing.pop("pageToken", None)
    listing["invoices"] = [
        item for item in listing["invoices"] if item["id"] == invoice_id
    ]  # one invoice, one page
    return {"listing": listing, "invoice": invoice, "id": invoice_id}


@pytest.fixture
def replay(recorded: dict[str, Any]) -> Iterator[Any]:
    servers: list[LoopbackServer] = []

    def start(listing: Any, invoice: Any) -> DoitProvider:
        def app(environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)
            body = listing if request.path == INVOICES_PATH else invoice
            return Response(json.dumps(body), 200, content_type="application/json")(
                environ, start_response
            )

        server = LoopbackServer(app)
        server.start()
        servers.append(server)
        return DoitProvider(DEMO_KEY, base_url=server.url, http=FAST)

    yield start
    for server in servers:
        server.stop()


def _spoil(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    spoiled = copy.deepcopy(body)
    target = spoiled
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return spoiled


def test_the_recorded_bodies_map_cleanly(replay, recorded) -> None:
    provider = replay(recorded["listing"], recorded["invoice"])
    [ref] = provider.list_invoices(first_sync=True)
    fetched = provider.fetch_invoice(ref, "acme")
    assert fetched.invoice.invoice_id == recorded["id"]
    assert fetched.lines


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("totalAmount",), "lots", "'totalAmount' that is not a number"),
        (("currency",), ["USD"], "'currency' that is not text"),
        (("invoiceDate",), "2024-01-01", "'invoiceDate' that is not milliseconds"),
        (("lineItems", 0), "a line", "is not a JSON object"),
    ],
)
def test_a_spoiled_invoice_field_is_named(replay, recorded, path, value, named) -> None:
    provider = replay(recorded["listing"], _spoil(recorded["invoice"], path, value))
    [ref] = provider.list_invoices(first_sync=True)
    with pytest.raises(MalformedResponse) as caught:
        provider.fetch_invoice(ref, "acme")
    assert named in str(caught.value)
    assert "DoiT sent an unexpected response" in str(caught.value)
    assert caught.value.action


def test_a_listing_that_is_not_an_object_is_malformed(replay, recorded) -> None:
    provider = replay(["not", "an", "object"], recorded["invoice"])
    with pytest.raises(MalformedResponse, match="not a JSON object"):
        provider.list_invoices(first_sync=True)
