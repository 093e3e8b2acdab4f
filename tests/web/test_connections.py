"""Connections of a spreadsheet, per-sheet authorization with the user's own Google grant."""

from __future__ import annotations

from typing import Any

import flask
import pytest

from api.settings import Settings
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator
from api.web import create_app
from api.web.config import WebSettings
from tests.fakes.google import FakeGoogle
from tests.web.conftest import bearer
from tests.web.test_consent import approve, callback, start
from tests.web.tokens import Issuer

ANN, BOB = "1001", "2002"


class RecordingQueue:
    """A JobQueue that only remembers what it was asked to run."""

    def __init__(self) -> None:
        self.enqueued: list[str] = []

    def enqueue(self, run_id: str) -> None:
        self.enqueued.append(run_id)


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def app(
    web_app_settings: Settings, web_settings: WebSettings, queue: RecordingQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> flask.Flask:  # fmt: skip
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    return create_app(web_app_settings, web_settings, queue=queue)


def consent(client: Any, issuer: Issuer, fake_google: FakeGoogle, sub: str) -> None:
    query = start(client, issuer, sub=sub)
    assert callback(client, approve(fake_google, query, sub), query["state"]).status_code == 200


@pytest.fixture
def sheet(fake_google: FakeGoogle) -> str:
    """Ann's spreadsheet: the fake opens it for Ann only."""
    book = fake_google.sheets.create()  # type: ignore[attr-defined]
    fake_google.sheet_readers[book.id] = {ANN}  # type: ignore[attr-defined]
    return str(book.id)


@pytest.fixture
def ann(client: Any, issuer: Issuer, fake_google: FakeGoogle) -> dict[str, str]:
    consent(client, issuer, fake_google, ANN)
    return bearer(issuer.user(sub=ANN))


def new_connection(client: Any, auth: dict[str, str], sheet: str, **body: Any) -> Any:
    payload = {"provider": "digitalocean", "name": "acme", "token": DEMO_TOKEN, **body}
    return client.post(f"/v1/spreadsheets/{sheet}/connections", json=payload, headers=auth)


def test_connect_list_and_no_token_in_any_answer(
    client: Any, ann: dict[str, str], sheet: str, fake_google: FakeGoogle, log_lines: list[str]
) -> None:
    created = new_connection(
        client,
        ann,
        sheet,
        schedule={"frequency": "monthly", "day": 2, "hour": 7, "time_zone": "Europe/Paris"},
    )
    assert created.status_code == 201, created.get_json()
    connection = created.get_json()["connection"]
    assert connection["spreadsheet_id"] == sheet and connection["name"] == "acme"
    assert connection["provider"] == "digitalocean" and connection["account"]
    assert connection["fingerprint"].startswith("dop_v1_") and connection["last_run"] is None
    assert connection["schedule"] == {"frequency": "monthly", "hour": 7, "day": 2,
                                      "time_zone": "Europe/Paris"}  # fmt: skip
    folder = connection["drive_folder_id"]
    assert folder and fake_google.drive.files[folder]["name"] == "billsync archive (acme)"  # type: ignore[attr-defined]
    listed = client.get(f"/v1/spreadsheets/{sheet}/connections", headers=ann).get_json()
    assert listed == {"connections": [connection]}
    for text in [created.get_data(as_text=True), str(listed), *log_lines]:
        assert DEMO_TOKEN not in text
        assert DEMO_TOKEN[7:] not in text


def test_bad_token_is_422_and_a_duplicate_name_409(
    client: Any, ann: dict[str, str], sheet: str
) -> None:
    bad = new_connection(client, ann, sheet, token="dop_v1_" + "0" * 64)
    assert bad.status_code == 422
    assert bad.get_json()["error"]["code"] == "provider_auth"
    assert "0" * 64 not in bad.get_data(as_text=True)
    assert new_connection(client, ann, sheet).status_code == 201
    again = new_connection(client, ann, sheet)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "name_taken"


def test_another_users_sheet_is_403(
    client: Any, ann: dict[str, str], sheet: str, issuer: Issuer, fake_google: FakeGoogle
) -> None:
    connection = new_connection(client, ann, sheet).get_json()["connection"]
    consent(client, issuer, fake_google, BOB)
    bob = bearer(issuer.user(sub=BOB, email="bob@example.com"))
    for method, path in [
        ("get", f"/v1/spreadsheets/{sheet}/connections"),
        ("patch", f"/v1/connections/{connection['id']}"),
        ("delete", f"/v1/connections/{connection['id']}"),
        ("post", f"/v1/connections/{connection['id']}/sync"),
        ("get", f"/v1/connections/{connection['id']}/runs"),
    ]:
        response = getattr(client, method)(path, headers=bob, json={} if method != "get" else None)
        assert response.status_code == 403, (method, path)
        assert response.get_json()["error"]["code"] == "forbidden"
    posted = new_connection(client, bob, sheet, name="mine")
    assert posted.status_code == 403


def test_a_sheet_google_refuses_and_one_that_does_not_exist_look_the_same(
    client: Any, ann: dict[str, str], fake_google: FakeGoogle
) -> None:
    other = fake_google.sheets.create()  # type: ignore[attr-defined]
    fake_google.sheet_readers[other.id] = {"somebody-else"}  # type: ignore[attr-defined]
    refused = client.get(f"/v1/spreadsheets/{other.id}/connections", headers=ann)
    missing = client.get("/v1/spreadsheets/NoSuchSheet0123456789/connections", headers=ann)
    assert refused.status_code == missing.status_code == 403
    assert refused.get_json() == missing.get_json()


def test_before_consent_connection_endpoints_answer_409(
    client: Any, issuer: Issuer, sheet: str
) -> None:
    response = client.get(f"/v1/spreadsheets/{sheet}/connections", headers=bearer(issuer.user()))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "google_not_connected"


def test_access_is_asked_of_google_once_per_ttl(
    client: Any, ann: dict[str, str], sheet: str, fake_google: FakeGoogle
) -> None:
    for _ in range(3):
        assert client.get(f"/v1/spreadsheets/{sheet}/connections", headers=ann).status_code == 200
    gets = [c for c in fake_google.calls.of("sheets.spreadsheets.get") if sheet in c.path]
    assert len(gets) == 1 and gets[0].query["fields"] == ["spreadsheetId"]


def test_patch_and_delete(client: Any, ann: dict[str, str], sheet: str, app: flask.Flask) -> None:
    connection = new_connection(client, ann, sheet).get_json()["connection"]
    path = f"/v1/connections/{connection['id']}"
    weekly = {"frequency": "weekly", "weekday": 0, "hour": 6, "time_zone": "UTC"}
    patched = client.patch(
        path, headers=ann, json={"name": "acme eu", "include_preview": False, "schedule": weekly}
    )
    assert patched.status_code == 200, patched.get_json()
    body = patched.get_json()["connection"]
    assert (body["name"], body["include_preview"]) == ("acme eu", False)
    assert body["schedule"] == {"frequency": "weekly", "hour": 6, "weekday": 0, "time_zone": "UTC"}
    assert new_connection(client, ann, sheet, name="other").status_code == 201
    taken = client.patch(path, headers=ann, json={"name": "other"})
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "name_taken"
    bad = client.patch(path, headers=ann, json={"schedule": {"frequency": "weekly", "hour": 6}})
    assert bad.status_code == 400 and "weekday" in bad.get_json()["error"]["message"]
    state = app.extensions["billsync"].services.state
    secrets = app.extensions["billsync"].services.secrets
    ref = state.get_connection(connection["id"]).secret_ref
    assert secrets.get(ref) == DEMO_TOKEN
    assert client.delete(path, headers=ann).status_code == 204
    from api.errors import SecretError

    with pytest.raises(SecretError):
        secrets.get(ref)
    assert client.delete(path, headers=ann).status_code == 404


def test_sync_now_queues_once_and_answers_with_the_active_run(
    client: Any, ann: dict[str, str], sheet: str, queue: RecordingQueue
) -> None:
    connection = new_connection(client, ann, sheet).get_json()["connection"]
    first = client.post(f"/v1/connections/{connection['id']}/sync", headers=ann)
    second = client.post(f"/v1/connections/{connection['id']}/sync", headers=ann, json={})
    assert first.status_code == second.status_code == 202
    run = first.get_json()["run"]
    assert second.get_json()["run"]["id"] == run["id"]
    assert run["status"] == "queued" and run["trigger"] == "sidebar"
    assert run["queued_at"] and run["started_at"] is None
    assert run["ledger_url"] == f"https://docs.google.com/spreadsheets/d/{sheet}/edit"
    assert queue.enqueued == [run["id"]]
    polled = client.get(f"/v1/runs/{run['id']}", headers=ann).get_json()["run"]
    assert polled == run
    runs = client.get(f"/v1/connections/{connection['id']}/runs?limit=5", headers=ann)
    assert runs.get_json()["runs"] == [run]
    assert client.get(f"/v1/connections/{connection['id']}/runs?limit=0",
                      headers=ann).status_code == 400  # fmt: skip


def test_an_unknown_connection_is_404(client: Any, ann: dict[str, str]) -> None:
    response = client.post("/v1/connections/nope/sync", headers=ann)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_connection_bodies_are_checked_without_echoing_them(
    client: Any, ann: dict[str, str], sheet: str
) -> None:
    for body in [{"provider": "aws", "name": "x", "token": "secret-ish-value"},
                 {"provider": "digitalocean", "name": "x"},
                 {"provider": "digitalocean", "name": "x", "token": "secret-ish-value",
                  "extra": 1}, [1, 2]]:  # fmt: skip
        response = client.post(f"/v1/spreadsheets/{sheet}/connections", json=body, headers=ann)
        assert response.status_code == 400, body
        assert "secret-ish-value" not in response.get_data(as_text=True)


def test_a_length_rule_counts_characters_in_good_grammar(
    client: Any, ann: dict[str, str], sheet: str
) -> None:
    empty = {"provider": "digitalocean", "name": "x", "token": ""}
    response = client.post(f"/v1/spreadsheets/{sheet}/connections", json=empty, headers=ann)

    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith(
        "'token' must be at least 1 character long."
    )


def test_a_revoked_grant_means_reconnect_google(
    web_app_settings: Settings, web_settings: WebSettings, issuer: Issuer,
    fake_google: FakeGoogle, sheet: str, queue: RecordingQueue, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    from dataclasses import replace

    app = create_app(web_app_settings, replace(web_settings, sheet_access_ttl=0), queue=queue)
    client = app.test_client()
    consent(client, issuer, fake_google, ANN)
    ann = bearer(issuer.user(sub=ANN))
    assert client.get(f"/v1/spreadsheets/{sheet}/connections", headers=ann).status_code == 200
    for refresh in fake_google.oauth.refresh_tokens():  # type: ignore[attr-defined]
        fake_google.oauth.revoke(refresh)  # type: ignore[attr-defined]
    response = client.get(f"/v1/spreadsheets/{sheet}/connections", headers=ann)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "google_not_connected"
    assert "again" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "token", ["tökén", "dop_v1_abc\r\nX-Evil: 1", "dop v1 abc", "\u0000\ud800", "dop_v1_\t1"]
)
def test_a_token_no_provider_issues_is_422_at_once_without_a_provider_call(
    client: Any, ann: dict[str, str], sheet: str, do_sim: DigitalOceanSimulator, token: str
) -> None:
    before = len(do_sim.requests)
    bad = new_connection(client, ann, sheet, token=token)
    assert bad.status_code == 422, bad.get_data(as_text=True)
    error = bad.get_json()["error"]
    assert error["code"] == "provider_auth" and error["retryable"] is False
    assert "characters no DigitalOcean token has" in error["message"]
    assert len(do_sim.requests) == before  # refused before anything was sent


def test_a_short_wrong_token_leaves_the_providers_message_readable(
    client: Any, ann: dict[str, str], sheet: str
) -> None:
    bad = new_connection(client, ann, sheet, token="a")
    assert bad.status_code == 422
    message = bad.get_json()["error"]["message"]
    assert "DigitalOcean rejected the token" in message and "[redacted]" not in message


def test_json_nested_past_the_decoders_depth_is_400_not_500(
    client: Any, ann: dict[str, str], sheet: str
) -> None:
    body = "[" * 20000 + "]" * 20000
    answer = client.post(
        f"/v1/spreadsheets/{sheet}/connections", data=body,
        headers={**ann, "Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "invalid_request"
