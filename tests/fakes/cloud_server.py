"""A loopback server for fakes of Google Cloud REST APIs: call log, switchable faults, and
Google's error body ({"error": {"code", "message", "status"}}, google.rpc.Status over HTTP)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """Raised by a fake's model; becomes Google's error body with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> flask.Response:
    body = {"error": {"code": status, "message": message, "status": STATUS_NAMES[status]}}
    response = flask.jsonify(body)
    response.status_code = status
    return response


@dataclass
class Call:
    """One request received (headers are not kept: they may carry a token)."""

    method: str
    path: str
    body: Any
    status: int = 0


@dataclass
class Fault:
    status: int  # 409, 429, 500, 503 ...
    path_contains: str
    times: int
    applied_first: bool = False  # apply the write, then fail (a lost response)


@dataclass
class Faults:
    items: list[Fault] = field(default_factory=list)

    def add(
        self, status: int, path_contains: str = "", *, times: int = 1, applied_first: bool = False
    ) -> None:
        self.items.append(Fault(status, path_contains, times, applied_first))

    def take(self, path: str) -> Fault | None:
        for fault in self.items:
            if fault.times > 0 and fault.path_contains in path:
                fault.times -= 1
                return fault
        return None


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        pass


class CloudFake:
    """Routes added by a service fake; every handler runs under `lock` against its model."""

    def __init__(self, name: str) -> None:
        self.app = flask.Flask(name)
        self.calls: list[Call] = []
        self.faults = Faults()
        self.lock = threading.RLock()
        self._server: BaseWSGIServer | None = None
        self.url = ""

    def route(self, rule: str, methods: list[str]) -> Callable[[Callable[..., Any]], Any]:
        def decorator(handler: Callable[..., Any]) -> Any:
            def view(**params: str) -> flask.Response:
                return self._serve(handler, params)

            view.__name__ = handler.__name__
            self.app.add_url_rule(rule, view_func=view, methods=methods)
            return handler

        return decorator

    def _serve(self, handler: Callable[..., Any], params: dict[str, str]) -> flask.Response:
        request = flask.request
        body = request.get_json(silent=True)
        call = Call(request.method, request.path, body)
        with self.lock:
            self.calls.append(call)
            fault = self.faults.take(request.path)
            try:
                if fault is not None and not fault.applied_first:
                    raise ApiError(fault.status, f"Injected fault {fault.status}.")
                answer = handler(body, **params)
                if fault is not None:
                    raise ApiError(fault.status, f"Injected fault {fault.status} after applying.")
            except ApiError as exc:
                call.status = exc.status
                return error_response(exc.status, exc.message)
        call.status = 200
        return flask.jsonify(answer)

    def start(self) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        self._server = make_server(
            "127.0.0.1", port, self.app, threaded=True, request_handler=_Quiet
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
