"""One JSON request log line per request, in Cloud Logging's shape, with the trace id.

The line carries the method, the path (never the query string: `code` and `state` of the
consent callback live there), the status and the latency; never a header, so never a token.
The trace comes from `X-Cloud-Trace-Context: TRACE/SPAN;o=1` (cloud.google.com/trace/docs/
trace-context) as `projects/<project>/traces/<TRACE>`, which Cloud Logging groups requests by.
Source of the field names: cloud.google.com/logging/docs/structured-logging.
"""

from __future__ import annotations

import re
import time

import flask

from api import logs

log = logs.get("web.request")
_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/|$)")


def trace_of(header: str | None, project: str | None) -> str | None:
    match = _TRACE.match(header or "")
    if not match:
        return None
    trace = match.group(1).lower()
    return f"projects/{project}/traces/{trace}" if project else trace


def register(app: flask.Flask, project: str | None) -> None:
    @app.before_request
    def _begin() -> None:
        flask.g.started = time.perf_counter()
        flask.g.trace_token = logs.trace_id.set(
            trace_of(flask.request.headers.get("X-Cloud-Trace-Context"), project)
        )

    @app.after_request
    def _log(response: flask.Response) -> flask.Response:
        started = flask.g.get("started", time.perf_counter())
        request = flask.request
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={"fields": {"httpRequest": {
                "requestMethod": request.method,
                "requestUrl": request.path,
                "status": response.status_code,
                "latency": f"{time.perf_counter() - started:.6f}s",
                "responseSize": str(response.calculate_content_length() or 0),
                "protocol": request.environ.get("SERVER_PROTOCOL", ""),
            }}},
        )  # fmt: skip
        return response

    @app.teardown_request
    def _end(_error: BaseException | None) -> None:
        token = flask.g.pop("trace_token", None)
        if token is not None:
            logs.trace_id.reset(token)
