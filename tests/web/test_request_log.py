"""Request logs: Cloud Logging JSON with the trace id, no query string, no token."""

from __future__ import annotations

import json
from typing import Any

from tests.web.conftest import bearer
from tests.web.tokens import Issuer

TRACE = "105445aa7843bc8bf206b12000100000"


def test_a_request_log_line_in_cloud_loggings_shape(
    client: Any, issuer: Issuer, log_lines: list[str], app: Any
) -> None:
    token = issuer.user()
    response = client.get("/v1/me?code=4/0Asecret&state=abc", headers={
        **bearer(token), "X-Cloud-Trace-Context": f"{TRACE}/1;o=1"})  # fmt: skip
    assert response.status_code == 200
    entries = [json.loads(line) for line in log_lines]
    request = [e for e in entries if "httpRequest" in e]
    assert len(request) == 1
    entry = request[0]
    assert entry["severity"] == "INFO"
    assert entry["logging.googleapis.com/trace"] == TRACE
    assert entry["httpRequest"]["requestMethod"] == "GET"
    assert entry["httpRequest"]["requestUrl"] == "/v1/me"
    assert entry["httpRequest"]["status"] == 200
    assert entry["httpRequest"]["latency"].endswith("s")
    for line in log_lines:
        assert token not in line and "4/0Asecret" not in line and "state=" not in line


def test_the_trace_names_the_project_when_it_is_known() -> None:
    from api.web.requestlog import trace_of

    assert trace_of(f"{TRACE}/1;o=1", "acme") == f"projects/acme/traces/{TRACE}"
    assert trace_of("garbage", "acme") is None
    assert trace_of(None, None) is None


def test_an_unexpected_error_is_a_generic_500_with_details_only_in_the_log(
    app: Any, log_lines: list[str]
) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("internal detail dop_v1_" + "ab" * 32)

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"]["code"] == "internal" and body["error"]["retryable"] is True
    assert "internal detail" not in response.get_data(as_text=True)
    errors = [json.loads(line) for line in log_lines if '"ERROR"' in line]
    assert errors and "RuntimeError" in errors[0]["exception"]
    assert "ab" * 32 not in errors[0]["exception"]


def test_the_wsgi_entry_logs_requests_as_json_on_stdout(
    tmp_path: Any, monkeypatch: Any, capsys: Any
) -> None:
    import logging

    from api.wsgi import app_from_env

    monkeypatch.setenv("BILLSYNC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BILLSYNC_LOCAL_KEY", "k" * 32)
    for name in ("BILLSYNC_AUTH", "BILLSYNC_TASKS_QUEUE", "DATABASE_URL", "BILLSYNC_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    logger = logging.getLogger("billsync")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    try:
        app = app_from_env()
        response = app.test_client().get("/healthz?x=1", headers={
            "X-Cloud-Trace-Context": f"{TRACE}/1;o=1"})  # fmt: skip
        assert response.status_code == 200
        out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
        request = [line for line in out if "httpRequest" in line]
        assert request[0]["httpRequest"]["requestUrl"] == "/healthz"
        assert request[0]["logging.googleapis.com/trace"] == TRACE
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
