"""Task endpoints and Sync now under real parallel HTTP, on SQLite and (TEST_DATABASE_URL)
PostgreSQL: one run per connection, one enqueue per schedule slot, redelivery never syncs twice."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import flask
import httpx
import pytest
from werkzeug.serving import make_server

from api.settings import Settings
from api.simulators.digitalocean import DigitalOceanSimulator
from api.web import create_app
from api.web.config import WebSettings
from tests.fakes.google import FakeGoogle
from tests.test_state_store import database_url  # noqa: F401 - SQLite and PostgreSQL
from tests.web.conftest import bearer
from tests.web.test_connections import ANN, RecordingQueue, consent, new_connection
from tests.web.tokens import Issuer


@pytest.fixture
def world(
    web_app_settings: Settings, web_settings: WebSettings, issuer: Issuer,
    fake_google: FakeGoogle, database_url: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The google-mode app on a real loopback HTTP server, Ann consented, one connection."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    queue = RecordingQueue()
    app = create_app(replace(web_app_settings, database_url=database_url), web_settings,
                     queue=queue)  # fmt: skip
    client = app.test_client()
    consent(client, issuer, fake_google, ANN)
    book = fake_google.sheets.create()  # type: ignore[attr-defined]
    user = bearer(issuer.user(sub=ANN))
    daily = {"frequency": "daily", "hour": 6, "time_zone": "Europe/Paris"}
    created = new_connection(client, user, book.id, schedule=daily)
    assert created.status_code == 201, created.get_json()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"app": app, "queue": queue, "user": user, "task": bearer(issuer.task()),
               "url": f"http://127.0.0.1:{server.server_port}",
               "connection": created.get_json()["connection"], "sheet": book.id}  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()


def together(n: int, call: Any) -> list[Any]:
    barrier = threading.Barrier(n)

    def go(_: int) -> Any:
        barrier.wait()
        return call()

    with cf.ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def test_twenty_concurrent_sync_now_make_one_run(world: dict[str, Any]) -> None:
    url = f"{world['url']}/v1/connections/{world['connection']['id']}/sync"
    with httpx.Client() as http:
        answers = together(20, lambda: http.post(url, headers=world["user"], json={}))
    assert [a.status_code for a in answers] == [202] * 20
    ids = {a.json()["run"]["id"] for a in answers}
    assert len(ids) == 1
    assert world["queue"].enqueued == list(ids)


def test_overlapping_and_retried_ticks_enqueue_once(world: dict[str, Any]) -> None:
    app: flask.Flask = world["app"]
    # The next 06:00 in Paris after the connection was made: its first daily slot is due.
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    app.extensions["billsync"].clock = lambda: tomorrow.replace(hour=8, minute=5)
    with httpx.Client() as http:
        answers = together(8, lambda: http.post(f"{world['url']}/tasks/tick",
                                                headers=world["task"]))  # fmt: skip
        assert [a.status_code for a in answers] == [200] * 8
        assert sum(a.json()["enqueued"] for a in answers) == 1
        retried = http.post(f"{world['url']}/tasks/tick", headers=world["task"])
    assert retried.json() == {"enqueued": 0}
    # Every tick hands a run still queued 10 minutes on to the queue again (a lost enqueue);
    # the queue refuses a second execution of one run id, so one run is what counts.
    assert len(set(world["queue"].enqueued)) == 1
    runs = app.extensions["billsync"].services.state.list_runs(world["connection"]["id"])
    assert [(r.trigger, r.status) for r in runs] == [("schedule", "queued")]


def test_user_tokens_are_refused_on_task_endpoints(world: dict[str, Any]) -> None:
    for path in ("/tasks/tick", "/tasks/runs/whatever"):
        response = httpx.post(world["url"] + path, headers=world["user"])
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    assert httpx.post(world["url"] + "/tasks/tick").status_code == 401


def test_a_delivery_runs_the_sync_into_the_sheet_and_a_redelivery_does_not(
    world: dict[str, Any], do_sim: DigitalOceanSimulator, fake_google: FakeGoogle
) -> None:
    queued = httpx.post(f"{world['url']}/v1/connections/{world['connection']['id']}/sync",
                        headers=world["user"]).json()["run"]  # fmt: skip
    delivered = httpx.post(f"{world['url']}/tasks/runs/{queued['id']}", headers=world["task"],
                           timeout=60)  # fmt: skip
    assert delivered.status_code == 200, delivered.text
    run = delivered.json()["run"]
    assert (run["id"], run["status"]) == (queued["id"], "succeeded"), run
    assert run["counts"]["new"] > 0 and run["started_at"] and run["finished_at"]
    invoices = fake_google.sheets.tab(world["sheet"], "Invoices").records()  # type: ignore[attr-defined]
    assert len(invoices) == run["counts"]["new"]
    provider_calls, sheet_writes = len(do_sim.requests), len(fake_google.calls.writes())
    again = httpx.post(f"{world['url']}/tasks/runs/{queued['id']}", headers=world["task"])
    assert again.status_code == 200 and again.json()["run"] == run
    assert (len(do_sim.requests), len(fake_google.calls.writes())) == (provider_calls,
                                                                       sheet_writes)  # fmt: skip
    polled = httpx.get(f"{world['url']}/v1/runs/{run['id']}", headers=world["user"]).json()
    assert polled["run"] == run


def test_an_unknown_run_delivery_is_404(world: dict[str, Any]) -> None:
    response = httpx.post(f"{world['url']}/tasks/runs/nope", headers=world["task"])
    assert response.status_code == 404


def test_a_revoked_grant_fails_the_run_with_reconnect_in_the_sidebar(
    world: dict[str, Any], fake_google: FakeGoogle
) -> None:
    for refresh in fake_google.oauth.refresh_tokens():  # type: ignore[attr-defined]
        fake_google.oauth.revoke(refresh)  # type: ignore[attr-defined]
    queued = httpx.post(f"{world['url']}/v1/connections/{world['connection']['id']}/sync",
                        headers=world["user"]).json()["run"]  # fmt: skip
    run = httpx.post(f"{world['url']}/tasks/runs/{queued['id']}", headers=world["task"],
                     timeout=60).json()["run"]  # fmt: skip
    assert run["status"] == "failed"
    assert "revoked" in run["message"] and "sidebar" in run["message"]
    assert "billsync google login" not in run["message"]


def test_sync_now_full_fetches_every_invoice_again_once(
    world: dict[str, Any], do_sim: DigitalOceanSimulator
) -> None:
    def sync(body: dict[str, Any]) -> dict[str, Any]:
        queued = httpx.post(f"{world['url']}/v1/connections/{world['connection']['id']}/sync",
                            headers=world["user"], json=body).json()["run"]  # fmt: skip
        before = len(do_sim.requests)
        run = httpx.post(f"{world['url']}/tasks/runs/{queued['id']}", headers=world["task"],
                         timeout=60).json()["run"]  # fmt: skip
        assert run["status"] == "succeeded", run
        fetched = [p for p in do_sim.requests.paths()[before:] if p.count("/") > 4]
        return {"run": run, "fetched": fetched}

    first = sync({})
    assert first["run"]["counts"]["new"] > 0 and first["fetched"]
    assert sync({})["fetched"] == []  # nothing new: only the list
    full = sync({"full": True})
    assert len(full["fetched"]) >= len(first["fetched"]) and full["run"]["counts"]["new"] == 0
    assert sync({})["fetched"] == []  # the full request was taken by one run


def test_a_full_sync_that_failed_midway_is_still_full_when_it_runs_again(
    world: dict[str, Any], do_sim: DigitalOceanSimulator
) -> None:
    def run_task(body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        queued = httpx.post(f"{world['url']}/v1/connections/{world['connection']['id']}/sync",
                            headers=world["user"], json=body).json()["run"]  # fmt: skip
        before = len(do_sim.requests)
        run = httpx.post(f"{world['url']}/tasks/runs/{queued['id']}", headers=world["task"],
                         timeout=60).json()["run"]  # fmt: skip
        return run, [p for p in do_sim.requests.paths()[before:] if p.count("/") > 4]

    first, fetched = run_task({})
    assert first["status"] == "succeeded" and fetched
    do_sim.faults.add("401", times=1)  # the full run dies before it fetched anything
    failed, _ = run_task({"full": True})
    assert failed["status"] == "failed"

    again, refetched = run_task({})  # the next run takes the full request left standing
    assert again["status"] == "succeeded" and len(refetched) >= len(fetched)
    assert run_task({})[1] == []  # and only once
