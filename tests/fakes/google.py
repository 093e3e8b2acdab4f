"""The fake Google's core: one Flask app on loopback, call log, faults, discovery-checked requests.

Service modules (google_sheets, google_drive, google_oauth) add routes with `api_route`, which
records every call, applies switchable faults, checks the request against the discovery
document bundled with google-api-python-client (a malformed request gets Google's 400), and
can drop the connection after a write was applied. Handlers run under `fake.lock`.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import flask
import googleapiclient
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

DISCOVERY_DIR = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
DOCUMENTS = {"sheets": "sheets.v4.json", "drive": "drive.v3.json"}

# Method ids that only read, although some are POSTs (searches, data-filter reads, token).
READ_METHODS = frozenset({
    "sheets.spreadsheets.get", "sheets.spreadsheets.values.get",
    "sheets.spreadsheets.values.batchGet", "sheets.spreadsheets.developerMetadata.search",
    "sheets.spreadsheets.developerMetadata.get", "sheets.spreadsheets.getByDataFilter",
    "sheets.spreadsheets.values.batchGetByDataFilter", "drive.files.get", "drive.files.list",
    "drive.files.generateIds", "oauth2.token", "oauth2.tokeninfo",
})  # fmt: skip


@dataclass
class Call:
    """One request the fake received (headers are not kept: they carry the token)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int = 0
    method_id: str = ""
    dropped: bool = False

    @property
    def is_write(self) -> bool:
        return self.method != "GET" and self.method_id not in READ_METHODS


class CallLog(list[Call]):
    def writes(self) -> list[Call]:
        return [call for call in self if call.is_write]

    def reads(self) -> list[Call]:
        return [call for call in self if not call.is_write and call.method_id != "oauth2.token"]

    def of(self, method_id: str) -> list[Call]:
        return [call for call in self if call.method_id == method_id]


FAULT_KINDS = frozenset(
    {"429", "500", "403_permission", "403_storage_quota", "404", "slow", "drop_after_apply"}
)


@dataclass
class Fault:
    kind: str
    method: str | None
    path_regex: str
    times: int
    delay: float = 0.0
    retry_after: str | None = "1"

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return re.search(self.path_regex, path) is not None


class Faults:
    """Switchable faults: each matching request consumes one of `times`."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.fired: list[tuple[str, str, str]] = []  # (kind, method, path)

    def add(
        self,
        kind: str,
        method: str | None = None,
        path_regex: str = ".*",
        times: int = 1,
        *,
        delay: float = 0.0,
        retry_after: str | None = "1",
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        fault = Fault(kind, method, path_regex, times, delay, retry_after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    self.fired.append((fault.kind, method, path))
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        return [fault for fault in self._faults if fault.times > 0]


# -- Google's error bodies -------------------------------------------------------------------

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip


def google_error(
    code: int,
    message: str,
    status: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> flask.Response:
    """Google's JSON error body: `{"error": {"code", "message", "status", ["errors"], ...}}`."""
    error: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:  # Drive v3 (and other older APIs) also send the legacy list
        error["errors"] = errors
    error["status"] = status or _STATUS.get(code, "UNKNOWN")
    if details:
        error["details"] = details
    response = flask.Response(
        json.dumps({"error": error}, indent=2) + "\n",
        status=code,
        content_type="application/json; charset=UTF-8",
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _is_drive(path: str) -> bool:
    return path.startswith(("/drive/", "/upload/drive/"))


def fault_response(fault: Fault, path: str) -> flask.Response:
    """The response a real Google service gives for `fault`, shaped after recorded traffic."""
    drive = _is_drive(path)
    if fault.kind == "429":
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        if drive:
            message = "Rate Limit Exceeded"
            return google_error(429, message, errors=[
                {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": message}],
                headers=headers)  # fmt: skip
        return google_error(
            429,
            "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per "
            "minute per user' of service 'sheets.googleapis.com' for consumer "
            "'project_number:000000000000'.",
            details=[{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
                "metadata": {"quota_metric": "sheets.googleapis.com/write_requests",
                             "quota_limit": "WriteRequestsPerMinutePerUser",
                             "quota_limit_value": "60", "service": "sheets.googleapis.com",
                             "consumer": "projects/000000000000", "quota_location": "global"}}],
            headers=headers,
        )  # fmt: skip
    if fault.kind == "500":
        if drive:
            return google_error(
                500,
                "Internal Error",
                errors=[
                    {"domain": "global", "reason": "backendError", "message": "Internal Error"}
                ],
            )
        return google_error(500, "Internal error encountered.")
    if fault.kind == "403_permission":
        if drive:
            message = "The user does not have sufficient permissions for this file."
            return google_error(403, message, errors=[
                {"domain": "global", "reason": "insufficientFilePermissions",
                 "message": message}])  # fmt: skip
        return google_error(403, "The caller does not have permission")
    if fault.kind == "403_storage_quota":
        message = ("Service Accounts do not have storage quota. Leverage shared drives "
                   "(https://developers.google.com/workspace/drive/api/guides/about-shareddrives),"
                   " or use OAuth delegation instead.")  # fmt: skip
        return google_error(
            403,
            message,
            errors=[
                {"domain": "usageLimits", "reason": "storageQuotaExceeded", "message": message}
            ],
        )
    if fault.kind == "404":
        if drive:
            message = "File not found: ."
            return google_error(404, message, errors=[
                {"domain": "global", "reason": "notFound", "message": message,
                 "locationType": "parameter", "location": "fileId"}])  # fmt: skip
        return google_error(404, "Requested entity was not found.")
    raise ValueError(f"fault {fault.kind} has no response")


UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


# -- discovery-document validation -----------------------------------------------------------


class InvalidRequest(Exception):
    """A request the real API would refuse with 400 INVALID_ARGUMENT."""


@cache
def discovery(service: str) -> dict[str, Any]:
    return json.loads((DISCOVERY_DIR / DOCUMENTS[service]).read_text())


@cache
def _methods(service: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(resources: Mapping[str, Any]) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                found[method["id"]] = method
            walk(resource.get("resources", {}))

    walk(discovery(service)["resources"])
    return found


def method_spec(method_id: str) -> dict[str, Any] | None:
    service = method_id.split(".", 1)[0]
    if service not in DOCUMENTS:
        return None
    return _methods(service).get(method_id)


def validate(service: str, method_id: str, params: Mapping[str, Any], body: Any) -> None:
    """Raise InvalidRequest unless `params` (query) and `body` fit the discovery document."""
    doc = discovery(service)
    method = _methods(service).get(method_id)
    if method is None:
        raise InvalidRequest(f"Method {method_id} is not part of {service}")
    known = {**doc.get("parameters", {}), **method.get("parameters", {})}
    for name, raw in params.items():
        spec = known.get(name)
        if spec is None or spec.get("location") == "path":
            raise InvalidRequest(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                f"parameter. Field '{name}' could not be found in request message."
            )
        values = raw if isinstance(raw, list) else [raw]
        if len(values) > 1 and not spec.get("repeated"):
            raise InvalidRequest(f"Invalid value for {name}: repeated values for a single field")
        for value in values:
            _check_param(name, spec, value)
    request_ref = method.get("request", {}).get("$ref")
    if request_ref is None:
        if body not in (None, b"", {}):
            raise InvalidRequest("Invalid JSON payload received. This method takes no body.")
        return
    if body is None:
        return  # an empty body is an empty message
    _check_value(doc, {"$ref": request_ref}, body, "")


def _check_param(name: str, spec: Mapping[str, Any], value: str) -> None:
    kind = spec.get("type")
    if "enum" in spec and value not in spec["enum"]:
        raise InvalidRequest(f"Invalid value at '{name}' (TYPE_ENUM), \"{value}\"")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        raise InvalidRequest(f"Invalid value at '{name}' (TYPE_INT32), \"{value}\"")
    if kind == "boolean" and value.lower() not in ("true", "false"):
        raise InvalidRequest(f"Invalid value at '{name}' (TYPE_BOOL), \"{value}\"")


def _check_value(doc: Mapping[str, Any], schema: Mapping[str, Any], value: Any, at: str) -> None:
    if value is None:
        return  # proto3 JSON: null means the default
    if "$ref" in schema:
        schema = doc["schemas"][schema["$ref"]]
    kind = schema.get("type")
    where = at or "(root)"
    if kind == "object":
        if not isinstance(value, dict):
            raise InvalidRequest(f"Invalid value at '{where}': expected an object")
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            path = f"{at}.{key}" if at else key
            if properties and key in properties:
                _check_value(doc, properties[key], item, path)
            elif extra is not None:
                _check_value(doc, extra, item, path)
            else:
                raise InvalidRequest(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                    "Cannot find field."
                )
    elif kind == "array":
        if not isinstance(value, list):
            raise InvalidRequest(f"Invalid value at '{where}': expected a list")
        for index, item in enumerate(value):
            _check_value(doc, schema.get("items", {}), item, f"{at}[{index}]")
    elif kind == "string":
        integral = schema.get("format") in ("int64", "uint64")
        if not (isinstance(value, str) or (integral and _is_int(value))):
            raise InvalidRequest(f"Invalid value at '{where}' (TYPE_STRING), {value!r}")
        if "enum" in schema and value not in schema["enum"]:
            raise InvalidRequest(f"Invalid value at '{where}' (TYPE_ENUM), \"{value}\"")
    elif kind == "integer":
        if not (_is_int(value) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value))):
            raise InvalidRequest(f"Invalid value at '{where}' (TYPE_INT32), {value!r}")
    elif kind == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | str)
            or (isinstance(value, str) and not _is_number_text(value))
        ):
            raise InvalidRequest(f"Invalid value at '{where}' (TYPE_DOUBLE), {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidRequest(f"Invalid value at '{where}' (TYPE_BOOL), {value!r}")


def _is_number_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- the server ------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        pass


Handler = Callable[..., Any]


@dataclass
class FakeGoogle:
    """Sheets, Drive, uploads and the OAuth token endpoint on one loopback port."""

    app: flask.Flask = field(default_factory=lambda: flask.Flask("fake_google"))
    calls: CallLog = field(default_factory=CallLog)
    faults: Faults = field(default_factory=Faults)
    lock: threading.RLock = field(default_factory=threading.RLock)
    url: str = ""
    # Which bearer tokens the APIs accept; google_oauth may install a stricter check.
    authorize: Callable[[str], bool] = lambda token: bool(token)
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> str:
        self._server = make_server(
            "127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def validate(self, service: str, method_id: str, params: dict[str, Any], body: Any) -> None:
        validate(service, method_id, params, body)

    def api_route(
        self,
        method_id: str,
        *,
        rule: str | None = None,
        methods: Iterable[str] | None = None,
        upload: bool = False,
        check: bool = True,
        auth: bool = True,
    ) -> Callable[[Handler], Handler]:
        """Register a handler for a discovery method (rule and HTTP method derived from it).

        `upload=True` serves the method's media-upload path; `check=False` leaves body
        validation to the handler (multipart bodies); non-Google routes pass `rule`.
        """
        spec = method_spec(method_id)
        if rule is None:
            if spec is None:
                raise ValueError(f"{method_id} is not in a discovery document: pass rule=")
            rule = _rule_for(method_id, spec, upload)
        verbs = list(methods or ([spec["httpMethod"]] if spec else ["GET"]))
        service = method_id.split(".", 1)[0]

        def decorator(handler: Handler) -> Handler:
            def view(**path_params: str) -> Any:
                return self._serve(service, method_id, spec, handler, path_params, check, auth)

            view.__name__ = f"{method_id}:{rule}"
            self.app.add_url_rule(rule, endpoint=view.__name__, view_func=view, methods=verbs)
            return handler

        return decorator

    def _serve(
        self,
        service: str,
        method_id: str,
        spec: Mapping[str, Any] | None,
        handler: Handler,
        path_params: dict[str, str],
        check: bool,
        auth: bool,
    ) -> flask.Response:
        request = flask.request
        query = {key: request.args.getlist(key) for key in request.args}
        body = _body(request)
        call = Call(request.method, request.path, query, body, method_id=method_id)
        fault = self.faults.take(request.method, request.path)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
            fault = None
        response: flask.Response
        if auth and not self.authorize(_bearer(request.headers.get("Authorization", ""))):
            response = google_error(401, UNAUTHENTICATED)
        elif fault is not None and fault.kind != "drop_after_apply":
            response = fault_response(fault, request.path)
        else:
            try:
                if spec is not None:
                    self.validate(service, method_id, _flat(query), body if check else None)
                with self.lock:
                    response = flask.make_response(handler(**path_params))
            except InvalidRequest as exc:
                response = google_error(400, str(exc))
            if fault is not None:  # drop_after_apply: the write happened, the answer is lost
                call.dropped = True
                _drop_connection(request)
        call.status = response.status_code
        self.calls.append(call)
        return response


def _flat(query: Mapping[str, list[str]]) -> dict[str, Any]:
    return {key: values if len(values) > 1 else values[0] for key, values in query.items()}


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _body(request: flask.Request) -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        return None
    if request.mimetype == "application/json":
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _drop_connection(request: flask.Request) -> None:
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _rule_for(method_id: str, spec: Mapping[str, Any], upload: bool) -> str:
    service = method_id.split(".", 1)[0]
    if upload:
        return str(spec["mediaUpload"]["protocols"]["simple"]["path"])
    doc = discovery(service)
    path = doc.get("servicePath", "") + spec.get("flatPath", spec["path"])

    def converter(match: re.Match[str]) -> str:
        name = match.group(1).lstrip("+")
        # A1 ranges may hold '/' (a sheet title) and file paths may too.
        return (
            f"<path:{name}>"
            if name in ("range",) or match.group(1).startswith("+")
            else (f"<{name}>")
        )

    return "/" + re.sub(r"\{([+]?\w+)\}", converter, path)


def make_fake_google(register: Iterable[Callable[[FakeGoogle], None]]) -> FakeGoogle:
    """A fake with the routes of each service module's `register(fake)`; call start()."""
    fake = FakeGoogle()
    for add_routes in register:
        add_routes(fake)
    return fake
